"""Property tests: any valid configuration gives finite delays in [0, max_delay];
any invalid one raises InvalidConfigurationError naming a parameter."""
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from zenoo_retry import InvalidConfigurationError
from zenoo_retry._core import Backoff

finite_nonneg = st.floats(min_value=0.0, max_value=1e308, allow_nan=False, allow_infinity=False)
schedules = st.sampled_from(["fixed", "linear", "exponential", "fibonacci"])
jitters = st.sampled_from(["none", "full", "equal", "decorrelated", "proportional", "additive"])
attempts = st.one_of(st.integers(1, 100), st.integers(1, 2**32), st.integers(1, 2**80))


@settings(max_examples=400, deadline=None)
@given(
    schedule=schedules, jitter=jitters, base=finite_nonneg, inc=finite_nonneg,
    mult=st.floats(min_value=1.0, max_value=1e308), cap=finite_nonneg,
    factor=st.floats(0.0, 1.0), attempt=attempts, prev=st.one_of(st.none(), finite_nonneg),
    seed=st.integers(0, 2**64 - 1),
)
def test_valid_configurations_give_bounded_delays(schedule, jitter, base, inc, mult, cap, factor, attempt, prev, seed):
    b = Backoff(schedule, base_delay=base, increment=inc, multiplier=mult, max_delay=cap,
                jitter=jitter, jitter_factor=factor, seed=seed)
    d = b.get_delay(attempt, prev)
    assert math.isfinite(d) and 0.0 <= d <= cap
    r = b.raw_delay(attempt)
    assert math.isfinite(r) and 0.0 <= r <= cap


bad_number = st.one_of(st.floats(max_value=-1e-300), st.just(math.nan), st.just(math.inf), st.just(-math.inf))


@settings(max_examples=300, deadline=None)
@given(param=st.sampled_from(["base_delay", "increment", "max_delay", "multiplier", "jitter_factor"]), value=bad_number)
def test_invalid_numbers_are_rejected_with_their_name(param, value):
    try:
        Backoff("exponential", **{param: value})
    except InvalidConfigurationError as exc:
        assert exc.parameter == param
        assert str(exc).startswith(param)
    else:
        raise AssertionError(f"{param}={value!r} was accepted")


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(st.integers(max_value=0), st.integers(min_value=2**32)))
def test_invalid_max_attempts(value):
    try:
        Backoff(max_attempts=value)
    except InvalidConfigurationError as exc:
        assert exc.parameter == "max_attempts" and exc.value == value
    else:
        raise AssertionError(value)
