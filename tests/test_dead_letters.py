"""Dead letters: one call of the handler per finally-failed operation, sync and async."""
from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from helpers import AsyncFlaky, Flaky
from zenoo_retry import (
    DeadLetterQueue,
    ExponentialBackoffStrategy,
    InvalidConfigurationError,
    MaxRetriesExceededError,
    RetryTimeoutError,
    async_retry,
    retry,
)
from zenoo_retry.testing import instant_retries


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, operation, error, attempts, metadata):
        self.calls.append((operation, error, attempts, dict(metadata)))


def plain(n=3):
    return ExponentialBackoffStrategy(max_attempts=n, base_delay=1.0, jitter=False)


def test_called_once_after_exhaustion_with_the_original_error():
    rec = Recorder()
    boom = [ConnectionError("a"), ConnectionError("b"), ConnectionError("c")]

    @retry(strategy=plain(), dead_letter=rec, dead_letter_metadata={"service": "users"}, name="sync_users")
    def op():
        raise boom.pop(0)

    with instant_retries():
        with pytest.raises(MaxRetriesExceededError) as info:
            op()
    assert len(rec.calls) == 1
    operation, error, attempts, md = rec.calls[0]
    assert operation == "sync_users" and attempts == 3
    assert isinstance(error, ConnectionError) and str(error) == "c"
    assert md["service"] == "users" and md["final_error"] is info.value
    assert md["error_type"] == "network" and md["max_attempts"] == 3 and md["total_delay"] == 3.0


def test_not_called_on_success_or_after_a_retried_success():
    rec = Recorder()
    op = retry(strategy=plain(), dead_letter=rec)(Flaky(ConnectionError(), result="ok"))
    with instant_retries():
        assert op() == "ok"
    assert rec.calls == []


def test_non_retryable_error_is_dead_lettered_once_and_propagates_unchanged():
    rec = Recorder()
    err = ValueError("bad input")
    op = retry(strategy=plain(), exceptions=ConnectionError, dead_letter=rec)(Flaky(err))
    with pytest.raises(ValueError) as info:
        op()
    assert info.value is err
    assert [(c[1], c[2], c[3]["error_type"]) for c in rec.calls] == [(err, 1, "permanent")]


def test_timeout_and_rejected_result_and_fallback():
    rec = Recorder()
    op = retry(strategy=ExponentialBackoffStrategy(max_attempts=5, base_delay=10.0, jitter=False),
               timeout=5.0, dead_letter=rec)(Flaky(TimeoutError(), TimeoutError()))
    with instant_retries():
        with pytest.raises(RetryTimeoutError):
            op()
    assert rec.calls[0][2] == 1 and isinstance(rec.calls[0][1], TimeoutError)

    rec2 = Recorder()
    op2 = retry(strategy=plain(2), retry_on_result=lambda r: r is None, dead_letter=rec2)(lambda: None)
    with instant_retries():
        with pytest.raises(MaxRetriesExceededError) as info:
            op2()
    (_, error, attempts, md), = rec2.calls
    assert error is info.value and attempts == 2 and md["last_result"] is None

    rec3 = Recorder()
    op3 = retry(strategy=plain(2), dead_letter=rec3, fallback="cached")(Flaky(OSError(), OSError()))
    with instant_retries():
        assert op3() == "cached"
    assert len(rec3.calls) == 1


def test_user_on_give_up_still_called_first():
    order = []
    op = retry(strategy=plain(1), on_give_up=lambda info, err: order.append("on_give_up"),
               dead_letter=lambda *a: order.append("dead_letter"))(Flaky(OSError()))
    with pytest.raises(MaxRetriesExceededError):
        op()
    assert order == ["on_give_up", "dead_letter"]


def test_failing_handler_is_logged_and_the_operation_error_propagates(caplog):
    def handler(*args):
        raise RuntimeError("queue down")

    op = retry(strategy=plain(1), dead_letter=handler)(Flaky(OSError("disk")))
    with caplog.at_level(logging.ERROR, logger="zenoo_retry.dead_letters"):
        with pytest.raises(MaxRetriesExceededError):
            op()
    assert "dead-letter handler" in caplog.text and "queue down" in caplog.text


def test_queue_inspect_drain_bounded_and_thread_safe():
    q = DeadLetterQueue(maxlen=5, clock=lambda: 42.0)
    op = retry(strategy=plain(1), dead_letter=q, name="job")(Flaky(*[OSError(i) for i in range(100)]))

    def worker():
        for _ in range(10):
            with pytest.raises(MaxRetriesExceededError):
                op()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(q) == 5 and q.dropped == 35
    assert all(letter.operation == "job" and letter.timestamp == 42.0 for letter in q)
    assert len(q.by_operation("job")) == 5 and q.by_operation("other") == []
    drained = q.drain()
    assert len(drained) == 5 and len(q) == 0
    q(operation="manual", error=ValueError(), attempts=1, metadata={})
    assert q.items[0].operation == "manual"
    q.clear()
    assert list(q) == []


async def test_async_with_sync_queue():
    q = DeadLetterQueue()
    op = async_retry(strategy=plain(2), dead_letter=q)(AsyncFlaky(OSError("x"), OSError("y")))
    with instant_retries():
        with pytest.raises(MaxRetriesExceededError):
            await op()
    assert len(q) == 1 and q.items[0].attempts == 2 and str(q.items[0].error) == "y"


async def test_async_handler_is_awaited_before_the_error_reaches_the_caller():
    events = []

    async def handler(operation, error, attempts, metadata):
        await asyncio.sleep(0)
        events.append(("dead_letter", operation, attempts))

    @async_retry(strategy=plain(2), dead_letter=handler, name="async_job")
    async def op():
        raise ConnectionResetError()

    with instant_retries():
        try:
            await op()
        except MaxRetriesExceededError:
            events.append("caller saw error")
    assert events == [("dead_letter", "async_job", 2), "caller saw error"]
    assert asyncio.iscoroutinefunction(op)
    assert op.retry_spec.max_attempts == 2


async def test_async_handler_with_fallback_and_with_success():
    seen = []

    async def handler(*args):
        seen.append(args[2])

    op = async_retry(strategy=plain(2), dead_letter=handler, fallback=[])(AsyncFlaky(OSError(), OSError()))
    ok = async_retry(strategy=plain(2), dead_letter=handler)(AsyncFlaky(OSError(), result=5))
    with instant_retries():
        assert await op() == []
        assert await ok() == 5
    assert seen == [2]


async def test_async_handler_failure_logged(caplog):
    async def handler(*args):
        raise RuntimeError("sink broken")

    op = async_retry(strategy=plain(1), dead_letter=handler)(AsyncFlaky(OSError()))
    with caplog.at_level(logging.ERROR, logger="zenoo_retry.dead_letters"):
        with pytest.raises(MaxRetriesExceededError):
            await op()
    assert "sink broken" in caplog.text


def test_cancellation_and_keyboard_interrupt_are_not_dead_lettered():
    rec = Recorder()
    op = retry(strategy=plain(), dead_letter=rec)(Flaky(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        op()

    async def cancelled():
        raise asyncio.CancelledError()

    aop = async_retry(strategy=plain(), dead_letter=rec)(cancelled)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(aop())
    assert rec.calls == []


def test_bad_arguments():
    with pytest.raises(TypeError, match="dead_letter"):
        retry(dead_letter=3)
    with pytest.raises(TypeError, match="dead_letter_metadata"):
        retry(dead_letter=Recorder(), dead_letter_metadata=[1])
    with pytest.raises(TypeError, match="needs a dead_letter"):
        retry(dead_letter_metadata={"a": 1})

    async def handler(*args):
        pass

    with pytest.raises(TypeError, match="async_retry"):
        retry(dead_letter=handler)
    with pytest.raises(InvalidConfigurationError, match="maxlen") as info:
        DeadLetterQueue(maxlen=0)
    assert info.value.parameter == "maxlen"
    with pytest.raises(TypeError, match="maxlen"):
        DeadLetterQueue(maxlen="10")


class OpenBreaker:
    """Breaker protocol: refuses every attempt after `allow` admitted ones."""

    def __init__(self, allow=0):
        self.allow = allow

    def _zr_enter(self):
        from zenoo_retry import CircuitBreakerOpenError

        if self.allow <= 0:
            raise CircuitBreakerOpenError(name="upstream", retry_after=5.0)
        self.allow -= 1

    def _zr_exit(self, token, exc):
        pass


def test_breaker_refusal_is_dead_lettered_with_the_attempts_that_ran():
    from zenoo_retry import CircuitBreakerOpenError

    rec = Recorder()
    op = retry(strategy=plain(5), circuit_breaker=OpenBreaker(allow=2), dead_letter=rec)(
        Flaky(*[OSError()] * 5))
    with instant_retries():
        with pytest.raises(CircuitBreakerOpenError):
            op()
    (_, error, attempts, md), = rec.calls
    assert isinstance(error, CircuitBreakerOpenError) and attempts == 2
    assert md["error_type"] == "circuit_breaker"

    rec2 = Recorder()
    refused_at_once = retry(strategy=plain(), circuit_breaker=OpenBreaker(), dead_letter=rec2,
                            fallback="stale")(lambda: "fresh")
    assert refused_at_once() == "stale"
    assert [c[2] for c in rec2.calls] == [0]


async def test_async_breaker_refusal_is_dead_lettered():
    from zenoo_retry import CircuitBreakerOpenError

    seen = []

    async def handler(operation, error, attempts, metadata):
        seen.append((type(error).__name__, attempts))

    op = async_retry(strategy=plain(), circuit_breaker=OpenBreaker(), dead_letter=handler)(AsyncFlaky())
    with pytest.raises(CircuitBreakerOpenError):
        await op()
    assert seen == [("CircuitBreakerOpenError", 0)]
