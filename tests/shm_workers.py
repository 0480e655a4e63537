"""Worker functions run in real processes by the shared-memory tests (see multiproc.py).
Module-level so that spawn children can import them."""
from __future__ import annotations

from multiprocessing.connection import Connection

from zenoo_retry import _core


def count(name: str, fingerprint: int, increments: int) -> int:
    """Add 1 to a test segment's counter `increments` times; return the last value seen."""
    return _core._shm_test_counter(name, fingerprint, increments)


def hold_lock(ready: Connection, name: str, offset: int, data: bytes) -> None:
    """Lock segment `name`, scribble `data` into its payload, signal, wait to be killed."""
    _core._shm_hold_lock(name, offset, data, ready.fileno())


# --- shared breaker / budget / adaptive workers -----------------------------------------


class Boom(Exception):
    """The failure the shared breakers count."""


def _fail() -> None:
    raise Boom("down")


def _ok() -> None:
    return None


def breaker_calls(name: str, options: dict, calls: int) -> tuple:
    """`calls` calls through a shared breaker, every third one failing; returns
    (admitted, refused) as seen by this process."""
    from zenoo_retry import CircuitBreakerOpenError
    from zenoo_retry.circuit_breaker import CircuitBreaker

    cb = CircuitBreaker(expected_exception=Boom, shared=name, **options)
    admitted = refused = 0
    for i in range(calls):
        try:
            cb.call(_fail if i % 3 == 0 else _ok)
            admitted += 1
        except Boom:
            admitted += 1
        except CircuitBreakerOpenError:
            refused += 1
    return admitted, refused


def budget_acquire(name: str, options: dict, tries: int) -> int:
    """`tries` single-token acquisitions from a shared budget; returns how many it got."""
    from zenoo_retry import RetryBudget

    budget = _budget(name, options)
    return sum(1 for _ in range(tries) if budget.try_acquire())


def budget_requests(name: str, options: dict, requests: int) -> None:
    """Count `requests` logical calls on a shared (ratio) budget."""
    budget = _budget(name, options)
    for _ in range(requests):
        budget.record_request()


def _budget(name: str, options: dict):
    from zenoo_retry import RetryBudget

    options = dict(options)
    if options.pop("mode", "token") == "ratio":
        return RetryBudget.ratio(shared=name, **options)
    return RetryBudget(shared=name, **options)


def adaptive_record(name: str, options: dict, outcomes: int) -> None:
    """Record `outcomes` outcomes (3 successes, then 1 failure, repeating)."""
    from zenoo_retry.adaptive import AdaptiveStrategy

    strategy = AdaptiveStrategy(shared=name, **options)
    for i in range(outcomes):
        strategy.record(i % 4 != 3)


def hold_probe(ready, name: str, options: dict) -> None:
    """Take the half-open probe of a shared breaker (after its break), signal, wait to be
    killed while holding it."""
    import time

    from zenoo_retry.circuit_breaker import CircuitBreaker

    cb = CircuitBreaker(expected_exception=Boom, shared=name, **options)
    cb._zr_enter()  # the probe permit, never returned
    ready.send(cb.stats().probes_in_flight)
    while True:
        time.sleep(60)


def hold_probe_of(ready, breaker) -> None:
    """Same, with a breaker object inherited through fork."""
    import time

    breaker._zr_enter()
    ready.send(breaker.stats().probes_in_flight)
    while True:
        time.sleep(60)


def trip(name: str, options: dict) -> str:
    """Record failures until the shared breaker opens; return the state it reached."""
    from zenoo_retry.circuit_breaker import CircuitBreaker

    cb = CircuitBreaker(expected_exception=Boom, shared=name, **options)
    for _ in range(cb.failure_threshold):
        cb.record_failure()
    return cb.state


def calls_with(breaker, calls: int) -> None:
    """`calls` successful calls through a breaker object inherited through fork."""
    for _ in range(calls):
        breaker.call(_ok)


def retry_through_shared(breaker_name: str, budget_name: str, calls: int) -> dict:
    """`calls` calls of an always-failing function under @retry(max_attempts=3) with a
    shared breaker (never trips) and a shared token budget; how each call ended."""
    import zenoo_retry
    from zenoo_retry import BudgetExhaustedError, MaxRetriesExceededError, RetryBudget
    from zenoo_retry.circuit_breaker import CircuitBreaker

    cb = CircuitBreaker(failure_threshold=10**6, recovery_timeout=30.0,
                        expected_exception=Boom, shared=breaker_name)
    budget = RetryBudget(capacity=100, refill_rate=0.0, shared=budget_name)

    @zenoo_retry.retry(max_attempts=3, delay=0, exceptions=Boom, circuit_breaker=cb,
                       budget=budget)
    def call() -> None:
        raise Boom("down")

    ended = {"exhausted": 0, "gave_up": 0}
    for _ in range(calls):
        try:
            call()
        except BudgetExhaustedError:
            ended["exhausted"] += 1
        except MaxRetriesExceededError:
            ended["gave_up"] += 1
    return ended
