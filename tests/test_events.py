"""RetryEventHandler: event order, give-up reasons, async handlers, handler errors."""
import asyncio
import logging

import pytest

from zenoo_retry import (
    BudgetExhaustedError,
    CircuitBreakerOpenError,
    ExponentialBackoffStrategy,
    MaxRetriesExceededError,
    RetryEventHandler,
    RetryMetrics,
    async_retry,
    retry,
)
from zenoo_retry.events import EventDispatcher
from zenoo_retry.testing import instant_retries

from helpers import AsyncFlaky, Flaky

NOJ = ExponentialBackoffStrategy(max_attempts=3, base_delay=0.5, jitter=False)


class Recorder(RetryEventHandler):
    def __init__(self):
        self.events = []

    def on_retry_start(self, attempt):
        self.events.append(("start", attempt.number))

    def on_retry_success(self, attempt):
        self.events.append(("success", attempt.number, attempt.last_result))

    def on_retry_failure(self, attempt):
        self.events.append(("failure", attempt.number, type(attempt.last_exception).__name__,
                            attempt.next_delay))

    def on_max_retries_exceeded(self, attempt):
        self.events.append(("exceeded", attempt.number))

    def on_budget_exhausted(self, attempt):
        self.events.append(("budget", attempt.number))

    def on_circuit_breaker_rejected(self, attempt, error):
        self.events.append(("breaker", attempt.number, type(error).__name__))

    def on_give_up(self, attempt, error):
        self.events.append(("give_up", type(error).__name__))

    def on_cancelled(self, attempt, error):
        self.events.append(("cancelled", attempt.number, type(error).__name__))


def test_success_after_retries_sequence():
    r = Recorder()
    f = retry(strategy=NOJ, event_handler=r)(Flaky(ConnectionError(), result="ok"))
    with instant_retries():
        assert f() == "ok"
    assert r.events == [("start", 1), ("failure", 1, "ConnectionError", 0.5),
                        ("start", 2), ("success", 2, "ok")]


def test_exhausted_sequence_and_multiple_handlers():
    r1, r2 = Recorder(), Recorder()
    f = retry(strategy=NOJ, event_handler=[r1, r2])(Flaky(OSError(), OSError(), OSError()))
    with instant_retries(), pytest.raises(MaxRetriesExceededError):
        f()
    assert r1.events == r2.events == [
        ("start", 1), ("failure", 1, "OSError", 0.5), ("start", 2), ("failure", 2, "OSError", 1.0),
        ("start", 3), ("failure", 3, "OSError", None), ("exceeded", 3),
        ("give_up", "MaxRetriesExceededError")]


def test_non_retryable_give_up():
    r = Recorder()
    f = retry(strategy=NOJ, event_handler=r, non_retryable_exceptions=KeyError)(Flaky(KeyError("k")))
    with pytest.raises(KeyError):
        f()
    assert r.events == [("start", 1), ("failure", 1, "KeyError", None), ("give_up", "KeyError")]


class FakeBudget:
    """The budget protocol of RetrySpec: grants `tokens` retries."""

    def __init__(self, tokens):
        self.tokens = tokens

    def _zr_on_request(self):
        pass

    def _zr_try_retry(self):
        if self.tokens <= 0:
            return False
        self.tokens -= 1
        return True


class FakeBreaker:
    """The breaker protocol: refuses every attempt after `allow` admitted ones."""

    def __init__(self, allow):
        self.allow = allow

    def _zr_enter(self):
        if self.allow <= 0:
            raise CircuitBreakerOpenError("open")
        self.allow -= 1
        return None

    def _zr_exit(self, token, exc):
        pass


def test_budget_and_breaker_rejections_are_events_and_counters():
    r = Recorder()
    m = RetryMetrics()
    f = retry(strategy=NOJ, event_handler=r, metrics=m, name="b", budget=FakeBudget(1))(
        Flaky(OSError(), OSError(), OSError()))
    with instant_retries(), pytest.raises(BudgetExhaustedError):
        f()
    assert r.events[-3:] == [("failure", 2, "OSError", None), ("budget", 2),
                             ("give_up", "BudgetExhaustedError")]
    r2 = Recorder()
    g = retry(strategy=NOJ, event_handler=r2, metrics=m, name="c", circuit_breaker=FakeBreaker(1))(
        Flaky(OSError(), result=1))
    with instant_retries(), pytest.raises(CircuitBreakerOpenError):
        g()
    assert r2.events == [("start", 1), ("failure", 1, "OSError", 0.5),
                         ("breaker", 1, "CircuitBreakerOpenError"),
                         ("give_up", "CircuitBreakerOpenError")]
    ops = m.get_stats()["operations"]
    assert ops["b"]["budget_rejections"] == 1 and ops["b"]["total_attempts"] == 2
    assert ops["c"]["breaker_rejections"] == 1 and ops["c"]["total_attempts"] == 1
    assert ops["c"]["attempts_histogram"] == {1: 1} and ops["c"]["failed_operations"] == 1
    assert m.get_stats()["breaker_rejections"] == 1 and m.get_stats()["budget_rejections"] == 1


def test_handler_errors_are_logged_not_raised(caplog):
    class Broken(RetryEventHandler):
        def on_retry_start(self, attempt):
            raise RuntimeError("handler bug")

    f = retry(event_handler=Broken())(lambda: 5)
    with caplog.at_level(logging.ERROR, logger="zenoo_retry"):
        assert f() == 5
    assert any("on_retry_start" in r.getMessage() and r.exc_info for r in caplog.records)


def test_async_handler_in_sync_call_runs_to_completion():
    seen = []

    class AsyncH(RetryEventHandler):
        async def on_retry_success(self, attempt):
            await asyncio.sleep(0)
            seen.append(attempt.number)

    assert retry(event_handler=AsyncH())(lambda: 1)() == 1
    assert seen == [1]


async def test_async_paths_schedule_async_handlers_and_count_cancellation():
    seen = []

    class AsyncH(Recorder):
        async def on_retry_failure(self, attempt):
            await asyncio.sleep(0)
            seen.append(attempt.number)

    h = AsyncH()
    g = async_retry(strategy=NOJ, event_handler=h)(AsyncFlaky(ConnectionError(), result=2))
    with instant_retries():
        assert await g() == 2
    await g.retry_spec.observer.drain()
    assert seen == [1]
    assert h.events == [("start", 1), ("start", 2), ("success", 2, 2)]

    started = asyncio.Event()

    async def hang():
        started.set()
        await asyncio.sleep(3600)

    r = Recorder()
    t = asyncio.ensure_future(async_retry(event_handler=r)(hang)())
    await started.wait()
    t.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t
    assert r.events == [("start", 1), ("cancelled", 1, "CancelledError")]


async def test_async_handler_errors_are_logged(caplog):
    class Bad(RetryEventHandler):
        async def on_retry_success(self, attempt):
            raise ValueError("async handler bug")

    g = async_retry(event_handler=Bad())(AsyncFlaky(result=3))
    with caplog.at_level(logging.ERROR, logger="zenoo_retry"):
        assert await g() == 3
        await g.retry_spec.observer.drain()
    assert any("on_retry_success" in r.getMessage() for r in caplog.records)


def test_validation_and_breaker_listener():
    with pytest.raises(TypeError, match="event_handler"):
        retry(event_handler=object())
    with pytest.raises(TypeError, match="event_handler"):
        retry(event_handler=[])

    class ListeningBreaker(FakeBreaker):
        def __init__(self):
            super().__init__(10)
            self.listeners = []

        def add_listener(self, fn):
            self.listeners.append(fn)

    changes = []

    class H(RetryEventHandler):
        def on_circuit_breaker_state_change(self, breaker, old, new):
            changes.append((old, new))

    b = ListeningBreaker()
    retry(event_handler=H(), circuit_breaker=b)(lambda: 1)
    assert len(b.listeners) == 2  # the handler's, and the logger's (zenoo_retry.logs)
    for fn in b.listeners:
        fn(b, "closed", "open")
    assert changes == [("closed", "open")]
    assert isinstance(retry(event_handler=H())(lambda: 1).retry_spec.observer, EventDispatcher)


def test_real_retry_budget_exhaustion():
    budget_mod = pytest.importorskip("zenoo_retry.budget")
    budget = budget_mod.RetryBudget(capacity=1, refill_rate=0.0)
    r = Recorder()
    m = RetryMetrics()
    f = retry(strategy=NOJ, budget=budget, event_handler=r, metrics=m, name="rb")(
        Flaky(OSError(), OSError(), OSError()))
    with instant_retries(), pytest.raises(BudgetExhaustedError):
        f()
    assert ("budget", 2) in r.events and r.events[-1] == ("give_up", "BudgetExhaustedError")
    s = m.get_stats()
    assert s["budget_rejections"] == 1 and s["total_attempts"] == 2 and s["total_retries"] == 1


def test_real_circuit_breaker_rejections_and_state_changes():
    cb_mod = pytest.importorskip("zenoo_retry.circuit_breaker")
    now = [100.0]
    breaker = cb_mod.CircuitBreaker(failure_threshold=2, recovery_timeout=30.0, name="db",
                                    clock=lambda: now[0])
    changes = []

    class H(Recorder):
        def on_circuit_breaker_state_change(self, b, old, new):
            changes.append((b.name, str(old), str(new)))

    r = H()
    m = RetryMetrics()
    f = retry(strategy=NOJ, circuit_breaker=breaker, event_handler=r, metrics=m, name="q")(
        Flaky(OSError(), OSError(), OSError(), result=1))
    with instant_retries(), pytest.raises(CircuitBreakerOpenError):
        f()  # two failures open the breaker; the third attempt is refused
    assert changes == [("db", "closed", "open")]
    assert r.events[-2:] == [("breaker", 2, "CircuitBreakerOpenError"), ("give_up", "CircuitBreakerOpenError")]
    with pytest.raises(CircuitBreakerOpenError):
        f()  # refused before any attempt
    s = m.get_stats()
    assert s["breaker_rejections"] == 2 and s["total_attempts"] == 2 and s["failed_operations"] == 2
    assert s["attempts_histogram"] == {0: 1, 2: 1}
    now[0] += 31.0  # half-open: the probe fails (the script's last error) and reopens it
    with instant_retries():
        with pytest.raises(CircuitBreakerOpenError):
            f()
    assert changes[1:] == [("db", "open", "half_open"), ("db", "half_open", "open")]
