"""Delay strategies: the seeds' published tables, jitter bounds and means, validation."""
import math
import statistics

import pytest

from zenoo_retry import InvalidConfigurationError
from zenoo_retry.strategies import (
    CustomBackoffStrategy,
    ExponentialBackoffStrategy,
    FibonacciBackoffStrategy,
    FixedDelayStrategy,
    LinearBackoffStrategy,
    RetryStrategy,
    WithJitter,
)


# --- published tables, jitter off --------------------------------------------------


def test_seed004_linear_table():
    s = LinearBackoffStrategy(max_attempts=5, base_delay=2.0, increment=3.0, max_delay=30.0, jitter=False)
    assert [s.get_delay(n) for n in range(1, 6)] == [2.0, 5.0, 8.0, 11.0, 14.0]
    # max_attempts counts the first call: five attempts have four waits
    assert s.delays() == [2.0, 5.0, 8.0, 11.0]


def test_seed004_exponential_table():
    s = ExponentialBackoffStrategy(max_attempts=5, base_delay=1.0, multiplier=2.0, max_delay=60.0, jitter=False)
    assert [s.get_delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_seed001_default_table_ms():
    s = ExponentialBackoffStrategy(max_attempts=9, base_delay=0.1, max_delay=5.0, jitter=False)
    got = [round(d * 1000, 6) for d in s.delays()]
    assert got == [100, 200, 400, 800, 1600, 3200, 5000, 5000]


def test_fibonacci_and_fixed():
    assert FibonacciBackoffStrategy(max_attempts=8, base_delay=0.5, jitter=False).delays() == [
        0.5, 0.5, 1.0, 1.5, 2.5, 4.0, 6.5]
    f = FixedDelayStrategy(max_attempts=4, delay=60.0)
    assert f.delays() == [60.0, 60.0, 60.0]
    assert f.delay == 60.0 and f.jitter is False


def test_defaults_follow_seed004():
    e = ExponentialBackoffStrategy()
    assert (e.max_attempts, e.base_delay, e.multiplier, e.max_delay, e.jitter, e.jitter_kind) == (
        3, 1.0, 2.0, 60.0, True, "full")
    lin = LinearBackoffStrategy()
    assert (lin.max_attempts, lin.base_delay, lin.increment, lin.max_delay, lin.jitter) == (3, 1.0, 1.0, 60.0, True)
    fx = FixedDelayStrategy()
    assert (fx.max_attempts, fx.delay, fx.jitter) == (3, 1.0, False)


def test_custom_schedule_is_capped_and_validated():
    s = CustomBackoffStrategy(lambda attempt, base: attempt * attempt * base, max_attempts=5, base_delay=0.5, max_delay=5.0)
    assert s.delays() == [0.5, 2.0, 4.5, 5.0]
    assert s.get_delay(10) == 5.0
    bad = CustomBackoffStrategy(lambda a, b: -1.0)
    with pytest.raises(ValueError, match="-1.0"):
        bad.get_delay(1)
    with pytest.raises(TypeError, match="'soon'"):
        CustomBackoffStrategy(lambda a, b: "soon").get_delay(1)
    with pytest.raises(ZeroDivisionError):
        CustomBackoffStrategy(lambda a, b: 1 / 0).get_delay(1)
    assert CustomBackoffStrategy(lambda a, b: 10**400, max_delay=7.0).get_delay(1) == 7.0


def test_get_delay_rejects_bad_attempts():
    s = ExponentialBackoffStrategy(jitter=False)
    for bad in (0, -3):
        with pytest.raises(ValueError, match=f"attempt must be >= 1, got {bad}"):
            s.get_delay(bad)
    with pytest.raises(TypeError, match="attempt"):
        s.get_delay(1.5)
    assert s.get_delay(2**70) == 60.0  # saturates


# --- jitter -----------------------------------------------------------------------

N = 20000


def sample(strategy, attempt=3):
    return [strategy.get_delay(attempt) for _ in range(N)]


@pytest.mark.parametrize(
    "jitter_type, lo, hi, mean",
    [("full", 0.0, 4.0, 2.0), ("equal", 2.0, 4.0, 3.0)],
)
def test_jitter_bounds_and_mean(jitter_type, lo, hi, mean):
    s = ExponentialBackoffStrategy(jitter_type=jitter_type, seed=11)
    xs = sample(s)
    assert min(xs) >= lo and max(xs) <= hi
    assert statistics.fmean(xs) == pytest.approx(mean, abs=(hi - lo) * 0.02)
    assert statistics.pstdev(xs) > 0.1  # really random


def test_proportional_and_additive_jitter():
    prop = WithJitter(ExponentialBackoffStrategy(jitter=False), 0.3, seed=5)
    xs = sample(prop)
    assert min(xs) >= 4 * 0.7 and max(xs) <= 4 * 1.3
    assert statistics.fmean(xs) == pytest.approx(4.0, abs=0.03)
    add = ExponentialBackoffStrategy(jitter_type="additive", jitter_factor=0.3, seed=5)
    xs = sample(add)
    assert min(xs) >= 4.0 and max(xs) <= 4 * 1.3
    assert statistics.fmean(xs) == pytest.approx(4.6, abs=0.03)


def test_decorrelated_jitter_follows_previous_delay():
    s = ExponentialBackoffStrategy(max_attempts=10, base_delay=1.0, max_delay=20.0, jitter_type="decorr", seed=3)
    for _ in range(2000):
        prev = None
        for d in s.delays():
            hi = min(20.0, 3 * (prev if prev is not None else 1.0))
            assert 1.0 <= d <= hi
            prev = d


def test_seed_makes_schedules_reproducible():
    a = ExponentialBackoffStrategy(max_attempts=20, seed=99).delays()
    b = ExponentialBackoffStrategy(max_attempts=20, seed=99).delays()
    c = ExponentialBackoffStrategy(max_attempts=20, seed=100).delays()
    assert a == b and a != c
    s = ExponentialBackoffStrategy(max_attempts=20, seed=1)
    first = s.delays()
    s.reseed(1)
    assert s.delays() == first


def test_with_jitter_keeps_schedule():
    inner = LinearBackoffStrategy(max_attempts=6, base_delay=2, increment=3, jitter=False)
    w = WithJitter(inner, 0.0)
    assert w.delays() == [2.0, 5.0, 8.0, 11.0, 14.0]
    assert w.inner is inner and w.schedule == "linear"
    with pytest.raises(InvalidConfigurationError, match="factor") as ei:
        WithJitter(inner, 1.5)
    assert ei.value.parameter == "factor" and ei.value.value == 1.5


# --- validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, kwargs, param",
    [
        (ExponentialBackoffStrategy, {"max_attempts": 0}, "max_attempts"),
        (ExponentialBackoffStrategy, {"max_attempts": 2**40}, "max_attempts"),
        (ExponentialBackoffStrategy, {"base_delay": -1}, "base_delay"),
        (ExponentialBackoffStrategy, {"base_delay": math.nan}, "base_delay"),
        (ExponentialBackoffStrategy, {"base_delay": math.inf}, "base_delay"),
        (ExponentialBackoffStrategy, {"multiplier": 0.5}, "multiplier"),
        (ExponentialBackoffStrategy, {"max_delay": math.inf}, "max_delay"),
        (ExponentialBackoffStrategy, {"jitter_type": "bogus"}, "jitter_type"),
        (ExponentialBackoffStrategy, {"jitter_factor": 2.0}, "jitter_factor"),
        (LinearBackoffStrategy, {"increment": -2}, "increment"),
        (FixedDelayStrategy, {"delay": -0.1}, "delay"),
        (FibonacciBackoffStrategy, {"max_delay": -5}, "max_delay"),
    ],
)
def test_invalid_configuration_names_parameter_and_value(cls, kwargs, param):
    with pytest.raises(InvalidConfigurationError) as ei:
        cls(**kwargs)
    err = ei.value
    assert isinstance(err, ValueError)
    assert err.parameter == param
    value = next(iter(kwargs.values()))
    assert str(err).startswith(param)
    assert repr(value) in str(err)


@pytest.mark.parametrize(
    "kwargs, param",
    [({"max_attempts": "3"}, "max_attempts"), ({"max_attempts": 2.5}, "max_attempts"),
     ({"base_delay": "1"}, "base_delay"), ({"jitter": "yes"}, "jitter"), ({"seed": 1.5}, "seed")],
)
def test_wrong_types_raise_type_error_naming_parameter(kwargs, param):
    with pytest.raises(TypeError, match=param):
        ExponentialBackoffStrategy(**kwargs)


def test_subclassing_and_repr():
    class Mine(RetryStrategy):
        pass

    m = Mine("fixed", base_delay=0.5, max_delay=1.0, jitter="none")
    assert m.get_delay(5) == 0.5
    assert "Mine(" in repr(m)
    assert m.should_retry(2) and not m.should_retry(3)
    assert m.total_delay() == 1.0
