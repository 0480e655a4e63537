"""RetryMetrics: exact counters after scripted calls (sync, async, block form), sharing,
give-up reasons, cancellation, execute_with_metrics."""
import asyncio

import pytest

from zenoo_retry import (
    ExponentialBackoffStrategy,
    FixedDelayStrategy,
    MaxRetriesExceededError,
    RetryMetrics,
    RetryPolicy,
    RetryTimeoutError,
    async_execute_with_metrics,
    async_retry,
    attempts,
    execute_with_metrics,
    retry,
)
from zenoo_retry import _core
from zenoo_retry.metrics import OperationMetrics
from zenoo_retry.testing import instant_retries

from helpers import AsyncFlaky, FakeClock, Flaky


def exp(n=3, base=0.5):
    return ExponentialBackoffStrategy(max_attempts=n, base_delay=base, jitter=False)


def test_scripted_sync_counts_exactly():
    m = RetryMetrics()
    clock = FakeClock()
    f = retry(strategy=exp(4), metrics=m, sleep=clock.sleep, name="op")(
        Flaky(ConnectionError(), TimeoutError(), result=7))
    assert f() == 7
    s = m.get_stats()
    assert clock.sleeps == [0.5, 1.0]
    assert (s["total_operations"], s["total_attempts"], s["successful_operations"]) == (1, 3, 1)
    assert (s["failed_attempts"], s["total_retries"], s["failed_operations"]) == (2, 2, 0)
    assert s["total_delay"] == 1.5 and s["max_delay"] == 1.0 and s["average_delay"] == 0.75
    assert s["success_rate"] == 1.0 and s["average_retries"] == 2.0
    assert s["errors_by_type"] == {"ConnectionError": 1, "TimeoutError": 1}
    assert s["attempts_histogram"] == {3: 1}
    assert s["failures_by_attempt"] == {1: 1, 2: 1}
    hist = dict(s["delay_histogram"])
    assert hist[0.5] == 1 and hist[1.0] == 1 and sum(hist.values()) == 2
    assert list(s["operations"]) == ["op"]


def test_fast_path_successes_are_counted():
    m = RetryMetrics()
    f = retry(metrics=m)(lambda x: x + 1)
    assert f.retry_spec.metrics is m.operation(f.__qualname__)
    for i in range(5):
        assert f(i) == i + 1
    s = m.get_stats()
    assert (s["total_operations"], s["total_attempts"], s["successful_operations"]) == (5, 5, 5)
    assert s["attempts_histogram"] == {1: 5} and s["success_rate"] == 1.0
    assert s["total_retries"] == 0 and s["average_delay"] == 0.0


def test_shared_metrics_across_functions_and_per_operation_stats():
    m = RetryMetrics(operation_type="rpc", tags={"service": "users"})

    @retry(metrics=m, strategy=exp(2))
    def a():
        return 1

    @retry(metrics=m, strategy=exp(2), name="b")
    def b_impl():
        raise ConnectionError("down")

    same_name = retry(metrics=m, name="b")(lambda: 2)
    with instant_retries():
        a()
        a()
        with pytest.raises(MaxRetriesExceededError):
            b_impl()
        same_name()
    s = m.get_stats()
    assert s["total_operations"] == 4 and s["total_attempts"] == 5
    assert s["successful_operations"] == 3 and s["failed_operations"] == 1
    assert s["success_rate"] == 0.75 and s["exhausted"] == 1
    ops = s["operations"]
    assert set(ops) == {"test_shared_metrics_across_functions_and_per_operation_stats.<locals>.a", "b"}
    assert ops["b"]["total_operations"] == 2 and ops["b"]["errors_by_type"] == {"ConnectionError": 2}
    assert ops["b"]["operation_type"] == "rpc" and ops["b"]["tags"] == {"service": "users"}
    assert m.get_stats("b")["total_attempts"] == 3
    with pytest.raises(KeyError):
        m.get_stats("nope")
    custom = m.operation("c", operation_type="db", tags={"table": "t"})
    assert custom.operation_type == "db" and custom.tags == {"service": "users", "table": "t"}
    m.reset()
    s = m.get_stats()
    assert s["total_operations"] == 0 and s["errors_by_type"] == {} and len(s["operations"]) == 3


def test_give_up_reasons():
    m = RetryMetrics()
    clock = FakeClock()
    with instant_retries():
        with pytest.raises(ValueError):
            retry(metrics=m, name="nr", non_retryable_exceptions=ValueError)(Flaky(ValueError()))()
        with pytest.raises(RetryTimeoutError):
            retry(metrics=m, name="to", strategy=exp(5, base=10), timeout=5, clock=clock)(
                Flaky(OSError(), OSError()))()
        assert retry(metrics=m, name="fb", strategy=exp(2), fallback="dflt")(
            Flaky(OSError(), OSError()))() == "dflt"
        # rejected results count as failed attempts without an error type
        g = retry(metrics=m, name="rr", strategy=exp(3), retry_on_result=lambda r: r is None)(
            Flaky(result=None))
        with pytest.raises(MaxRetriesExceededError):
            g()
    ops = m.get_stats()["operations"]
    assert ops["nr"]["not_retryable"] == 1 and ops["nr"]["total_retries"] == 0
    assert ops["nr"]["errors_by_type"] == {"ValueError": 1}
    assert ops["to"]["timeouts"] == 1 and ops["to"]["total_attempts"] == 1
    assert ops["fb"]["failed_operations"] == 1 and ops["fb"]["exhausted"] == 1
    assert ops["rr"]["failed_attempts"] == 3 and ops["rr"]["errors_by_type"] == {}
    assert ops["rr"]["exhausted"] == 1 and ops["rr"]["total_retries"] == 2


def test_keyboard_interrupt_is_cancelled_not_failure():
    m = RetryMetrics()
    f = retry(metrics=m, name="k")(Flaky(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        f()
    s = m.get_stats()
    assert s["cancelled_operations"] == 1 and s["failed_attempts"] == 0
    assert s["total_retries"] == 0 and s["failed_operations"] == 0


def test_dead_letters_and_validation():
    m = RetryMetrics()
    m.record_dead_letter("x")
    m.record_dead_letter("x")
    assert m.get_stats()["dead_letters"] == 2
    with pytest.raises(TypeError, match="metrics must be"):
        retry(metrics="yes")
    with pytest.raises(TypeError, match="metrics must be"):
        RetryPolicy(metrics=42)
    with pytest.raises(TypeError, match="tags must be"):
        RetryMetrics(tags={"a": 1})
    with pytest.raises(TypeError, match="operation_type must be"):
        OperationMetrics("x", operation_type=3)
    with pytest.raises(TypeError, match="metrics must be an OperationMetrics"):
        _core.RetrySpec(exp(), metrics=object())
    with pytest.raises(TypeError):
        _core.metrics_snapshot([object()])


def test_policy_metrics_and_block_form():
    m = RetryMetrics()
    pol = RetryPolicy(strategy=FixedDelayStrategy(max_attempts=3, delay=0.25), metrics=m)
    flaky = Flaky(OSError(), result=5)
    with instant_retries() as sleeps:
        for attempt in attempts(pol, name="block"):
            with attempt:
                value = flaky()
    assert value == 5 and sleeps.delays == [0.25]
    s = m.get_stats("block")
    assert (s["total_operations"], s["total_attempts"], s["successful_operations"]) == (1, 2, 1)
    assert s["total_delay"] == 0.25 and s["errors_by_type"] == {"OSError": 1}


async def test_async_scripted_counts():
    m = RetryMetrics()
    clock = FakeClock()
    g = async_retry(strategy=exp(4), metrics=m, sleep=clock.async_sleep, name="a")(
        AsyncFlaky(ConnectionError(), result=3))
    assert await g() == 3
    ok = async_retry(metrics=m, name="a")(AsyncFlaky(result=1))
    assert await ok() == 1 and await ok() == 1
    s = m.get_stats()
    assert (s["total_operations"], s["total_attempts"], s["successful_operations"]) == (3, 4, 3)
    assert s["total_retries"] == 1 and s["total_delay"] == 0.5
    assert s["attempts_histogram"] == {1: 2, 2: 1}


async def test_async_cancellation_is_not_counted_as_failure():
    m = RetryMetrics()
    started = asyncio.Event()

    async def slow():
        started.set()
        await asyncio.sleep(3600)

    t = asyncio.ensure_future(async_retry(metrics=m, name="slow")(slow)())
    await started.wait()
    t.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t
    # cancelled during the backoff sleep
    calls = []

    async def failing():
        calls.append(1)
        raise ConnectionError()

    t2 = asyncio.ensure_future(async_retry(metrics=m, name="sleepy", strategy=exp(3, base=3600))(failing)())
    for _ in range(5):
        await asyncio.sleep(0)
    assert calls == [1]
    t2.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t2
    ops = m.get_stats()["operations"]
    assert ops["slow"]["cancelled_operations"] == 1 and ops["slow"]["failed_attempts"] == 0
    assert ops["slow"]["total_retries"] == 0 and ops["slow"]["failed_operations"] == 0
    assert ops["sleepy"]["cancelled_operations"] == 1 and ops["sleepy"]["failed_attempts"] == 1
    assert ops["sleepy"]["total_retries"] == 1 and ops["sleepy"]["failed_operations"] == 0


def test_execute_with_metrics():
    pol = RetryPolicy(strategy=exp(3, base=0.2))
    with instant_retries():
        result, cm = execute_with_metrics(Flaky(OSError(), OSError(), result="r"), pol)
    assert result == "r" and cm.attempts == 3 and cm.succeeded
    assert cm.total_delay == pytest.approx(0.6) and cm.average_delay() == pytest.approx(0.3)
    assert cm.success_rate() == pytest.approx(1 / 3) and cm.errors_by_type == {"OSError": 2}
    with instant_retries():
        with pytest.raises(MaxRetriesExceededError) as ei:
            execute_with_metrics(Flaky(OSError(), OSError(), OSError()), pol)
    failed = ei.value.retry_metrics
    assert failed.attempts == 3 and not failed.succeeded and failed.success_rate() == 0.0
    res, cm = execute_with_metrics(lambda a, b=0: a + b, None, 1, b=2)
    assert res == 3 and cm.attempts == 1 and cm.average_delay() == 0.0
    with pytest.raises(TypeError, match="fn must be callable"):
        execute_with_metrics(3)


async def test_async_execute_with_metrics():
    with instant_retries():
        result, cm = await async_execute_with_metrics(AsyncFlaky(OSError(), result=9), RetryPolicy(strategy=exp(2)))
    assert result == 9 and cm.attempts == 2 and cm.retries == 1 and cm.total_delay == 0.5


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=6), max_size=12))
def test_counters_match_a_model(failures_per_call):
    """Each call fails `f` times then succeeds (or exhausts 4 attempts): the C counters
    equal what a plain model of the loop predicts."""
    m = RetryMetrics()
    errors = {0: ConnectionError, 1: TimeoutError, 2: OSError}
    with instant_retries():
        for f in failures_per_call:
            errs = [errors[i % 3]() for i in range(f)]
            fn = retry(strategy=FixedDelayStrategy(max_attempts=4, delay=0.25), metrics=m, name="p")(
                Flaky(*errs, result=1))
            try:
                fn()
            except MaxRetriesExceededError:
                pass
    s = m.get_stats()
    ok = [f for f in failures_per_call if f < 4]
    attempts = sum(min(f + 1, 4) for f in failures_per_call)
    failed_attempts = sum(min(f, 4) for f in failures_per_call)
    retries = sum(min(f, 3) for f in failures_per_call)
    assert s["total_operations"] == len(failures_per_call)
    assert s["successful_operations"] == len(ok)
    assert s["failed_operations"] == s["exhausted"] == len(failures_per_call) - len(ok)
    assert s["total_attempts"] == attempts and s["failed_attempts"] == failed_attempts
    assert s["total_retries"] == retries and s["total_delay"] == pytest.approx(0.25 * retries)
    assert sum(s["errors_by_type"].values()) == failed_attempts
    assert sum(s["attempts_histogram"].values()) == len(failures_per_call)
    assert s["attempts_histogram"] == {
        n: sum(1 for f in failures_per_call if min(f + 1, 4) == n)
        for n in range(1, 5) if any(min(f + 1, 4) == n for f in failures_per_call)}


def test_execute_with_metrics_also_counts_in_the_policy_metrics():
    m = RetryMetrics()
    pol = RetryPolicy(strategy=exp(3), metrics=m, name="job")
    with instant_retries():
        execute_with_metrics(Flaky(OSError(), result=1), pol)
        execute_with_metrics(Flaky(KeyError("k"), result=1), pol)
    s = m.get_stats("job")
    assert (s["total_operations"], s["total_attempts"], s["total_retries"]) == (2, 4, 2)
    assert s["errors_by_type"] == {"OSError": 1, "KeyError": 1}
    cell = m.operation("job")
    with pytest.raises(ValueError):
        cell.merge(cell)
    with pytest.raises(TypeError):
        cell.merge(object())
