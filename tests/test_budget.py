"""RetryBudget: exact token accounting with a fake clock, the ratio window, validation,
the retry-engine integration (sync, async, block form), thread stress and properties."""
from __future__ import annotations

import asyncio
import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zenoo_retry import (
    BudgetExhaustedError,
    InvalidConfigurationError,
    MaxRetriesExceededError,
    RetryBudget,
    RetryPolicy,
    _core,
    async_retry,
    attempts,
    retry,
)
from zenoo_retry.testing import instant_retries

from helpers import AsyncFlaky, FakeClock, Flaky


# ---- token bucket ------------------------------------------------------------------


def test_token_bucket_exact_accounting():
    clock = FakeClock(100.0)
    b = RetryBudget(capacity=10, refill_rate=2.0, clock=clock)
    assert b.mode == "token" and b.capacity == 10.0 and b.refill_rate == 2.0
    assert b.available_tokens() == 10.0
    assert [b.try_acquire() for _ in range(11)] == [True] * 10 + [False]
    clock.now += 0.25  # half a token
    assert not b.try_acquire()
    assert b.available_tokens() == 0.5
    clock.now += 0.25
    assert b.try_acquire() and b.available_tokens() == 0.0
    clock.now += 2.0  # four tokens
    assert b.try_acquire_multiple(3)
    assert not b.try_acquire_multiple(2)  # all or nothing
    assert b.available_tokens() == 1.0
    b.return_tokens(2)
    assert b.available_tokens() == 3.0
    b.return_tokens()  # one by default
    assert b.available_tokens() == 4.0
    b.return_tokens(10**30)  # saturates at capacity
    assert b.available_tokens() == 10.0
    clock.now += 1000.0  # a full bucket banks nothing
    assert b.available_tokens() == 10.0
    s = b.stats()
    assert s["granted"] == 14 and s["refused"] == 3


def test_seed_000_example_acquire_then_return_unused():
    b = RetryBudget(100, 10.0, clock=FakeClock())
    assert b.try_acquire_multiple(3)
    b.return_tokens(2)  # used only one retry
    assert b.available_tokens() == 99.0
    assert b.tokens == 99.0


def test_huge_counts_are_refused_or_saturate_never_wrap():
    b = RetryBudget(capacity=5, refill_rate=0.0, clock=FakeClock())
    assert not b.try_acquire_multiple(2**64)
    assert not b.try_acquire_multiple(2**64 - 1)
    assert not b.try_acquire_multiple(2**53 + 1)
    assert b.try_acquire_multiple(0)
    assert b.available_tokens() == 5.0
    b.drain()
    b.return_tokens(2**200)
    assert b.available_tokens() == 5.0


def test_clock_going_backwards_does_not_refill():
    clock = FakeClock(50.0)
    b = RetryBudget(capacity=4, refill_rate=1.0, clock=clock)
    b.drain()
    clock.now = 10.0
    assert b.available_tokens() == 0.0
    clock.now = 50.0
    assert b.available_tokens() == 0.0
    clock.now = 52.0
    assert b.available_tokens() == 2.0


def test_initial_tokens_reset_and_drain():
    clock = FakeClock()
    b = RetryBudget(capacity=8, refill_rate=1.0, initial_tokens=3, clock=clock)
    assert b.initial_tokens == 3.0 and b.available_tokens() == 3.0
    b.drain()
    assert b.available_tokens() == 0.0
    b.reset()
    assert b.available_tokens() == 8.0
    assert b.stats()["granted"] == 0


def test_token_bucket_defaults_follow_seed_000():
    b = RetryBudget()
    assert (b.capacity, b.refill_rate) == (100.0, 10.0)
    assert RetryBudget.token_bucket(5, 1.0).capacity == 5.0
    assert "RetryBudget(capacity=100.0, refill_rate=10.0" in repr(b)


# ---- ratio -------------------------------------------------------------------------


def test_ratio_defaults_are_finagle_linkerd():
    b = RetryBudget.ratio()
    assert (b.mode, b.percent, b.min_per_second, b.window, b.buckets) == ("ratio", 0.2, 10.0, 10.0, 10)
    assert b.capacity is None and b.refill_rate is None
    assert repr(b).startswith("RetryBudget.ratio(percent=0.2")
    assert b.describe() == {"mode": "ratio", "percent": 0.2, "min_per_second": 10.0, "window": 10.0, "buckets": 10}


def test_ratio_floor_then_percent_then_expiry():
    clock = FakeClock(0.0)
    b = RetryBudget.ratio(clock=clock)
    assert b.available_tokens() == 100.0  # floor: 10/s * 10 s
    assert b.try_acquire_multiple(100)
    assert not b.try_acquire()
    clock.now = 1.0
    for _ in range(4):
        b.record_request()
    assert not b.try_acquire()  # 4 requests * 0.2 = 0.8 retries
    b.record_request()
    assert b.try_acquire()  # 5 requests * 0.2 = exactly 1
    assert not b.try_acquire()
    clock.now = 9.999
    assert b.available_tokens() == 0.0
    clock.now = 10.0  # the slice [0, 1) leaves with its 100 retries
    assert b.available_tokens() == 100.0
    clock.now = 11.0  # and [1, 2) with its requests and retry
    s = b.stats()
    assert b.available_tokens() == 100.0
    s = b.stats()
    assert (s["window_requests"], s["window_retries"]) == (0, 0)
    assert (s["requests"], s["granted"], s["refused"]) == (5, 101, 3)


def test_ratio_percent_only_and_return():
    clock = FakeClock(0.0)
    b = RetryBudget.ratio(percent=0.1, min_per_second=0, clock=clock)
    assert not b.try_acquire()
    for _ in range(1000):
        b.record_request()
    assert b.available_tokens() == 100.0
    assert b.try_acquire_multiple(100) and not b.try_acquire()
    b.return_tokens(30)
    assert b.available_tokens() == 30.0
    b.return_tokens(2**64)
    assert b.available_tokens() == 100.0
    b.drain()
    assert b.available_tokens() == 0.0


def test_ratio_buckets_define_the_slices():
    clock = FakeClock(0.0)
    b = RetryBudget.ratio(percent=1.0, min_per_second=0, window=4.0, buckets=2, clock=clock)
    for _ in range(3):
        b.record_request()
    clock.now = 2.0
    b.record_request()
    assert b.available_tokens() == 4.0
    clock.now = 4.0  # slice [0, 2) leaves
    assert b.available_tokens() == 1.0
    clock.now = 6.0
    assert b.available_tokens() == 0.0


# ---- validation --------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": -1}, "capacity"),
        ({"capacity": NAN}, "capacity"),
        ({"capacity": INF}, "capacity"),
        ({"capacity": 2.0**54}, "capacity"),
        ({"capacity": 10**400}, "capacity"),
        ({"refill_rate": -0.5}, "refill_rate"),
        ({"refill_rate": NAN}, "refill_rate"),
        ({"refill_rate": INF}, "refill_rate"),
        ({"capacity": 5, "initial_tokens": 6}, "initial_tokens"),
        ({"initial_tokens": -1}, "initial_tokens"),
        ({"initial_tokens": NAN}, "initial_tokens"),
    ],
)
def test_token_bad_values_name_parameter_and_value(kwargs, param):
    with pytest.raises(InvalidConfigurationError) as ei:
        RetryBudget(**kwargs)
    assert ei.value.parameter == param
    assert param in str(ei.value)
    value = kwargs[param]
    assert ei.value.value is value or (isinstance(value, float) and math.isnan(value))
    assert isinstance(ei.value, ValueError)


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"percent": -0.1}, "percent"),
        ({"percent": NAN}, "percent"),
        ({"percent": 1000.5}, "percent"),
        ({"min_per_second": -1}, "min_per_second"),
        ({"min_per_second": INF}, "min_per_second"),
        ({"window": 0}, "window"),
        ({"window": -10}, "window"),
        ({"window": NAN}, "window"),
        ({"window": INF}, "window"),
        ({"buckets": 0}, "buckets"),
        ({"buckets": 65}, "buckets"),
        ({"buckets": -1}, "buckets"),
        ({"buckets": 2**70}, "buckets"),
    ],
)
def test_ratio_bad_values_name_parameter_and_value(kwargs, param):
    with pytest.raises(InvalidConfigurationError) as ei:
        RetryBudget.ratio(**kwargs)
    assert ei.value.parameter == param
    assert param in str(ei.value) and repr(kwargs[param]) in str(ei.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda: RetryBudget(capacity="10"),
        lambda: RetryBudget(capacity=True),
        lambda: RetryBudget(refill_rate=None),
        lambda: RetryBudget.ratio(buckets=2.5),
        lambda: RetryBudget.ratio(buckets=True),
        lambda: RetryBudget.ratio(window="1"),
        lambda: RetryBudget(clock=5),
        lambda: _core.RetryBudget("ratio", capacity=3),
        lambda: _core.RetryBudget("token", percent=0.5),
        lambda: RetryBudget().try_acquire_multiple(1.0),
        lambda: RetryBudget().try_acquire_multiple(True),
        lambda: RetryBudget().return_tokens("1"),
    ],
)
def test_wrong_types_are_type_errors(call):
    with pytest.raises(TypeError):
        call()


def test_negative_counts_and_bad_mode():
    b = RetryBudget()
    with pytest.raises(ValueError, match="n must be an int >= 0, got -1"):
        b.try_acquire_multiple(-1)
    with pytest.raises(ValueError, match="got -5"):
        b.return_tokens(-5)
    with pytest.raises(InvalidConfigurationError) as ei:
        _core.RetryBudget("leaky")
    assert ei.value.parameter == "mode" and ei.value.value == "leaky"


def test_bad_clock_results():
    for bad in (NAN, INF):
        with pytest.raises(ValueError, match="finite"):
            RetryBudget(clock=lambda: bad)
    clock = FakeClock()
    b = RetryBudget(clock=clock)
    clock.now = NAN
    with pytest.raises(ValueError, match="finite"):
        b.try_acquire()
    clock.now = 5.0

    def boom() -> float:
        raise RuntimeError("clock broke")

    with pytest.raises(RuntimeError, match="clock broke"):
        RetryBudget(clock=boom)
    assert b.clock is not None


# ---- inside retry policies ---------------------------------------------------------


def test_first_attempts_never_spend_budget():
    b = RetryBudget(capacity=1, refill_rate=0.0, clock=FakeClock())
    b.drain()
    f = retry(max_attempts=3, delay=0, budget=b)(lambda: "ok")
    assert [f() for _ in range(100)] == ["ok"] * 100
    assert b.available_tokens() == 0.0
    assert b.stats()["requests"] == 100  # one per logical call


def test_each_retry_spends_exactly_one_token():
    b = RetryBudget(capacity=5, refill_rate=0.0, clock=FakeClock())
    flaky = Flaky(OSError("a"), OSError("b"))
    with instant_retries():
        assert retry(max_attempts=5, budget=b)(flaky)() == "ok"
    assert flaky.calls == 3
    assert b.available_tokens() == 3.0
    assert b.stats()["granted"] == 2


def test_empty_budget_raises_budget_exhausted_with_cause():
    b = RetryBudget(capacity=2, refill_rate=0.0, clock=FakeClock())
    errors = [OSError(str(i)) for i in range(10)]
    flaky = Flaky(*errors)
    with instant_retries():
        with pytest.raises(BudgetExhaustedError) as ei:
            retry(max_attempts=10, budget=b)(flaky)()
    assert flaky.calls == 3
    assert ei.value.__cause__ is errors[2]
    assert ei.value.last_exception is errors[2]
    assert ei.value.attempts == 3
    assert b.available_tokens() == 0.0
    # the next call fails after its first attempt: no token, no retry
    flaky2 = Flaky(OSError("x"), OSError("y"))
    with pytest.raises(BudgetExhaustedError):
        retry(max_attempts=10, budget=b)(flaky2)()
    assert flaky2.calls == 1


def test_empty_budget_reraises_when_configured():
    b = RetryBudget(capacity=1, refill_rate=0.0, clock=FakeClock())
    err = [OSError("1"), OSError("2"), OSError("3")]
    flaky = Flaky(*err)
    with instant_retries():
        with pytest.raises(OSError) as ei:
            retry(max_attempts=5, budget=b, reraise=True)(flaky)()
    assert ei.value is err[1]
    assert flaky.calls == 2


def test_max_attempts_reached_before_budget_keeps_its_error():
    b = RetryBudget(capacity=10, refill_rate=0.0, clock=FakeClock())
    with instant_retries():
        with pytest.raises(MaxRetriesExceededError):
            retry(max_attempts=3, budget=b)(Flaky(*[OSError()] * 5))()
    assert b.available_tokens() == 8.0


def test_non_retryable_errors_spend_nothing():
    b = RetryBudget(capacity=3, refill_rate=0.0, clock=FakeClock())
    with pytest.raises(ValueError):
        retry(max_attempts=5, budget=b, exceptions=OSError)(Flaky(ValueError()))()
    assert b.available_tokens() == 3.0


async def test_async_retry_spends_and_exhausts():
    b = RetryBudget(capacity=1, refill_rate=0.0, clock=FakeClock())
    errors = [OSError("1"), OSError("2"), OSError("3")]
    flaky = AsyncFlaky(*errors)
    with instant_retries():
        with pytest.raises(BudgetExhaustedError) as ei:
            await async_retry(max_attempts=5, budget=b)(flaky)()
    assert flaky.calls == 2 and ei.value.__cause__ is errors[1]
    b.reset()
    flaky = AsyncFlaky(OSError("1"))
    with instant_retries():
        assert await async_retry(max_attempts=5, budget=b)(flaky)() == "ok"
    assert b.available_tokens() == 0.0
    flaky = AsyncFlaky(OSError("1"), OSError("2"))
    with instant_retries():
        with pytest.raises(OSError):
            await async_retry(max_attempts=5, budget=b, reraise=True)(flaky)()


async def test_async_cancellation_is_not_a_retry():
    b = RetryBudget(capacity=3, refill_rate=0.0, clock=FakeClock())

    @async_retry(max_attempts=5, budget=b)
    async def cancelled():
        raise asyncio.CancelledError()

    with pytest.raises(asyncio.CancelledError):
        await cancelled()
    assert b.available_tokens() == 3.0


def test_block_form_shares_the_budget():
    b = RetryBudget(capacity=1, refill_rate=0.0, clock=FakeClock())
    tries = 0
    with instant_retries():
        with pytest.raises(BudgetExhaustedError):
            for attempt in attempts(RetryPolicy(budget=b)):
                with attempt:
                    tries += 1
                    raise OSError("down")
    assert tries == 2


def test_ratio_budget_counts_logical_calls_not_attempts():
    clock = FakeClock(0.0)
    b = RetryBudget.ratio(percent=0.5, min_per_second=0, clock=clock)
    ok = retry(max_attempts=3, delay=0, budget=b)(lambda: 1)
    for _ in range(10):
        ok()
    assert b.available_tokens() == 5.0
    with instant_retries():
        with pytest.raises(BudgetExhaustedError):
            retry(max_attempts=100, budget=b)(Flaky(*[OSError()] * 100))()
    s = b.stats()
    assert s["requests"] == 11 and s["granted"] == 5  # 11 * 0.5 = 5.5 -> 5 retries


def test_python_subclass_and_duck_typed_budgets_use_the_protocol():
    calls = []

    class Audited(RetryBudget):
        def _zr_try_retry(self) -> bool:
            calls.append("try")
            return super()._zr_try_retry()

    b = Audited(capacity=1, refill_rate=0.0, clock=FakeClock())
    with instant_retries():
        with pytest.raises(BudgetExhaustedError):
            retry(max_attempts=5, budget=b)(Flaky(*[OSError()] * 5))()
    assert calls == ["try", "try"]

    class Duck:
        def __init__(self) -> None:
            self.requests = 0
            self.left = 1

        def _zr_on_request(self) -> None:
            self.requests += 1

        def _zr_try_retry(self) -> bool:
            self.left -= 1
            return self.left >= 0

    d = Duck()
    with instant_retries():
        with pytest.raises(BudgetExhaustedError):
            retry(max_attempts=5, budget=d)(Flaky(*[OSError()] * 5))()
    assert d.requests == 1 and d.left == -1
    with pytest.raises(TypeError, match="budget must be a retry budget"):
        retry(budget=object())(lambda: 1)


# ---- threads -----------------------------------------------------------------------


def _stress(budget: RetryBudget, ops_per_thread: int, threads: int = 8):
    capacity = budget.capacity
    results = []
    violations = []

    def work(seed: int) -> None:
        held = granted = returned = requests = 0
        x = seed
        acquire, give, req = budget.try_acquire, budget.return_tokens, budget.record_request
        for i in range(ops_per_thread):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            r = x % 3
            if r == 0:
                req()
                requests += 1
            elif r == 1 or held == 0:
                if acquire():
                    held += 1
                    granted += 1
            else:
                give(1)
                held -= 1
                returned += 1
            if capacity is not None and i % 1024 == 0:
                a = budget.available_tokens()
                if not 0.0 <= a <= capacity:
                    violations.append(a)
        results.append((granted, returned, requests))

    ts = [threading.Thread(target=work, args=(i * 7919 + 1,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert violations == []
    granted = sum(r[0] for r in results)
    returned = sum(r[1] for r in results)
    requests = sum(r[2] for r in results)
    s = budget.stats()
    assert (s["granted"], s["returned"], s["requests"]) == (granted, returned, requests)
    assert s["granted"] + s["refused"] + s["returned"] + s["requests"] == threads * ops_per_thread
    return granted, returned


def test_thread_stress_token_bucket_million_operations():
    """8 threads, 1,000,000 operations in total on one token bucket (no refill)."""
    b = RetryBudget(capacity=1000, refill_rate=0.0)
    granted, returned = _stress(b, 125_000)
    assert b.available_tokens() == 1000 - granted + returned
    assert 0.0 <= b.available_tokens() <= 1000.0


def test_thread_stress_ratio_budget():
    clock_lock = threading.Lock()
    ticks = [0]

    def clock() -> float:
        with clock_lock:
            ticks[0] += 1
            return ticks[0] * 1e-4

    b = RetryBudget.ratio(percent=0.2, min_per_second=10, window=1.0, clock=clock)
    _stress(b, 20_000)
    assert b.available_tokens() >= 0.0


# ---- properties ----------------------------------------------------------------------

ops = st.lists(
    st.tuples(
        st.sampled_from(["acquire", "multi", "return", "request", "available", "tick"]),
        st.integers(min_value=0, max_value=12),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(ops=ops, capacity=st.integers(1, 20), rate=st.integers(0, 5))
def test_token_bucket_matches_a_reference_model(ops, capacity, rate):
    clock = FakeClock(0.0)
    b = RetryBudget(capacity=capacity, refill_rate=rate, clock=clock)
    tokens = float(capacity)
    for op, n in ops:
        if op == "tick":
            clock.now += n
            tokens = min(float(capacity), tokens + n * rate)
        elif op == "acquire":
            want = tokens >= 1
            assert b.try_acquire() is want
            tokens -= 1 if want else 0
        elif op == "multi":
            want = tokens >= n
            assert b.try_acquire_multiple(n) is want
            tokens -= n if want else 0
        elif op == "return":
            b.return_tokens(n)
            tokens = min(float(capacity), tokens + n)
        elif op == "request":
            b.record_request()
        a = b.available_tokens()
        assert a == tokens
        assert 0.0 <= a <= capacity


@settings(max_examples=150, deadline=None)
@given(
    ops=ops,
    percent=st.sampled_from([0.0, 0.1, 0.2, 0.5, 1.0, 2.0]),
    floor=st.sampled_from([0.0, 0.5, 1.0, 10.0]),
    buckets=st.integers(1, 6),
)
def test_ratio_budget_matches_a_reference_model(ops, percent, floor, buckets):
    """Slices of 1 s; the reference keeps every slice's counts and sums the window."""
    clock = FakeClock(0.0)
    window = float(buckets)
    b = RetryBudget.ratio(percent=percent, min_per_second=floor, window=window, buckets=buckets, clock=clock)
    req: dict = {}
    ret: dict = {}
    ppm = round(percent * 1_000_000)
    floor_micro = round(floor * window * 1_000_000)

    def window_sum(d: dict) -> int:
        now = int(clock.now)
        return sum(v for k, v in d.items() if now - buckets < k <= now)

    for op, n in ops:
        now = int(clock.now)
        allowed_micro = window_sum(req) * ppm + floor_micro
        used = window_sum(ret)
        if op == "tick":
            clock.now += n
        elif op in ("acquire", "multi"):
            k = 1 if op == "acquire" else n
            want = (used + k) * 1_000_000 <= allowed_micro
            got = b.try_acquire() if op == "acquire" else b.try_acquire_multiple(k)
            assert got is want
            if want:
                ret[now] = ret.get(now, 0) + k
        elif op == "return":
            b.return_tokens(n)
            left = n
            for k in range(now, now - buckets, -1):
                take = min(ret.get(k, 0), left)
                ret[k] = ret.get(k, 0) - take
                left -= take
        elif op == "request":
            b.record_request()
            req[now] = req.get(now, 0) + 1
        avail = b.available_tokens()
        allowed_micro = window_sum(req) * ppm + floor_micro
        expect = max(0, allowed_micro - window_sum(ret) * 1_000_000) / 1_000_000
        assert avail == pytest.approx(expect, abs=1e-9)
        assert avail >= 0.0
