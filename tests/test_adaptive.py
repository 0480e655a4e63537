"""AdaptiveStrategy: seed 004's parameters, the documented formula, recovery, seeded
jitter, validation, use inside retry policies (sync, async) and thread safety."""
from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zenoo_retry import (
    AdaptiveStrategy,
    InvalidConfigurationError,
    MaxRetriesExceededError,
    RetryPolicy,
    _core,
    async_retry,
    retry,
    strategies,
)
from zenoo_retry.testing import instant_retries

from helpers import AsyncFlaky, Flaky


def expected(base, cap, p, n):
    """The README formula, written independently of the C code."""
    return min(cap, base * (1 + 3 * p) * (1 + p) ** (n - 1))


def test_seed_004_defaults_and_identity():
    s = AdaptiveStrategy()
    assert (s.max_attempts, s.base_delay, s.max_delay) == (5, 1.0, 60.0)
    assert (s.success_threshold, s.adaptation_window, s.min_samples) == (0.8, 100, 10)
    assert isinstance(s, _core.Backoff) and isinstance(s, strategies.RetryStrategy)
    assert strategies.AdaptiveStrategy is AdaptiveStrategy
    assert "AdaptiveStrategy" in strategies.__all__
    assert s.jitter is False and s.samples == 0 and s.success_rate == 1.0
    assert "success_threshold=0.8" in repr(s)


def test_formula_at_each_pressure():
    s = AdaptiveStrategy(max_attempts=7, base_delay=0.5, max_delay=30.0)
    # not enough samples: p = 0.5
    assert s.pressure == 0.5
    assert s.delays() == [expected(0.5, 30, 0.5, n) for n in range(1, 7)]
    for _ in range(9):
        s.record_success()
    assert s.pressure == 0.5  # 9 < min_samples
    s.record_success()
    assert s.pressure == 0.0
    assert s.delays() == [0.5] * 6  # healthy: base delay every time
    for _ in range(15):
        s.record_failure()  # 10 / 25 = 0.4 -> p = 0.5
    assert s.success_rate == 0.4 and s.samples == 25
    assert s.pressure == pytest.approx(0.5)
    assert s.delays() == pytest.approx([expected(0.5, 30, 0.5, n) for n in range(1, 7)])
    s.reset()
    for _ in range(10):
        s.record_failure()
    assert s.pressure == 1.0
    assert s.delays() == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert s.raw_delay(10**30) == 30.0 and s.get_delay(10**30) == 30.0


def test_returns_to_base_when_healthy_again():
    s = AdaptiveStrategy(base_delay=1.0, adaptation_window=20, min_samples=5)
    for _ in range(20):
        s.record(False)
    assert s.get_delay(1) == 4.0
    for _ in range(20):
        s.record(True)
    assert s.success_rate == 1.0 and s.samples == 20
    assert s.get_delay(1) == 1.0 and s.get_delay(4) == 1.0
    st_ = s.stats()
    assert st_["total_failures"] == 20 and st_["total_successes"] == 20


@settings(max_examples=100, deadline=None)
@given(fails=st.integers(0, 100), attempt=st.integers(1, 12), threshold=st.floats(0.05, 1.0))
def test_delay_follows_the_formula_and_grows_as_rate_falls(fails, attempt, threshold):
    s = AdaptiveStrategy(max_attempts=3, base_delay=1.0, max_delay=1000.0, success_threshold=threshold)
    for i in range(100):
        s.record(i >= fails)
    rate = (100 - fails) / 100
    p = min(1.0, max(0.0, (threshold - rate) / threshold))
    assert s.raw_delay(attempt) == pytest.approx(expected(1.0, 1000.0, p, attempt), rel=1e-12)
    worse = AdaptiveStrategy(max_attempts=3, base_delay=1.0, max_delay=1000.0, success_threshold=threshold)
    for i in range(100):
        worse.record(i > fails)  # one failure more
    assert worse.raw_delay(attempt) >= s.raw_delay(attempt)


def test_seeded_jitter_is_reproducible_and_bounded():
    def make(seed):
        s = AdaptiveStrategy(max_attempts=10, jitter=True, seed=seed)
        for _ in range(10):
            s.record_failure()
        return s

    a, b, c = make(7), make(7), make(8)
    da, db, dc = a.delays(), b.delays(), c.delays()
    assert da == db and da != dc
    raw = [a.raw_delay(n) for n in range(1, 10)]
    assert all(0.0 <= d <= r for d, r in zip(da, raw))
    e = AdaptiveStrategy(jitter=True, jitter_type="equal", seed=1)
    assert e.jitter_kind == "equal"


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 2**40}, "max_attempts"),
        ({"base_delay": -1}, "base_delay"),
        ({"base_delay": float("nan")}, "base_delay"),
        ({"max_delay": float("inf")}, "max_delay"),
        ({"success_threshold": 1.5}, "success_threshold"),
        ({"success_threshold": -0.1}, "success_threshold"),
        ({"success_threshold": float("nan")}, "success_threshold"),
        ({"adaptation_window": 0}, "adaptation_window"),
        ({"adaptation_window": 16385}, "adaptation_window"),
        ({"adaptation_window": 10, "min_samples": 11}, "min_samples"),
        ({"min_samples": -1}, "min_samples"),
        ({"jitter": True, "jitter_type": "wobbly"}, "jitter_type"),
        ({"jitter_factor": 2.0}, "jitter_factor"),
    ],
)
def test_bad_values_name_parameter_and_value(kwargs, param):
    with pytest.raises(InvalidConfigurationError) as ei:
        AdaptiveStrategy(**kwargs)
    assert ei.value.parameter == param
    assert param in str(ei.value)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 2.5}, {"base_delay": "1"}, {"adaptation_window": 10.0}, {"min_samples": True},
     {"jitter": "yes"}, {"seed": 1.5}],
)
def test_wrong_types(kwargs):
    with pytest.raises(TypeError):
        AdaptiveStrategy(**kwargs)


def test_get_delay_arguments():
    s = AdaptiveStrategy()
    with pytest.raises(ValueError):
        s.get_delay(0)
    with pytest.raises(TypeError):
        s.get_delay(1.0)
    assert s.get_delay(1, None) == 2.5


def test_policies_record_every_attempt_in_c():
    s = AdaptiveStrategy(max_attempts=3, base_delay=1.0)
    with instant_retries() as sleeps:
        with pytest.raises(MaxRetriesExceededError):
            retry(strategy=s)(Flaky(*[OSError()] * 3))()
        assert retry(strategy=s)(Flaky(OSError()))() == "ok"
    st_ = s.stats()
    assert (st_["total_failures"], st_["total_successes"]) == (4, 1)
    # fewer than min_samples outcomes: p = 0.5 -> 2.5, 3.75, then 2.5 for the second call
    assert sleeps.delays == [2.5, 3.75, 2.5]


def test_policy_delays_adapt_to_the_success_rate():
    s = AdaptiveStrategy(max_attempts=2, base_delay=0.1, min_samples=10)
    ok = retry(strategy=s)(lambda: 1)
    for _ in range(20):
        ok()
    with instant_retries() as sleeps:
        retry(strategy=s)(Flaky(OSError()))()
    assert sleeps.delays == [0.1]  # healthy: 20 of 21 attempts succeeded
    with instant_retries() as sleeps:
        for _ in range(30):
            with pytest.raises(MaxRetriesExceededError):
                retry(strategy=s)(Flaky(OSError(), OSError()))()
    assert sleeps.delays[-1] > 0.1 * 3  # the rate fell well below 0.8


async def test_async_policy_records_and_adapts():
    s = AdaptiveStrategy(max_attempts=3, base_delay=1.0, min_samples=1)
    with instant_retries() as sleeps:
        assert await async_retry(strategy=s)(AsyncFlaky(OSError(), OSError()))() == "ok"
    assert s.stats()["total_failures"] == 2 and s.stats()["total_successes"] == 1
    assert sleeps.delays == [4.0, 8.0]  # p = 1 after one failure, then after two


def test_control_flow_exceptions_are_not_outcomes():
    s = AdaptiveStrategy()

    @retry(strategy=s)
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert s.samples == 0


def test_stateful_strategy_refuses_decorator_overrides():
    s = AdaptiveStrategy()
    with pytest.raises(InvalidConfigurationError):
        retry(strategy=s, max_attempts=2)
    assert RetryPolicy(strategy=s).max_attempts == 5


def test_python_overrides_are_honoured():
    class Fixed(AdaptiveStrategy):
        def get_delay(self, attempt, previous=None):
            return 0.25

    seen = []

    class Watching(AdaptiveStrategy):
        def _zr_record(self, success):
            seen.append(success)
            super()._zr_record(success)

    with instant_retries() as sleeps:
        retry(strategy=Fixed(max_attempts=2))(Flaky(OSError()))()
        retry(strategy=Watching(max_attempts=2, min_samples=0))(Flaky(OSError()))()
    assert sleeps.delays[0] == 0.25
    assert seen == [False, True]
    assert sleeps.delays[1] == 4.0  # one failure recorded: p = 1


def test_threads_record_exact_totals():
    s = AdaptiveStrategy(adaptation_window=1000)

    def work(i):
        for k in range(20_000):
            s.record((k + i) % 4 != 0)
            if k % 500 == 0:
                assert 0 <= s.pressure <= 1

    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    st_ = s.stats()
    assert st_["total_successes"] + st_["total_failures"] == 160_000
    assert st_["total_failures"] == 40_000
    assert st_["samples"] == 1000 and 0 <= st_["successes"] <= 1000
