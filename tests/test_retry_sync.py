"""@retry: retry rules, errors, hooks, deadlines and fallbacks of the synchronous C loop."""
import threading

import pytest

from zenoo_retry import (
    ExponentialBackoffStrategy,
    FixedDelayStrategy,
    InvalidConfigurationError,
    MaxRetriesExceededError,
    RetryAttempt,
    RetryTimeoutError,
    retry,
    retry_with_fallback,
    retry_with_timeout,
)
from zenoo_retry import _core

from helpers import FakeClock, Flaky

NOJ = dict(strategy=ExponentialBackoffStrategy(jitter=False))


def test_success_first_time_is_a_single_call():
    f = Flaky(result=42)
    slept = []
    g = retry(max_attempts=5, sleep=slept.append)(f)
    assert g(1, b=2) == 42
    assert f.calls == 1 and f.args == [((1,), {"b": 2})] and slept == []


def test_retries_then_succeeds_with_exponential_delays():
    f = Flaky(ConnectionError("a"), ConnectionError("b"), result="done")
    slept = []
    g = retry(max_attempts=3, delay=0.5, backoff_multiplier=3.0, sleep=slept.append, **NOJ)(f)
    assert g() == "done"
    assert f.calls == 3 and slept == [0.5, 1.5]


def test_gives_up_with_max_retries_exceeded():
    errs = [TimeoutError(str(i)) for i in range(4)]
    f = Flaky(*errs)
    g = retry(max_attempts=4, delay=0, sleep=lambda s: None)(f)
    with pytest.raises(MaxRetriesExceededError) as ei:
        g()
    e = ei.value
    assert (e.max_attempts, e.attempts) == (4, 4)
    assert e.last_exception is errs[3] and e.__cause__ is errs[3]
    assert f.calls == 4


def test_reraise_raises_last_original_error():
    errs = [KeyError(1), KeyError(2)]
    g = retry(max_attempts=2, delay=0, reraise=True)(Flaky(*errs))
    with pytest.raises(KeyError) as ei:
        g()
    assert ei.value is errs[1]


def test_only_listed_exceptions_are_retried():
    f = Flaky(ValueError("bad input"))
    g = retry(max_attempts=5, delay=0, exceptions=(ConnectionError,))(f)
    with pytest.raises(ValueError, match="bad input"):
        g()
    assert f.calls == 1


def test_non_retryable_wins_over_retryable():
    f = Flaky(ConnectionRefusedError())
    g = retry(max_attempts=5, delay=0, exceptions=OSError, non_retryable_exceptions=ConnectionRefusedError)(f)
    with pytest.raises(ConnectionRefusedError):
        g()
    assert f.calls == 1


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3), GeneratorExit()])
def test_base_exceptions_are_never_retried_or_replaced(exc):
    f = Flaky(exc)
    g = retry(max_attempts=5, delay=0, exceptions=BaseException, fallback="fb")(f)
    with pytest.raises(type(exc)) as ei:
        g()
    assert ei.value is exc and f.calls == 1


def test_retry_condition_receives_exception_and_attempt():
    seen = []

    def cond(exc, attempt):
        seen.append((type(exc).__name__, attempt.number, attempt.max_attempts))
        return getattr(exc, "status_code", 0) in (429, 502, 503, 504)

    class HTTPError(Exception):
        def __init__(self, code):
            self.status_code = code

    f = Flaky(HTTPError(503), HTTPError(404))
    g = retry(max_attempts=5, delay=0, retry_condition=cond)(f)
    with pytest.raises(HTTPError) as ei:
        g()
    assert ei.value.status_code == 404
    assert seen == [("HTTPError", 1, 5), ("HTTPError", 2, 5)]


def test_condition_may_return_a_delay_capped_at_max_delay():
    slept = []
    f = Flaky(OSError(), OSError())
    g = retry(max_attempts=3, delay=1.0, max_delay=10.0, sleep=slept.append,
              retry_condition=lambda e, a: 2.5 if a.number == 1 else 99.0)(f)
    assert g() == "ok"
    assert slept == [2.5, 10.0]


def test_delay_hint_overrides_strategy():
    slept = []
    e = OSError()
    e.retry_after = 7.0
    g = retry(max_attempts=2, delay=1.0, max_delay=30, sleep=slept.append,
              delay_hint=lambda exc: getattr(exc, "retry_after", None))(Flaky(e))
    assert g() == "ok" and slept == [7.0]


def test_retry_on_result():
    f = Flaky(result=None)
    calls = {"n": 0}

    def produce():
        calls["n"] += 1
        return None if calls["n"] < 3 else "value"

    g = retry(max_attempts=5, delay=0, retry_on_result=lambda r: r is None)(produce)
    assert g() == "value" and calls["n"] == 3
    h = retry(max_attempts=2, delay=0, retry_on_result=lambda r: r is None)(f)
    with pytest.raises(MaxRetriesExceededError) as ei:
        h()
    assert ei.value.last_exception is None and ei.value.last_result is None and f.calls == 2
    k = retry(max_attempts=2, delay=0, reraise=True, retry_on_result=lambda r: r == 0)(lambda: 0)
    assert k() == 0


def test_on_retry_hook_sees_attempt_details():
    clock = FakeClock()
    seen = []
    f = Flaky(ConnectionError("x"), ConnectionError("y"))
    g = retry(max_attempts=3, delay=2.0, sleep=clock.sleep, clock=clock, on_retry=seen.append, **NOJ)(f)
    assert g() == "ok"
    assert [type(a) for a in seen] == [RetryAttempt, RetryAttempt]
    assert [(a.number, a.max_attempts, str(a.last_exception), a.next_delay) for a in seen] == [
        (1, 3, "x", 2.0), (2, 3, "y", 4.0)]
    assert seen[1].elapsed == 2.0 and seen[1].total_delay == 6.0


def test_hook_errors_propagate_chained_to_the_attempt_error():
    def hook(attempt):
        raise RuntimeError("hook broke")

    g = retry(max_attempts=3, delay=0, on_retry=hook)(Flaky(ConnectionError("net")))
    with pytest.raises(RuntimeError, match="hook broke"):
        g()
    cond = retry(max_attempts=3, delay=0, retry_condition=lambda e, a: 1 / 0)(Flaky(OSError("io")))
    with pytest.raises(ZeroDivisionError) as ei:
        cond()
    assert isinstance(ei.value.__context__, OSError)


def test_total_timeout_never_starts_a_sleep_past_the_deadline():
    clock = FakeClock()
    f = Flaky(*[ConnectionError(str(i)) for i in range(10)])
    g = retry(max_attempts=10, delay=4.0, timeout=10.0, sleep=clock.sleep, clock=clock,
              strategy=FixedDelayStrategy(delay=4.0))(f)
    with pytest.raises(RetryTimeoutError) as ei:
        g()
    # sleeps at 0->4, 4->8; the third would end at 12 > 10
    assert clock.sleeps == [4.0, 4.0] and f.calls == 3
    e = ei.value
    assert isinstance(e, TimeoutError) and e.timeout == 10.0 and e.elapsed == 8.0 and e.attempts == 3
    assert isinstance(e.__cause__, ConnectionError)


def test_zero_delay_never_calls_sleep():
    def boom(s):
        raise AssertionError("slept")

    g = retry(max_attempts=3, delay=0, sleep=boom)(Flaky(OSError(), OSError()))
    assert g() == "ok"


def test_fallback_value_and_factory():
    g = retry_with_fallback(fallback_value=[], max_attempts=2, base_delay=0)(Flaky(OSError(), OSError()))
    assert g() == []
    seen = []
    h = retry(max_attempts=1, fallback_factory=lambda e: seen.append(e) or "fresh")(Flaky(ValueError("v")))
    assert h() == "fresh" and isinstance(seen[0], MaxRetriesExceededError)
    assert isinstance(seen[0].last_exception, ValueError)


def test_on_give_up_called_once_with_final_error():
    calls = []
    g = retry(max_attempts=2, delay=0, on_give_up=lambda a, err: calls.append((a.number, type(err).__name__)))(
        Flaky(OSError(), OSError()))
    with pytest.raises(MaxRetriesExceededError):
        g()
    assert calls == [(2, "MaxRetriesExceededError")]


def test_retry_with_timeout_sync_uses_deadline():
    clock = FakeClock()
    g = retry_with_timeout(total_timeout=3.0, max_attempts=10, base_delay=1.0, sleep=clock.sleep, clock=clock,
                           strategy=FixedDelayStrategy(delay=1.0))(Flaky(*[OSError()] * 10))
    with pytest.raises(RetryTimeoutError):
        g()
    assert clock.sleeps == [1.0, 1.0, 1.0]


def test_many_threads_share_one_decorated_function():
    lock = threading.Lock()
    counts = {}

    @retry(max_attempts=3, delay=0)
    def work(i):
        with lock:
            counts[i] = counts.get(i, 0) + 1
            n = counts[i]
        if n < 3:
            raise ConnectionError(i)
        return i * 2

    results = []

    def run(base):
        for i in range(base, base + 200):
            results.append(work(i))

    threads = [threading.Thread(target=run, args=(k * 1000,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(i * 2 for k in range(8) for i in range(k * 1000, k * 1000 + 200))
    assert set(counts.values()) == {3}


def test_recursion_through_the_same_decorated_function():
    @retry(max_attempts=2, delay=0)
    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)

    assert fact(20) == 2432902008176640000


def test_invalid_arguments_name_parameter_and_value():
    with pytest.raises(InvalidConfigurationError, match="max_attempts") as ei:
        retry(max_attempts=0)
    assert ei.value.value == 0
    with pytest.raises(InvalidConfigurationError, match="delay") as ei:
        retry(delay=-1)
    assert ei.value.parameter == "delay"
    with pytest.raises(InvalidConfigurationError, match="backoff_multiplier"):
        retry(backoff_multiplier=0.1)
    with pytest.raises(InvalidConfigurationError, match="timeout"):
        retry(timeout=-5)
    with pytest.raises(TypeError, match="exceptions"):
        retry(exceptions="ValueError")
    with pytest.raises(TypeError, match="on_retry"):
        retry(on_retry=3)
    with pytest.raises(TypeError, match="policy"):
        retry(policy=3.5)
    with pytest.raises(InvalidConfigurationError, match="policy"):
        retry(policy="no-such-preset")
    with pytest.raises(TypeError, match="only callables"):
        retry()(42)


def test_retrying_is_a_c_callable_with_vectorcall():
    g = retry(max_attempts=2)(lambda x: x)
    assert type(g) is _core.Retrying
    assert g.func(3) == 3 and g.retry_spec.max_attempts == 2
