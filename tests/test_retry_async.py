"""@async_retry: the C awaitable - retries, cancellation, hooks, sleeps, timeouts."""
import asyncio
import inspect

import pytest

from zenoo_retry import (
    ExponentialBackoffStrategy,
    MaxRetriesExceededError,
    RetryTimeoutError,
    async_retry,
    retry_with_fallback,
    retry_with_timeout,
)
from zenoo_retry import _core

from helpers import AsyncFlaky, FakeClock

NOJ = dict(strategy=ExponentialBackoffStrategy(jitter=False))


async def test_success_and_retry_then_success():
    f = AsyncFlaky(ConnectionError(), ConnectionError(), result=7)
    clock = FakeClock()
    g = async_retry(max_attempts=3, delay=1.0, sleep=clock.async_sleep, **NOJ)(f)
    assert await g("a", k=1) == 7
    assert f.calls == 3 and clock.sleeps == [1.0, 2.0]
    assert f.args[0] == (("a",), {"k": 1})


async def test_gives_up_and_reraise():
    errs = [OSError("1"), OSError("2")]
    g = async_retry(max_attempts=2, delay=0)(AsyncFlaky(*errs))
    with pytest.raises(MaxRetriesExceededError) as ei:
        await g()
    assert ei.value.last_exception is errs[1] and ei.value.attempts == 2
    h = async_retry(max_attempts=1, reraise=True)(AsyncFlaky(KeyError("k")))
    with pytest.raises(KeyError):
        await h()


async def test_real_sleep_uses_the_event_loop_timer():
    loop = asyncio.get_running_loop()
    f = AsyncFlaky(ConnectionError())
    g = async_retry(max_attempts=2, delay=0.01, **NOJ)(f)
    t0 = loop.time()
    assert await g() == "ok"
    assert loop.time() - t0 >= 0.009  # it did wait on the loop (lower bound only)


async def test_cancellation_during_sleep_cancels_timer_and_propagates():
    loop = asyncio.get_running_loop()
    f = AsyncFlaky(ConnectionError())
    g = async_retry(max_attempts=5, delay=1000.0, **NOJ)(f)
    task = asyncio.ensure_future(g())
    for _ in range(5):
        await asyncio.sleep(0)
    assert f.calls == 1
    timers = [h for h in loop._scheduled if not h.cancelled()]
    assert len(timers) == 1 and timers[0].when() - loop.time() > 900
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(h.cancelled() for h in timers)
    assert f.calls == 1


async def test_cancellation_during_attempt_propagates_and_is_not_retried():
    started = asyncio.Event()
    calls = 0

    @async_retry(max_attempts=5, delay=0, exceptions=BaseException)
    async def slow():
        nonlocal calls
        calls += 1
        started.set()
        await asyncio.sleep(1000)

    task = asyncio.ensure_future(slow())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls == 1


async def test_cancelled_error_raised_by_attempt_is_never_retried():
    f = AsyncFlaky(asyncio.CancelledError())
    g = async_retry(max_attempts=5, delay=0, exceptions=BaseException, fallback=1)(f)
    with pytest.raises(asyncio.CancelledError):
        await g()
    assert f.calls == 1


async def test_async_and_sync_hooks():
    seen = []

    async def ahook(attempt):
        await asyncio.sleep(0)
        seen.append(("async", attempt.number, attempt.next_delay))

    g = async_retry(max_attempts=3, delay=0.0, on_retry=ahook)(AsyncFlaky(OSError(), OSError()))
    assert await g() == "ok"
    h = async_retry(max_attempts=2, delay=0.0, on_retry=lambda a: seen.append(("sync", a.number)))(
        AsyncFlaky(OSError()))
    assert await h() == "ok"
    assert seen == [("async", 1, 0.0), ("async", 2, 0.0), ("sync", 1)]


async def test_condition_result_predicate_and_fallback():
    g = async_retry(max_attempts=4, delay=0, retry_condition=lambda e, a: a.number < 2)(
        AsyncFlaky(OSError(), OSError(), OSError()))
    with pytest.raises(OSError):
        await g()
    n = {"i": 0}

    async def produce():
        n["i"] += 1
        return n["i"]

    h = async_retry(max_attempts=5, delay=0, retry_on_result=lambda r: r < 3)(produce)
    assert await h() == 3
    k = retry_with_fallback(fallback_value="fb", max_attempts=2, base_delay=0)(AsyncFlaky(OSError(), OSError()))
    assert await k() == "fb"


async def test_deadline_between_attempts():
    clock = FakeClock()
    g = async_retry(max_attempts=10, delay=4.0, timeout=10.0, clock=clock, sleep=clock.async_sleep,
                    **NOJ)(AsyncFlaky(*[OSError()] * 10))
    with pytest.raises(RetryTimeoutError) as ei:
        await g()
    assert clock.sleeps == [4.0] and ei.value.attempts == 2  # 4 then 8 would end at 12 > 10
    assert isinstance(ei.value, asyncio.TimeoutError)


async def test_attempt_timeout_bounds_each_attempt():
    calls = 0

    @async_retry(max_attempts=3, delay=0, attempt_timeout=0.01)
    async def hang_then_ok():
        nonlocal calls
        calls += 1
        if calls < 3:
            await asyncio.sleep(1000)
        return "fine"

    assert await hang_then_ok() == "fine" and calls == 3


async def test_retry_with_timeout_bounds_a_hanging_attempt():
    @retry_with_timeout(total_timeout=0.05, max_attempts=3)
    async def hang():
        await asyncio.sleep(1000)

    with pytest.raises(RetryTimeoutError) as ei:
        await hang()
    assert isinstance(ei.value, asyncio.TimeoutError) and ei.value.timeout == 0.05


async def test_awaitable_protocol_send_throw_close():
    g = async_retry(max_attempts=2, delay=0)(AsyncFlaky())
    aw = g()
    assert isinstance(aw, _core.RetryAwaitable)
    assert inspect.isawaitable(aw) and asyncio.iscoroutine(aw)
    with pytest.raises(StopIteration) as si:
        aw.send(None)
    assert si.value.value == "ok"
    with pytest.raises(RuntimeError, match="reuse"):
        aw.send(None)
    aw2 = g()
    with pytest.raises(ValueError, match="boom"):
        aw2.throw(ValueError("boom"))
    aw3 = g()
    aw3.close()
    with pytest.raises(RuntimeError):
        aw3.send(None)
    aw4 = g()
    with pytest.raises(TypeError, match="non-None"):
        aw4.send(1)
    aw4.close()


async def test_returns_tuples_and_exceptions_as_values():
    val = (1, 2)
    exc_value = ValueError("as value")

    @async_retry
    async def give(x):
        return x

    assert await give(val) is val
    assert await give(exc_value) is exc_value
    assert await give(None) is None


async def test_non_awaitable_result_is_a_type_error_not_retried():
    calls = 0

    def not_async():
        nonlocal calls
        calls += 1
        return 5

    g = async_retry(max_attempts=3, delay=0)(not_async)
    with pytest.raises(TypeError, match="await"):
        await g()
    assert calls == 1


async def test_many_concurrent_calls():
    counts = {}

    @async_retry(max_attempts=3, delay=0.001, **NOJ)
    async def work(i):
        counts[i] = counts.get(i, 0) + 1
        await asyncio.sleep(0)
        if counts[i] < 2:
            raise ConnectionError(i)
        return i

    results = await asyncio.gather(*(work(i) for i in range(500)))
    assert results == list(range(500)) and set(counts.values()) == {2}


def test_runs_under_asyncio_run_and_tasks():
    g = async_retry(max_attempts=2, delay=0)(AsyncFlaky(OSError(), result="r"))

    async def main():
        return await asyncio.create_task(g())

    assert asyncio.run(main()) == "r"


def test_custom_strategy_sees_no_previous_delay_on_the_first_retry_sync_and_async():
    from zenoo_retry import retry
    from zenoo_retry.strategies import FixedDelayStrategy

    class Recording(FixedDelayStrategy):
        def __init__(self):
            super().__init__(delay=0.0, max_attempts=3)
            self.seen = []

        def get_delay(self, attempt, previous=None):
            self.seen.append((attempt, previous))
            return 0.0

    s_sync, s_async = Recording(), Recording()
    assert retry(strategy=s_sync)(__import__("helpers").Flaky(OSError(), OSError(), result=1))() == 1
    g = async_retry(strategy=s_async)(AsyncFlaky(OSError(), OSError(), result=1))
    assert asyncio.run(g()) == 1
    assert s_sync.seen == s_async.seen == [(1, None), (2, 0.0)]
