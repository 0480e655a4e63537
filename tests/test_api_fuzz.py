"""Python-level fuzzing of the public API (issue 9).

Hypothesis feeds random arguments of random types - None, bools, huge and negative ints,
NaN/inf floats, strings, bytes, containers, exception classes, callables that raise or
return garbage, arbitrary objects - positionally and by keyword (the real parameter names
and made-up ones) to every public constructor, decorator and function, then calls what
comes back (decorated functions, strategies' and breakers' methods) with random
arguments too. Every call must end in a result or a clear Python exception (TypeError,
ValueError / InvalidConfigurationError, a RetryError, a KeyError for an unknown name, or
the error a callable we passed raised) - never a crash, a SystemError, or an
AttributeError leaking out of our own code.

ZR_FUZZ_EXAMPLES sets the examples per target (default 40; ``scripts/hardening.sh
--long`` uses 2000).
"""
from __future__ import annotations

import asyncio
import inspect
import math
import os
from typing import Any, Callable, Dict, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zenoo_retry as z
from zenoo_retry import _core, shared
from zenoo_retry.testing import instant_retries

EXAMPLES = int(os.environ.get("ZR_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


class Hostile(Exception):
    """Raised by the callables the fuzzer passes in."""


class Weird:
    """An object of no particular type, with a repr that works."""

    def __repr__(self) -> str:
        return "<weird>"


def _raiser(*args: Any, **kwargs: Any) -> Any:
    raise Hostile("from a fuzzed callable")


async def _async_raiser(*args: Any, **kwargs: Any) -> Any:
    raise Hostile("from a fuzzed coroutine")


def _returner(value: Any) -> Callable[..., Any]:
    def fn(*args: Any, **kwargs: Any) -> Any:
        return value

    return fn


def _async_returner(value: Any) -> Callable[..., Any]:
    async def fn(*args: Any, **kwargs: Any) -> Any:
        return value

    return fn


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**31, 2**32, 2**63, 2**64, -(2**63), 10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e308, float("nan"), float("inf"), float("-inf")]),
    st.text(max_size=12),
    st.sampled_from(["full", "none", "decorr", "exponential", "custom", "network", "count",
                     "time", "closed", "open", "Retry-After", "", "0", "1.5"]),
    st.binary(max_size=8),
    st.sampled_from([ValueError, Exception, BaseException, KeyboardInterrupt, Hostile,
                     ConnectionError, TimeoutError, int, object, Weird()]),
)


def _values(depth: int = 1) -> st.SearchStrategy:
    callables = st.one_of(
        st.just(_raiser), st.just(_async_raiser), st.just(print), st.just(len),
        SCALARS.map(_returner), SCALARS.map(_async_returner),
    )
    base = st.one_of(SCALARS, callables)
    if depth == 0:
        return base
    inner = _values(depth - 1)
    return st.one_of(base, st.lists(inner, max_size=3), st.tuples(inner, inner),
                     st.dictionaries(st.text(max_size=4), inner, max_size=2))


VALUES = _values()
# LookupError: e.g. RetryMetrics.get_stats("unknown") raises KeyError naming the operation
ALLOWED = (TypeError, ValueError, LookupError, z.RetryError, Hostile, ArithmeticError,
           NotImplementedError)


def call_allowed(fn: Callable[..., Any], args: List[Any], kwargs: Dict[str, Any]) -> Any:
    """fn(*args, **kwargs): its result, or None when it raised an allowed error."""
    try:
        return fn(*args, **kwargs)
    except ALLOWED:
        return None
    except SystemError:  # pragma: no cover - the bug this file hunts
        raise
    except AttributeError as exc:
        raise AssertionError(f"{fn!r}(*{args!r:.200}, **{kwargs!r:.200}) leaked "
                             f"{type(exc).__name__}: {exc}") from exc


def arguments(fn: Any) -> st.SearchStrategy:
    """Random (args, kwargs) for fn: real parameter names get random values more often."""
    try:
        names = [p.name for p in inspect.signature(fn).parameters.values()
                 if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    except (TypeError, ValueError):
        names = []
    name_st = st.one_of(st.sampled_from(names), st.text(min_size=1, max_size=6)) if names \
        else st.text(min_size=1, max_size=6)
    return st.tuples(st.lists(VALUES, max_size=3),
                     st.dictionaries(name_st, VALUES, max_size=4))


def exercise(obj: Any, data: Any) -> None:
    """Use what a call returned: call a returned decorator/callable, await coroutines,
    call a few public methods with random arguments."""
    if obj is None:
        return
    if inspect.iscoroutine(obj) or inspect.isawaitable(obj):
        _run(obj)
        return
    if callable(obj) and not isinstance(obj, type):
        args, kwargs = data.draw(arguments(obj), label="call args")
        result = call_allowed(obj, args, kwargs)
        if inspect.isawaitable(result):
            _run(result)
        elif callable(result) and not isinstance(result, type):
            # a decorator applied to something: now call the decorated thing
            args2, kwargs2 = data.draw(arguments(result), label="decorated call args")
            out = call_allowed(result, args2, kwargs2)
            if inspect.isawaitable(out):
                _run(out)
    methods = [m for m in dir(type(obj)) if not m.startswith("_")
               and callable(getattr(type(obj), m, None))]
    for _ in range(min(3, len(methods))):
        name = data.draw(st.sampled_from(methods), label="method")
        if name in ("register", "register_function", "unregister"):
            continue  # classifier registries are process-wide: leave them alone
        meth = getattr(obj, name)
        args, kwargs = data.draw(arguments(meth), label=f"{name} args")
        out = call_allowed(meth, args, kwargs)
        if inspect.isawaitable(out):
            _run(out)


def _run(awaitable: Any) -> None:
    async def main() -> Any:
        return await asyncio.wait_for(awaitable, 5.0)

    try:
        asyncio.run(main())
    except ALLOWED:
        pass
    except AttributeError as exc:
        raise AssertionError(f"awaiting {awaitable!r} leaked {type(exc).__name__}: {exc}") from exc


# every public constructor / decorator / function; left out on purpose: register_error_type
# (a process-wide registry), the shared.* directory functions (they create directories
# wherever they are pointed) and ErrorType (an Enum: calling it is the stdlib's functional
# Enum API)
SKIP = {"register_error_type", "shared", "ErrorType"}
TARGETS = sorted(
    [(n, getattr(z, n)) for n in z.__all__ if n not in SKIP and callable(getattr(z, n))]
    + [(f"_core.{n}", getattr(_core, n)) for n in dir(_core)
       if not n.startswith("_") and callable(getattr(_core, n))],
    key=lambda t: t[0],
)


@pytest.fixture(autouse=True)
def _private_segment_dir(tmp_path):
    """Anything that opens a shared segment does it in a private temporary directory."""
    d = tmp_path / "segs"
    d.mkdir(mode=0o700)
    shared.set_directory(d)
    try:
        yield
    finally:
        shared.set_directory(None)


# async callables passed where sync ones are expected make "never awaited" warnings
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name, target", TARGETS, ids=[t[0] for t in TARGETS])
@FUZZ
@given(data=st.data())
def test_random_arguments(name, target, data):
    args, kwargs = data.draw(arguments(target), label="args")
    with instant_retries(max_attempts=3):
        result = call_allowed(target, args, kwargs)
        exercise(result, data)


STRATEGY_CLASSES = [z.ExponentialBackoffStrategy, z.LinearBackoffStrategy,
                    z.FixedDelayStrategy, z.FibonacciBackoffStrategy, z.AdaptiveStrategy]


@pytest.mark.parametrize("cls", STRATEGY_CLASSES, ids=lambda c: c.__name__)
@FUZZ
@given(data=st.data())
def test_valid_strategies_give_finite_delays(cls, data):
    """Whatever numbers a strategy accepts, its delays are finite and within [0, max_delay]."""
    args, kwargs = data.draw(arguments(cls), label="args")
    try:
        s = cls(*args, **kwargs)
    except (TypeError, ValueError):
        return
    attempt = data.draw(st.one_of(st.integers(1, 100), st.integers(1, 2**80)), label="attempt")
    prev = data.draw(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), label="prev")
    for d in s.delays(min(int(s.max_attempts), 20)) + [s.get_delay(attempt, prev)]:
        assert math.isfinite(d) and 0.0 <= d <= s.max_delay, (s, d)
