"""A circuit breaker inside a retry policy: every attempt passes the breaker, an open
circuit fails fast (no sleep while open), fallbacks apply; sync, async and block form; the
C fast path and the Python protocol path behave alike."""
from __future__ import annotations

import pytest

from helpers import FakeClock
from zenoo_retry import (
    CircuitBreaker,
    CircuitBreakerOpenError,
    MaxRetriesExceededError,
    RetryPolicy,
    async_retry,
    attempts,
    retry,
)
from zenoo_retry.strategies import FixedDelayStrategy


class PyBreaker:
    """A breaker speaking only the Python protocol (no C fast path)."""

    def __init__(self):
        self.log = []

    def _zr_enter(self):
        self.log.append("enter")
        return len(self.log)

    def _zr_exit(self, token, exc):
        self.log.append(("exit", token, type(exc).__name__ if exc else None))


class SubclassBreaker(CircuitBreaker):
    """Overrides the protocol: RetrySpec must call the override, not the C fast path."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.entered = 0

    def _zr_enter(self):
        self.entered += 1
        return super()._zr_enter()


def test_every_attempt_passes_the_breaker():
    clock = FakeClock()
    cb = CircuitBreaker(failure_threshold=10, clock=clock)
    calls = []

    @retry(max_attempts=3, delay=1.0, circuit_breaker=cb, sleep=clock.sleep, clock=clock)
    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("x")
        return "ok"

    assert flaky() == "ok"
    st = cb.stats()
    assert st.calls_admitted == 3 and st.total_failures == 2 and st.total_successes == 1


def test_open_circuit_fails_fast_without_sleeping():
    clock = FakeClock()
    cb = CircuitBreaker(failure_threshold=2, recovery_timeout=30.0, clock=clock)
    calls = []

    @retry(max_attempts=5, delay=1.0, circuit_breaker=cb, sleep=clock.sleep, clock=clock)
    def down():
        calls.append(1)
        raise ConnectionError("down")

    with pytest.raises(CircuitBreakerOpenError) as info:
        down()
    assert len(calls) == 2  # the breaker tripped on the 2nd failure
    assert len(clock.sleeps) == 1  # slept between attempts 1 and 2, not after the trip
    assert isinstance(info.value.__cause__, ConnectionError)
    # later calls are refused before the function runs
    with pytest.raises(CircuitBreakerOpenError):
        down()
    assert len(calls) == 2 and len(clock.sleeps) == 1


def test_retry_waits_out_a_short_break():
    """A break shorter than the retry delay does not stop the retry: the probe is made."""
    clock = FakeClock()
    cb = CircuitBreaker(failure_threshold=1, recovery_timeout=0.5, clock=clock)
    outcomes = [ConnectionError("once")]

    policy = RetryPolicy(strategy=FixedDelayStrategy(max_attempts=3, delay=1.0), circuit_breaker=cb)

    @retry(policy=policy, sleep=clock.sleep, clock=clock)
    def f():
        if outcomes:
            raise outcomes.pop()
        return "ok"

    assert f() == "ok"
    assert cb.state == "closed"


def test_open_circuit_returns_fallback():
    clock = FakeClock()
    cb = CircuitBreaker(failure_threshold=1, clock=clock)
    cb.isolate()

    @retry(max_attempts=3, circuit_breaker=cb, fallback="cached", sleep=clock.sleep, clock=clock)
    def f():
        raise AssertionError("never called")

    assert f() == "cached"


def test_policy_carries_the_breaker():
    clock = FakeClock()
    cb = CircuitBreaker(failure_threshold=1, clock=clock)
    policy = RetryPolicy(strategy=FixedDelayStrategy(max_attempts=4, delay=2.0), circuit_breaker=cb)

    @retry(policy=policy, sleep=clock.sleep, clock=clock)
    def f():
        raise TimeoutError("t")

    with pytest.raises(CircuitBreakerOpenError):
        f()
    assert clock.sleeps == []  # tripped at the first failure: no sleep at all


def test_non_retryable_error_still_counts_for_the_breaker():
    clock = FakeClock()
    cb = CircuitBreaker(failure_threshold=1, expected_exception=KeyError, clock=clock)

    @retry(max_attempts=3, exceptions=ConnectionError, circuit_breaker=cb, sleep=clock.sleep)
    def f():
        raise KeyError("k")

    with pytest.raises(KeyError):
        f()
    assert cb.state == "open"


def test_exhausted_retries_with_breaker_closed():
    clock = FakeClock()
    cb = CircuitBreaker(failure_threshold=100, clock=clock)

    @retry(max_attempts=3, delay=0.0, circuit_breaker=cb, sleep=clock.sleep)
    def f():
        raise ConnectionError("x")

    with pytest.raises(MaxRetriesExceededError):
        f()
    assert cb.stats().failure_count == 3


async def test_async_retry_with_breaker():
    clock = FakeClock()
    cb = CircuitBreaker(failure_threshold=2, recovery_timeout=30.0, clock=clock)
    calls = []

    @async_retry(max_attempts=5, delay=0.0, circuit_breaker=cb, clock=clock)
    async def down():
        calls.append(1)
        raise ConnectionError("down")

    with pytest.raises(CircuitBreakerOpenError):
        await down()
    assert len(calls) == 2
    clock.now += 30.0

    @async_retry(max_attempts=2, delay=0.0, circuit_breaker=cb, clock=clock)
    async def up():
        return "up"

    assert await up() == "up"
    assert cb.state == "closed"


def test_block_form_uses_the_breaker():
    clock = FakeClock()
    cb = CircuitBreaker(failure_threshold=1, clock=clock)
    tries = 0
    with pytest.raises(CircuitBreakerOpenError):
        for attempt in attempts(max_attempts=3, delay=0.0, circuit_breaker=cb):
            with attempt:
                tries += 1
                raise ConnectionError("x")
    assert tries == 1


def test_python_protocol_breaker_still_supported():
    b = PyBreaker()

    @retry(max_attempts=2, delay=0.0, circuit_breaker=b)
    def f():
        return 1

    assert f() == 1
    assert b.log == ["enter", ("exit", 1, None)]


def test_subclass_override_is_honoured():
    clock = FakeClock()
    cb = SubclassBreaker(failure_threshold=5, clock=clock)

    @retry(max_attempts=2, delay=0.0, circuit_breaker=cb)
    def f():
        return 1

    f()
    f()
    assert cb.entered == 2 and cb.stats().total_successes == 2


def test_retry_spec_exposes_breaker():
    cb = CircuitBreaker()

    @retry(max_attempts=2, circuit_breaker=cb)
    def f():
        return 1

    assert f.retry_spec.breaker is cb


def test_outage_with_a_breaker_spares_the_server():
    """The README's outage figure, on a smaller run: after the trip the server sees only
    the probes (one per recovery_timeout)."""
    from zenoo_retry.simulation import simulate_outage

    plain = simulate_outage(clients=100, seconds=12)
    with_breaker = simulate_outage(
        "breaker", clients=100, seconds=12,
        breaker=lambda clock: CircuitBreaker(5, 5.0, clock=clock))
    assert plain.attempts == 3 * plain.calls
    # 5 failures trip it; then one failing probe at t=5 and one at t=10
    assert with_breaker.attempts == 5 + 2
    assert with_breaker.outcomes["CircuitBreakerOpenError"] == with_breaker.calls - 1


async def test_seed_004_policy_attribute_example():
    """Seed 004: policy = DefaultRetryPolicy(); policy.circuit_breaker = breaker."""
    from zenoo_retry import DefaultRetryPolicy
    from zenoo_retry.testing import instant_retries

    breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=30.0, expected_exception=Exception)
    policy = DefaultRetryPolicy()
    policy.circuit_breaker = breaker
    calls = []

    @async_retry(policy=policy)
    async def protected_operation():
        calls.append(1)
        raise ConnectionError("down")

    with instant_retries():
        with pytest.raises(CircuitBreakerOpenError):
            await protected_operation()
    assert len(calls) == 2 and breaker.state == "open"
