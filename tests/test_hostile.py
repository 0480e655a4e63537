"""Hostile callers (issue 9): user code that raises, re-enters, mutates, lies about types,
or hands over NaN / inf / huge numbers. Each case must end in a clear Python exception or
the documented behaviour - never a crash, a SystemError or a silently wrong retry loop.

Several tests here are regression tests for crashes found while writing this file; each
says which.
"""
from __future__ import annotations

import asyncio
import gc
import inspect
import math
import sys

import pytest

import zenoo_retry as z
from zenoo_retry import (
    InvalidConfigurationError,
    MaxRetriesExceededError,
    _core,
    async_retry,
    retry,
)

from helpers import AsyncFlaky, FakeClock, Flaky

HUGE = 10**400


class Boom(RuntimeError):
    """What the hostile hooks raise."""


def boom(*args, **kwargs):
    raise Boom("hook failed")


def fail():
    raise ValueError("attempt failed")


async def afail():
    raise ValueError("attempt failed")


def no_sleep(seconds):
    pass


class BadBool:
    def __bool__(self):
        raise Boom("__bool__ failed")


def run(coro):
    return asyncio.run(coro)


# ---- hooks and callables that raise ---------------------------------------------------


@pytest.mark.parametrize("hook", ["on_retry", "on_give_up", "sleep", "retry_condition",
                                  "delay_hint", "fallback_factory", "retry_on_result"])
def test_a_raising_hook_propagates_and_stops_the_loop(hook):
    target = Flaky(ValueError("a"), ValueError("b"), ValueError("c"), ValueError("d"))
    func = target if hook != "retry_on_result" else (lambda: 42)
    wrapped = retry(max_attempts=4, delay=0.01, sleep=no_sleep if hook != "sleep" else boom,
                    **{hook: boom} if hook != "sleep" else {})(func)
    with pytest.raises(Boom):
        wrapped()
    if hook in ("on_retry", "sleep", "retry_condition", "delay_hint"):
        assert target.calls == 1  # nothing ran after the hook failed


@pytest.mark.parametrize("hook", ["on_retry", "on_give_up", "sleep", "retry_condition",
                                  "delay_hint", "fallback_factory"])
def test_a_raising_hook_propagates_async(hook):
    async def no_async_sleep(seconds):
        pass

    opts = {hook: boom}
    if hook != "sleep":
        opts["sleep"] = no_async_sleep
    wrapped = async_retry(max_attempts=3, delay=0.01, **opts)(afail)
    with pytest.raises(Boom):
        run(wrapped())


def test_condition_error_keeps_the_attempts_error_as_context():
    with pytest.raises(Boom) as info:
        retry(max_attempts=3, delay=0, retry_condition=boom)(fail)()
    assert isinstance(info.value.__context__, ValueError)


def test_async_hooks_that_raise_inside_the_await():
    async def ahook(attempt):
        await asyncio.sleep(0)
        raise Boom("async hook")

    async def asleep(seconds):
        raise Boom("async sleep")

    with pytest.raises(Boom, match="async hook"):
        run(async_retry(max_attempts=3, delay=0.01, on_retry=ahook)(afail)())
    with pytest.raises(Boom, match="async sleep"):
        run(async_retry(max_attempts=3, delay=0.01, sleep=asleep)(afail)())


def test_keyboard_interrupt_from_a_sleep_is_never_swallowed():
    def interrupted(seconds):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        retry(max_attempts=3, delay=0.1, sleep=interrupted, fallback=1)(fail)()


def test_on_retry_returning_a_broken_awaitable_is_a_type_error():
    class NotAnIterator:
        def __await__(self):
            return 5

    with pytest.raises(TypeError, match="not an iterator"):
        run(async_retry(max_attempts=3, delay=0, on_retry=lambda a: NotAnIterator())(afail)())


# ---- wrong return types -----------------------------------------------------------------


@pytest.mark.parametrize("value, outcome", [
    (float("nan"), ValueError), (-1, ValueError), (-0.5, ValueError),
    (float("inf"), "capped"), (HUGE, "capped"), (2**64, "capped"),
    ("yes", "retry"), ([1], "retry"), (None, "raise"), ("", "raise"), (0.0, "retry0"),
])
def test_retry_condition_return_values(value, outcome):
    sleeps = []
    wrapped = retry(max_attempts=2, delay=0.5, max_delay=7.0, retry_condition=lambda e, a: value,
                    sleep=sleeps.append)(fail)
    if isinstance(outcome, type):
        with pytest.raises(outcome, match="retry_condition"):
            wrapped()
        return
    with pytest.raises((ValueError, MaxRetriesExceededError)) as info:
        wrapped()
    if outcome == "raise":
        assert type(info.value) is ValueError and sleeps == []
    else:
        assert isinstance(info.value, MaxRetriesExceededError)
        if outcome == "capped":
            assert sleeps == [7.0]
        elif outcome == "retry0":
            assert sleeps == []  # a zero delay never sleeps


def test_retry_condition_with_a_raising_bool():
    with pytest.raises(Boom, match="__bool__"):
        retry(max_attempts=2, delay=0, retry_condition=lambda e, a: BadBool())(fail)()


@pytest.mark.parametrize("value, error", [
    (float("nan"), ValueError), (-1, ValueError), ("3", TypeError), (object(), TypeError),
    (True, TypeError), ([], TypeError),
])
def test_delay_hint_bad_values(value, error):
    with pytest.raises(error, match="delay_hint"):
        retry(max_attempts=2, delay=0, delay_hint=lambda e: value, sleep=no_sleep)(fail)()


@pytest.mark.parametrize("value", [float("inf"), HUGE])
def test_delay_hint_huge_values_are_capped(value):
    sleeps = []
    with pytest.raises(MaxRetriesExceededError):
        retry(max_attempts=2, delay=0, max_delay=3.0, delay_hint=lambda e: value,
              sleep=sleeps.append)(fail)()
    assert sleeps == [3.0]


@pytest.mark.parametrize("value, error", [
    (float("nan"), ValueError), (-1, ValueError), (-1e-9, ValueError), ("1", TypeError),
    (None, TypeError), (object(), TypeError),
])
def test_custom_schedule_bad_values(value, error):
    s = z.CustomBackoffStrategy(lambda attempt, base: value, max_attempts=3)
    for call in (lambda: s.get_delay(1), lambda: s.raw_delay(1), s.delays,
                 lambda: retry(strategy=s, sleep=no_sleep)(fail)()):
        with pytest.raises(error, match="custom schedule"):
            call()


@pytest.mark.parametrize("value", [float("inf"), HUGE, 2**64])
def test_custom_schedule_huge_values_are_capped(value):
    s = z.CustomBackoffStrategy(lambda attempt, base: value, max_attempts=3, max_delay=9.0)
    assert s.get_delay(1) == 9.0 and s.raw_delay(2) == 9.0 and s.delays() == [9.0, 9.0]


def test_custom_schedule_that_raises():
    s = z.CustomBackoffStrategy(boom, max_attempts=3)
    with pytest.raises(Boom):
        s.get_delay(1)
    with pytest.raises(Boom):
        retry(strategy=s, sleep=no_sleep)(fail)()


@pytest.mark.parametrize("value, error, text", [
    ("12", TypeError, "clock must return a number"),
    (None, TypeError, "clock must return a number"),
    (True, TypeError, "clock must return a number"),
    (float("-inf"), ValueError, "finite"),
    (HUGE, ValueError, "finite"),
])
def test_clock_wrong_types(value, error, text):
    with pytest.raises(error, match=text):
        retry(max_attempts=3, delay=0.1, timeout=5, clock=lambda: value, sleep=no_sleep)(fail)()


def test_clock_returning_a_fresh_nan_does_not_crash():
    # regression: the error message formatted the clock's result after releasing it (use
    # after free; a fresh float - not a cached constant - segfaulted, sync and async)
    def clock():
        return float("nan") * 1.0

    with pytest.raises(ValueError, match="clock must return a finite number, got nan"):
        retry(max_attempts=3, delay=0, timeout=5, clock=clock)(fail)()
    with pytest.raises(ValueError, match="clock must return a finite number, got nan"):
        run(async_retry(max_attempts=3, delay=0, timeout=5, clock=clock)(afail)())


def test_clock_going_backwards_never_gives_negative_elapsed():
    times = iter([100.0, 50.0, 40.0, 30.0, 20.0, 10.0, 5.0, 1.0])
    seen = []
    with pytest.raises(MaxRetriesExceededError):
        retry(max_attempts=3, delay=0.1, timeout=5, clock=lambda: next(times), sleep=no_sleep,
              on_retry=lambda a: seen.append(a.elapsed))(fail)()
    assert seen and all(e >= 0.0 for e in seen)


def test_sleep_returning_garbage_is_ignored():
    with pytest.raises(MaxRetriesExceededError):
        retry(max_attempts=3, delay=0.1, sleep=lambda d: "not None")(fail)()


def test_result_predicate_with_raising_bool():
    with pytest.raises(Boom):
        retry(max_attempts=3, delay=0, retry_on_result=lambda r: BadBool())(lambda: 1)()

    async def one():
        return 1

    with pytest.raises(Boom):
        run(async_retry(max_attempts=3, delay=0, retry_on_result=lambda r: BadBool())(one)())


# ---- re-entrance and mutation -------------------------------------------------------------


def test_hook_re_entering_the_same_decorated_function():
    calls = []

    @retry(max_attempts=2, delay=0, on_retry=lambda a: calls.append(inner_ok()))
    def outer():
        raise ValueError

    inner_ok = retry(max_attempts=2, delay=0)(lambda: "inner")
    with pytest.raises(MaxRetriesExceededError):
        outer()
    assert calls == ["inner"]


def test_unbounded_re_entrance_ends_in_recursion_error(monkeypatch):
    # at the recursion limit the observability hooks (logging) fail too and are reported
    # as unraisable (expected there, not an error of the retry loop): collect them quietly
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    depth = []

    @retry(max_attempts=3, delay=0, on_retry=lambda a: again())
    def again():
        depth.append(1)
        raise ValueError

    with pytest.raises(RecursionError):
        again()
    assert len(depth) > 10


def test_async_hook_sending_into_its_own_awaitable_is_refused():
    # regression: re-entering the RetryAwaitable's state machine from its own hook ran
    # attempts past max_attempts ("gave up after 331 of 3 attempts") and could free the
    # running inner iterator
    box = {}
    errors = []

    def hook(attempt):
        for action in (lambda: box["aw"].send(None), lambda: box["aw"].throw(ValueError),
                       lambda: box["aw"].close()):
            try:
                action()
            except ValueError as exc:
                errors.append(str(exc))

    aw = async_retry(max_attempts=3, delay=0, on_retry=hook)(afail)()
    box["aw"] = aw

    async def main():
        return await aw

    with pytest.raises(MaxRetriesExceededError) as info:
        run(main())
    assert info.value.attempts == 3
    assert errors == ["coroutine already executing"] * 6


def test_hook_reconfiguring_the_strategy_mid_call():
    s = z.ExponentialBackoffStrategy(max_attempts=4, base_delay=1.0, jitter=False)
    sleeps = []

    def hook(attempt):
        # Backoff.__init__ again: later delays follow the new schedule, the call keeps the
        # max_attempts it was compiled with
        _core.Backoff.__init__(s, "fixed", max_attempts=2, base_delay=0.25, jitter="none")

    with pytest.raises(MaxRetriesExceededError) as info:
        retry(strategy=s, on_retry=hook, sleep=sleeps.append)(fail)()
    assert info.value.attempts == 4
    assert sleeps == [1.0, 0.25, 0.25]


def test_custom_schedule_re_initialising_its_strategy_during_raw_delay():
    # regression: raw_delay() of a custom schedule switched the jitter off while the user's
    # callable ran and restored the old value afterwards, overwriting a re-initialisation
    holder = {"depth": 0, "seen": []}

    def schedule(attempt, base):
        s = holder["s"]
        holder["depth"] += 1
        if holder["depth"] == 1:
            holder["seen"].append(s.jitter_kind)  # what a re-entrant get_delay would use
            s.get_delay(1, None)
            _core.Backoff.__init__(s, "custom", custom=schedule, jitter="equal", max_delay=10.0)
        holder["depth"] -= 1
        return 4.0

    s = z.CustomBackoffStrategy(schedule, max_attempts=3, jitter=True, jitter_type="full",
                                max_delay=10.0)
    holder["s"] = s
    assert s.raw_delay(1) == 4.0
    assert holder["seen"] == ["full"]
    assert s.jitter_kind == "equal"


def test_compiled_objects_refuse_re_initialisation():
    wrapped = retry(max_attempts=2)(fail)
    spec = wrapped.retry_spec
    with pytest.raises(TypeError, match="immutable"):
        spec.__init__(z.ExponentialBackoffStrategy())
    with pytest.raises(TypeError, match="immutable"):
        wrapped.__init__(print, spec)


@pytest.mark.parametrize("method, args", [
    ("after_failure", (ValueError(), 1, False, 0.0, 0.0, 0.0)),
    ("attempt_info", (None, 1, False, 0.0, 0.0, 0.0)),
    ("begin", ()), ("enter", ()), ("exit", (None, None)),
    ("result_rejected", (1,)), ("stop_with", (ValueError(),)),
])
def test_uninitialised_retry_spec_methods_raise(method, args):
    # regression: RetrySpec.__new__ without __init__ segfaulted in after_failure and
    # attempt_info (NULL fields)
    spec = _core.RetrySpec.__new__(_core.RetrySpec)
    with pytest.raises(TypeError, match="not initialised"):
        getattr(spec, method)(*args)
    repr(spec)


def test_half_initialised_retry_spec_is_refused_everywhere():
    spec = _core.RetrySpec.__new__(_core.RetrySpec)
    with pytest.raises(TypeError):
        spec.__init__(z.ExponentialBackoffStrategy(), retry_on=5)  # fails half way
    with pytest.raises(TypeError, match="not initialised"):
        spec.after_failure(ValueError(), 1, False, 0.0, 0.0, 0.0)
    for cls in (_core.Retrying, _core.AsyncRetrying):
        with pytest.raises(TypeError, match="initialised RetrySpec"):
            cls(fail, spec)


@pytest.mark.parametrize("cls", [_core.Retrying, _core.AsyncRetrying])
def test_uninitialised_callables_raise(cls):
    obj = cls.__new__(cls)
    with pytest.raises(TypeError):
        obj()
    assert obj.func is None and obj.retry_spec is None
    repr(obj)


def test_uninitialised_backoff_uses_defaults():
    b = _core.Backoff.__new__(_core.Backoff)
    assert b.max_attempts == 3 and len(b.delays()) == 2


# ---- exception classes that fight back ------------------------------------------------------


class RaisingMeta(type):
    def __eq__(cls, other):
        raise Boom("__eq__")

    def __hash__(cls):
        raise Boom("__hash__")


class HostileClassError(Exception, metaclass=RaisingMeta):
    pass


class HostileInstanceError(Exception):
    def __eq__(self, other):
        raise Boom("__eq__")

    def __hash__(self):
        raise Boom("__hash__")


def test_exceptions_whose_eq_and_hash_raise_are_retried_normally():
    def raise_class():
        raise HostileClassError("x")

    def raise_instance():
        raise HostileInstanceError("x")

    for func, exceptions in ((raise_class, HostileClassError),
                             (raise_instance, (HostileClassError, HostileInstanceError))):
        with pytest.raises(MaxRetriesExceededError) as info:
            retry(max_attempts=3, delay=0, exceptions=exceptions)(func)()
        assert info.value.attempts == 3
    with pytest.raises(HostileInstanceError):  # never-retry classes are matched too
        retry(max_attempts=3, delay=0, non_retryable_exceptions=HostileInstanceError)(raise_instance)()


def test_exceptions_whose_eq_raises_async_and_block_form():
    async def raise_instance():
        raise HostileInstanceError("x")

    with pytest.raises(MaxRetriesExceededError):
        run(async_retry(max_attempts=2, delay=0, exceptions=HostileInstanceError)(raise_instance)())
    with pytest.raises(MaxRetriesExceededError):
        for attempt in z.attempts(max_attempts=2, delay=0, exceptions=HostileInstanceError):
            with attempt:
                raise HostileInstanceError("y")


def test_raising_instancecheck_is_reported_with_the_attempts_error():
    class Meta(type):
        def __instancecheck__(cls, obj):
            raise Boom("__instancecheck__")

        def __subclasscheck__(cls, sub):
            raise Boom("__subclasscheck__")

    class Weird(Exception, metaclass=Meta):
        pass

    for opts in ({"exceptions": Weird}, {"non_retryable_exceptions": Weird}):
        with pytest.raises(Boom) as info:
            retry(max_attempts=2, delay=0, **opts)(fail)()
        assert isinstance(info.value.__context__, ValueError)
    with pytest.raises(Boom):
        run(async_retry(max_attempts=2, delay=0, exceptions=Weird)(afail)())


# ---- numbers everywhere -----------------------------------------------------------------

BAD_NUMBERS = [float("nan"), float("inf"), float("-inf"), -1, HUGE, -HUGE, "1", [], object()]


@pytest.mark.parametrize("param", ["max_attempts", "delay", "backoff_multiplier", "max_delay",
                                   "timeout"])
@pytest.mark.parametrize("value", BAD_NUMBERS, ids=repr)
def test_decorator_numbers(param, value):
    with pytest.raises((TypeError, InvalidConfigurationError)) as info:
        retry(**{param: value})(fail)
    assert param in str(info.value) or getattr(info.value, "parameter", None) == param


STRATEGIES = [z.ExponentialBackoffStrategy, z.LinearBackoffStrategy, z.FixedDelayStrategy,
              z.FibonacciBackoffStrategy]


def _numeric_params(cls):
    return [p for p in inspect.signature(cls).parameters
            if p not in ("jitter", "jitter_type", "seed")]


@pytest.mark.parametrize("cls", STRATEGIES, ids=lambda c: c.__name__)
def test_strategy_numbers(cls):
    for param in _numeric_params(cls):
        for value in [float("nan"), float("-inf"), -1, -HUGE, "1", None, []]:
            if value is None and param == "max_delay" and cls is z.FixedDelayStrategy:
                continue  # None: the documented default (2 * delay)
            with pytest.raises((TypeError, InvalidConfigurationError)) as info:
                cls(**{param: value})
            assert param in str(info.value), (cls, param, value, info.value)


@pytest.mark.parametrize("cls", STRATEGIES, ids=lambda c: c.__name__)
def test_strategy_huge_numbers_give_finite_delays(cls):
    for param in _numeric_params(cls):
        if param == "max_attempts":
            continue
        for value in [float("inf"), HUGE, 1e308]:
            try:
                s = cls(**{param: value})
            except (TypeError, InvalidConfigurationError) as exc:
                assert param in str(exc)
                continue
            for d in s.delays(5) + [s.get_delay(2**62), s.raw_delay(10**30)]:
                assert math.isfinite(d) and 0.0 <= d <= s.max_delay


def test_jitter_type_is_checked_even_when_jitter_is_off():
    # regression: FixedDelayStrategy(jitter_type=<anything>) was accepted silently
    with pytest.raises(TypeError, match="jitter_type"):
        z.FixedDelayStrategy(jitter_type=float("nan"))
    with pytest.raises(InvalidConfigurationError, match="jitter_type"):
        z.ExponentialBackoffStrategy(jitter=False, jitter_type="ful")


def test_get_delay_attempt_numbers():
    s = z.ExponentialBackoffStrategy(jitter=False)
    for bad, error in ((0, ValueError), (-1, ValueError), (-HUGE, ValueError), (1.5, TypeError),
                       ("1", TypeError), (True, TypeError), (None, TypeError)):
        with pytest.raises(error, match="attempt"):
            s.get_delay(bad)
    assert s.get_delay(HUGE) == s.max_delay
    with pytest.raises(TypeError, match="previous"):
        s.get_delay(1, "x")
    for prev in (float("nan"), float("inf"), -HUGE, HUGE):
        d = z.ExponentialBackoffStrategy(jitter=True, jitter_type="decorrelated").get_delay(3, prev)
        assert math.isfinite(d) and d >= 0


def test_instant_retries_numbers():
    from zenoo_retry.testing import instant_retries

    for bad, error in ((0, InvalidConfigurationError), (-1, InvalidConfigurationError),
                       (1.5, TypeError), (True, TypeError)):
        with pytest.raises(error):
            with instant_retries(max_attempts=bad):
                pass
    with instant_retries(max_attempts=HUGE):  # larger than any policy: no cap in effect
        with pytest.raises(MaxRetriesExceededError) as info:
            retry(max_attempts=2, delay=1)(fail)()
    assert info.value.attempts == 2


# ---- breaker / budget protocol objects that misbehave --------------------------------------


class RaisingEnter:
    def _zr_enter(self):
        raise KeyboardInterrupt

    def _zr_exit(self, token, exc):
        pass


class RaisingExit:
    def _zr_enter(self):
        return "token"

    def _zr_exit(self, token, exc):
        raise Boom("exit")


class BadBudget:
    def _zr_on_request(self):
        return None

    def _zr_try_retry(self):
        return BadBool()


def test_hostile_breaker_and_budget_protocol_objects():
    with pytest.raises(KeyboardInterrupt):
        retry(max_attempts=3, delay=0, circuit_breaker=RaisingEnter(), fallback=1)(fail)()
    with pytest.raises(Boom, match="exit"):
        retry(max_attempts=3, delay=0, circuit_breaker=RaisingExit())(fail)()
    with pytest.raises(Boom, match="exit"):
        retry(max_attempts=3, delay=0, circuit_breaker=RaisingExit())(lambda: 1)()
    with pytest.raises(Boom, match="__bool__"):
        retry(max_attempts=3, delay=0, budget=BadBudget())(fail)()
    with pytest.raises(Boom, match="exit"):
        run(async_retry(max_attempts=3, delay=0, circuit_breaker=RaisingExit())(afail)())
    with pytest.raises(TypeError, match="circuit_breaker"):
        retry(circuit_breaker=object())(fail)
    with pytest.raises(TypeError, match="budget"):
        retry(budget=object())(fail)


def test_objects_survive_a_gc_pass_in_the_middle_of_a_call():
    clock = FakeClock()

    def hook(attempt):
        gc.collect()

    wrapped = retry(max_attempts=3, delay=0.1, on_retry=hook, clock=clock, sleep=clock.sleep,
                    timeout=100)(Flaky(ValueError(), ValueError()))
    assert wrapped() == "ok"
    assert run(async_retry(max_attempts=3, delay=0, on_retry=hook)(
        _async_flaky(ValueError(), ValueError()))()) == "ok"


def _async_flaky(*errors):
    return AsyncFlaky(*errors)
