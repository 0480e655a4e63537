"""Named managers (seed 002's RetryManagerPool): one policy, breaker, metrics object and
dead-letter handler shared by every call made through a name."""
from __future__ import annotations

import threading

import pytest

from helpers import AsyncFlaky, Flaky
from zenoo_retry import (
    CircuitBreakerOpenError,
    DeadLetterQueue,
    ExponentialBackoffStrategy,
    InvalidConfigurationError,
    MaxRetriesExceededError,
    RetryPolicy,
)
from zenoo_retry.managers import RetryManager, RetryManagerPool
from zenoo_retry.metrics import RetryMetrics
from zenoo_retry.testing import instant_retries


class CountingBreaker:
    """Speaks RetrySpec's breaker protocol; opens after `threshold` failures in a row."""

    def __init__(self, name, threshold=3):
        self.name = name
        self.threshold = threshold
        self.failures = 0
        self.entered = 0
        self.lock = threading.Lock()

    def _zr_enter(self):
        with self.lock:
            if self.failures >= self.threshold:
                raise CircuitBreakerOpenError(name=self.name, retry_after=30.0)
            self.entered += 1
        return None

    def _zr_exit(self, token, exc):
        with self.lock:
            self.failures = self.failures + 1 if exc is not None else 0


def test_default_managers_follow_seed_002():
    made = []
    pool = RetryManagerPool(breaker_factory=lambda name: made.append(name) or CountingBreaker(name))
    db, http, s3, cache = (pool.get_manager(n) for n in ("database", "http", "s3", "cache"))
    assert (db.policy.max_attempts, http.policy.max_attempts, s3.policy.max_attempts,
            cache.policy.max_attempts) == (3, 5, 4, 2)
    assert db.policy.strategy.base_delay == 0.1 and http.policy.strategy.base_delay == 0.2
    assert s3.policy.strategy.base_delay == 0.5 and cache.policy.strategy.base_delay == 0.05
    assert made == ["database", "http", "s3"] and cache.circuit_breaker is None
    assert pool.get_manager("http") is http and pool["database"] is db
    assert pool.names() == ["cache", "database", "http", "s3"] and "s3" in pool
    assert http.policy.respect_retry_after and s3.policy.respect_retry_after
    assert not db.policy.respect_retry_after and not cache.policy.respect_retry_after


def test_http_manager_against_a_real_server_honours_retry_after():
    import requests

    from ops_http import OK, ScriptedServer

    with ScriptedServer() as server:
        url = server.set("/api", (429, {"Retry-After": "2"}, b""), (503, {"Retry-After": "4"}, b""), OK)

        def get(u):
            r = requests.get(u, timeout=5)
            r.raise_for_status()
            return r.text

        with instant_retries() as sleeps:
            assert RetryManagerPool().get_manager("http").execute(get, url) == "ok"
    assert sleeps.delays == [2.0, 4.0]


def test_default_pool_has_real_breakers_shared_by_callers():
    from zenoo_retry.circuit_breaker import CircuitBreaker

    q = DeadLetterQueue()
    pool = RetryManagerPool(dead_letter=q)
    http = pool.get_manager("http")
    assert isinstance(http.circuit_breaker, CircuitBreaker) and http.circuit_breaker.name == "http"
    assert pool.get_manager("cache").circuit_breaker is None
    with instant_retries():
        with pytest.raises(MaxRetriesExceededError):
            http.execute(Flaky(*[TimeoutError()] * 5))  # 5 failures: the breaker opens
        with pytest.raises(CircuitBreakerOpenError):
            http.execute(lambda: "refused")
    assert http.circuit_breaker.state == "open"
    assert [(d.attempts, d.metadata["error_type"]) for d in q] == [(5, "timeout"), (0, "circuit_breaker")]
    assert RetryManagerPool(breaker_factory=None).get_manager("http").circuit_breaker is None


def test_execute_sync_with_args():
    pool = RetryManagerPool(breaker_factory=None)
    op = Flaky(ConnectionError(), result="row")
    with instant_retries() as sleeps:
        assert pool.get_manager("database").execute(op, 7, key="x") == "row"
    assert op.args == [((7,), {"key": "x"})] * 2 and len(sleeps) == 1


async def test_execute_async():
    pool = RetryManagerPool()
    op = AsyncFlaky(TimeoutError(), TimeoutError(), result=200)
    with instant_retries() as sleeps:
        assert await pool.get_manager("http").execute_async(op, "https://example.invalid") == 200
    assert len(sleeps) == 2


async def test_decorate_sync_and_async():
    manager = RetryManager("svc", max_attempts=2, delay=0.5)

    @manager.decorate
    def f():
        raise OSError("down")

    @manager.decorate(name="g-op")
    async def g():
        raise OSError("down")

    with instant_retries():
        with pytest.raises(MaxRetriesExceededError):
            f()
        with pytest.raises(MaxRetriesExceededError):
            await g()
    assert f.retry_spec.name == "svc" and g.retry_spec.name == "g-op"


def test_one_breaker_shared_by_every_caller():
    pool = RetryManagerPool(breaker_factory=lambda name: CountingBreaker(name, threshold=3))
    http = pool.get_manager("http")
    failing = Flaky(*[ConnectionError()] * 10)
    with instant_retries(max_attempts=3):
        with pytest.raises(MaxRetriesExceededError):
            http.execute(failing)  # 3 failures: the shared breaker opens

        @http.decorate
        def other():
            return "never runs"

        with pytest.raises(CircuitBreakerOpenError):
            other()
        with pytest.raises(CircuitBreakerOpenError):
            http.execute(lambda: "nor this")
    assert http.circuit_breaker.entered == 3
    # the cache manager has no breaker: unaffected
    assert pool.get_manager("cache").execute(lambda: "hit") == "hit"


def test_register_custom_manager_and_dead_letters():
    q = DeadLetterQueue()
    pool = RetryManagerPool(dead_letter=q)
    payments = pool.register("payments", RetryPolicy(ExponentialBackoffStrategy(max_attempts=2, jitter=False)),
                             retryable_errors=["network"])
    with instant_retries():
        with pytest.raises(MaxRetriesExceededError):
            payments.execute(Flaky(ConnectionError(), ConnectionError()))
        with pytest.raises(ValueError):
            payments.execute(Flaky(ValueError("card declined")))
    assert [(d.operation, d.attempts, d.metadata["manager"]) for d in q] == [("payments", 2, "payments"),
                                                                             ("payments", 1, "payments")]
    with pytest.raises(InvalidConfigurationError, match="already exists"):
        pool.register("payments")
    assert pool.register("payments", replace=True, max_attempts=4).policy.max_attempts == 4


def test_metrics_shared_and_counted_per_manager():
    metrics = RetryMetrics()
    q = DeadLetterQueue()
    pool = RetryManagerPool(metrics=metrics, dead_letter=q)
    s3 = pool.get_manager("s3")
    assert s3.metrics is metrics and pool.register("queue").metrics is metrics
    with instant_retries():
        assert s3.execute(Flaky(ConnectionError(), result="put")) == "put"

        @s3.decorate
        def upload():
            raise ConnectionError("down")

        with pytest.raises(MaxRetriesExceededError):
            upload()
    stats = metrics.get_stats("s3")
    assert stats["total_attempts"] == 2 + 4 and stats["dead_letters"] == 1 and len(q) == 1


def test_registered_breaker_true_uses_the_factory():
    pool = RetryManagerPool(breaker_factory=lambda name: CountingBreaker(name))
    assert isinstance(pool.register("search", circuit_breaker=True).circuit_breaker, CountingBreaker)
    assert pool.register("plain", circuit_breaker=False).circuit_breaker is None


def test_wrapped_functions_are_cached():
    manager = RetryManager("m")

    def op():
        return 1

    manager.execute(op)
    manager.execute(op)
    assert len(manager._wrapped) == 1

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self):
            return "fine"

    assert manager.execute(Unhashable()) == "fine" and len(manager._wrapped) == 1


def test_concurrent_get_manager_returns_one_instance():
    pool = RetryManagerPool()
    seen = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        seen.append(pool.get_manager("database"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(m) for m in seen}) == 1


def test_bad_arguments():
    pool = RetryManagerPool()
    with pytest.raises(InvalidConfigurationError, match="database, http") as info:
        pool.get_manager("databse")
    assert info.value.parameter == "name" and info.value.value == "databse"
    with pytest.raises(InvalidConfigurationError, match="breaker_factory"):
        RetryManagerPool(breaker_factory=None).register("x", circuit_breaker=True)
    with pytest.raises(TypeError, match="breaker_factory"):
        RetryManagerPool(breaker_factory=3)
    with pytest.raises(TypeError, match="name"):
        RetryManager("")
    with pytest.raises(TypeError, match="fn must be callable"):
        RetryManager("m").execute(42)

    async def coro():
        pass

    with pytest.raises(TypeError, match="execute_async"):
        RetryManager("m").execute(coro)
    with pytest.raises(TypeError, match="on_retry"):
        RetryManager("m", on_retry=5)
    with pytest.raises(TypeError, match="unexpected keyword"):
        RetryManager("m", retries=5)
    pool.get_manager("cache")
    pool.close()
    assert pool.names() == []
