"""Bulk retries: rounds that retry only the failed operations, a concurrency limit that
holds (checked with barriers and an in-flight counter), sync and async."""
from __future__ import annotations

import asyncio
import threading

import pytest

from zenoo_retry import ExponentialBackoffStrategy, InvalidConfigurationError, MaxRetriesExceededError
from zenoo_retry.bulk import AsyncBulkRetryManager, BulkRetryManager, BulkThresholdError
from zenoo_retry.classification import ErrorType
from zenoo_retry.dead_letters import DeadLetterQueue
from zenoo_retry.testing import instant_retries


class Op:
    """Fails `failures` times, then returns `value`; counts calls."""

    def __init__(self, value, failures=0, error=ConnectionError):
        self.value = value
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"op {self.value} failure {self.calls}")
        return self.value


class AOp(Op):
    async def __call__(self):  # type: ignore[override]
        await asyncio.sleep(0)
        return Op.__call__(self)


def plain_manager(cls=BulkRetryManager, **kw):
    kw.setdefault("strategy", ExponentialBackoffStrategy(max_attempts=3, base_delay=2.0, jitter=False))
    return cls(**kw)


def test_only_failed_operations_are_retried():
    ops = [Op(0), Op(1, failures=1), Op(2, failures=2), Op(3, failures=5), Op(4, failures=1, error=ValueError)]
    bulk = plain_manager(max_attempts=3, base_delay=2.0, partial_success_threshold=0.6,
                         exceptions=ConnectionError)
    with instant_retries() as sleeps:
        result = bulk.execute_bulk(ops)
    assert [o.calls for o in ops] == [1, 2, 3, 3, 1]
    assert [(i.index, i.value, i.attempts) for i in result.successful] == [(0, 0, 1), (1, 1, 2), (2, 2, 3)]
    assert [(i.index, type(i.error).__name__, i.attempts) for i in result.failed] == [
        (3, "ConnectionError", 3), (4, "ValueError", 1)]
    assert isinstance(result.failed[0].final_error, MaxRetriesExceededError)
    assert result.failed[1].final_error is result.failed[1].error  # not retryable: raised as is
    assert result.success_ratio == pytest.approx(0.6) and result.threshold_met and result.rounds == 3
    assert result.values == [0, 1, 2]
    assert sleeps.delays == [2.0, 4.0]  # one wait per round: the longest any op was given
    assert result.raise_for_threshold() is result


def test_threshold_not_met():
    bulk = BulkRetryManager(max_attempts=2, base_delay=0.5, partial_success_threshold=0.8)
    with instant_retries():
        result = bulk.execute_bulk([Op(1), Op(2, failures=9)])
    assert result.success_ratio == 0.5 and not result.threshold_met
    with pytest.raises(BulkThresholdError, match="1 of 2 operations succeeded") as info:
        result.raise_for_threshold()
    assert info.value.result is result


def test_empty_bulk():
    result = BulkRetryManager().execute_bulk([])
    assert result.total == 0 and result.success_ratio == 1.0 and result.rounds == 0


def test_sync_concurrency_limit_holds_and_is_used():
    limit = 3
    barrier = threading.Barrier(limit, timeout=10)
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def op():
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        try:
            barrier.wait()  # passes only when `limit` operations run together
        finally:
            with lock:
                state["now"] -= 1
        return "ok"

    bulk = BulkRetryManager(max_concurrency=limit)
    result = bulk.execute_bulk([op] * (limit * 4))
    assert len(result.successful) == limit * 4
    assert state["max"] == limit


async def test_async_concurrency_limit_holds_and_is_used():
    limit = 4
    state = {"now": 0, "max": 0}
    release = asyncio.Event()

    async def op():
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
        if state["now"] == limit:
            release.set()
        await asyncio.wait_for(release.wait(), 10)
        state["now"] -= 1
        return 1

    result = await BulkRetryManager(max_concurrency=limit).execute_bulk_async([op] * 10)
    assert len(result.successful) == 10 and state["max"] == limit


async def test_async_rounds_and_seed_004_shape():
    ops = [AOp(i, failures=i % 3) for i in range(9)]
    bulk = plain_manager(AsyncBulkRetryManager, max_attempts=3, base_delay=2.0, partial_success_threshold=0.8)
    with instant_retries() as sleeps:
        results = await bulk.execute_bulk(ops)
    assert len(results.successful) == 9 and len(results.failed) == 0
    assert [o.calls for o in ops] == [1, 2, 3] * 3
    assert sleeps.delays == [2.0, 4.0] and results.rounds == 3


def test_error_types_and_retry_after_apply_per_operation():
    class Throttled(Exception):
        status_code = 429

        def __init__(self, *args):
            super().__init__(*args)
            self.retry_after = 7

    ops = [Op(0, failures=1, error=Throttled), Op(1, failures=1, error=KeyError)]
    bulk = plain_manager(max_attempts=3, retryable_errors=[ErrorType.RATE_LIMIT], respect_retry_after=True)
    with instant_retries() as sleeps:
        result = bulk.execute_bulk(ops)
    assert [i.index for i in result.successful] == [0] and [i.index for i in result.failed] == [1]
    assert sleeps.delays == [7.0]


def test_dead_letters_for_each_final_failure():
    q = DeadLetterQueue()
    bulk = BulkRetryManager(max_attempts=2, base_delay=0.1, dead_letter=q, name="import")
    with instant_retries():
        bulk.execute_bulk([Op(0, failures=5), Op(1), Op(2, failures=5)])
    assert [(letter.operation, letter.attempts) for letter in q] == [("import", 2), ("import", 2)]


async def test_async_dead_letter_handler_awaited():
    seen = []

    async def handler(operation, error, attempts, metadata):
        await asyncio.sleep(0)
        seen.append(str(error))

    bulk = BulkRetryManager(max_attempts=1, dead_letter=handler)
    result = await bulk.execute_bulk_async([AOp(0, failures=1), AOp(1)])
    assert seen == ["op 0 failure 1"] and len(result.failed) == 1
    with pytest.raises(TypeError, match="execute_bulk_async"):
        bulk.execute_bulk([Op(0)])


def test_keyboard_interrupt_aborts_the_bulk():
    def op():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        BulkRetryManager().execute_bulk([op])


def test_async_op_in_sync_bulk_is_a_clear_error():
    result = BulkRetryManager(max_attempts=1).execute_bulk([AOp(1)])
    assert "execute_bulk_async" in str(result.failed[0].error)


def test_bad_arguments():
    with pytest.raises(InvalidConfigurationError, match="partial_success_threshold") as info:
        BulkRetryManager(partial_success_threshold=1.5)
    assert info.value.value == 1.5
    with pytest.raises(TypeError, match="partial_success_threshold"):
        BulkRetryManager(partial_success_threshold="80%")
    with pytest.raises(InvalidConfigurationError, match="max_concurrency"):
        BulkRetryManager(max_concurrency=0)
    with pytest.raises(TypeError, match="max_concurrency"):
        BulkRetryManager(max_concurrency=2.0)
    with pytest.raises(InvalidConfigurationError, match="max_attempts"):
        BulkRetryManager(max_attempts=0)
    with pytest.raises(TypeError, match=r"operations\[1\]"):
        BulkRetryManager().execute_bulk([Op(1), "not callable"])
    with pytest.raises(TypeError, match="sleep"):
        BulkRetryManager(sleep=3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        BulkRetryManager(retry_after=True)


async def test_async_bulk_of_real_http_requests():
    import httpx

    from ops_http import OK, ScriptedServer

    with ScriptedServer() as server:
        urls = []
        for i in range(6):
            if i % 2:
                urls.append(server.set(f"/item{i}", (503, {"Retry-After": str(i)}, b""), OK))
            else:
                urls.append(server.set(f"/item{i}", OK))
        urls.append(server.set("/gone", (404, {}, b"")))
        async with httpx.AsyncClient(timeout=5) as client:

            async def get(url):
                r = await client.get(url)
                r.raise_for_status()
                return r.text

            bulk = BulkRetryManager(max_attempts=3, base_delay=0.5, max_concurrency=3,
                                    retryable_errors=["server"], respect_retry_after=True,
                                    partial_success_threshold=0.8)
            with instant_retries() as sleeps:
                result = await bulk.execute_bulk_async([lambda u=u: get(u) for u in urls])
        hits = dict(server.hits)
    assert [i.index for i in result.successful] == [0, 1, 2, 3, 4, 5]
    assert [(i.index, i.error.response.status_code) for i in result.failed] == [(6, 404)]
    assert sleeps.delays == [5.0]  # one wait: the longest Retry-After of the round
    assert [hits[f"/item{i}"] for i in range(6)] == [1, 2, 1, 2, 1, 2] and hits["/gone"] == 1
    assert result.threshold_met and result.rounds == 2


class RefuseFirst:
    """Breaker protocol: refuses the first `n` admissions (retry_after 3 s), then admits."""

    def __init__(self, n):
        self.n = n
        self.lock = threading.Lock()

    def _zr_enter(self):
        from zenoo_retry import CircuitBreakerOpenError

        with self.lock:
            if self.n > 0:
                self.n -= 1
                raise CircuitBreakerOpenError(name="dep", retry_after=3.0)

    def _zr_exit(self, token, exc):
        pass


def test_breaker_refusal_waits_for_the_next_round_or_is_final():
    from zenoo_retry import CircuitBreakerOpenError

    ops = [Op(i) for i in range(4)]
    bulk = BulkRetryManager(max_attempts=3, base_delay=0.5, max_concurrency=1,
                            circuit_breaker=RefuseFirst(2), respect_retry_after=True)
    with instant_retries() as sleeps:
        result = bulk.execute_bulk(ops)
    assert len(result.successful) == 4 and sleeps.delays == [3.0]
    assert sorted(i.attempts for i in result.successful) == [1, 1, 2, 2]

    strict = BulkRetryManager(max_attempts=3, max_concurrency=1, circuit_breaker=RefuseFirst(1),
                              retryable_errors=["network", "timeout", "transient", "unknown"])
    with instant_retries():
        result = strict.execute_bulk([Op(0), Op(1)])
    assert [i.index for i in result.failed] == [0]
    assert isinstance(result.failed[0].error, CircuitBreakerOpenError)
