"""Circuit breakers: every transition with a fake clock, the call forms (decorator, with,
async with, call, should_allow_request/record_*), listeners, manual control, windows,
slow calls, growing break, seed 000's builders, bad arguments, refcounts."""
from __future__ import annotations

import asyncio
import datetime
import gc
import sys

import pytest

from helpers import FakeClock
from zenoo_retry import (
    AdvancedCircuitBreaker,
    CircuitBreaker,
    CircuitBreakerOpenError,
    CircuitBreakerStats,
    InvalidConfigurationError,
)


class Boom(ConnectionError):
    pass


def make(clock=None, **kw):
    clock = clock or FakeClock()
    return CircuitBreaker(clock=clock, **kw), clock


def fail(cb, exc=None):
    """One failing call through cb (returns the exception raised)."""
    with pytest.raises(BaseException) as info:
        cb.call(_raise, exc or Boom("down"))
    return info.value


def _raise(exc):
    raise exc


def ok(cb):
    return cb.call(lambda: "ok")


# ---- transitions ------------------------------------------------------------------------


def test_seed_004_defaults():
    cb = CircuitBreaker()
    assert cb.failure_threshold == 5
    assert cb.recovery_timeout == 30.0
    assert cb.expected_exception == (Exception,)
    assert cb.state == "closed"
    assert cb.success_threshold == 1 and cb.half_open_max_calls == 1


def test_closed_to_open_after_consecutive_failures():
    cb, clock = make(failure_threshold=3, recovery_timeout=10.0)
    for _ in range(2):
        assert isinstance(fail(cb), Boom)
    assert cb.state == "closed" and cb.stats().failure_count == 2
    assert ok(cb) == "ok"  # a success resets the run
    assert cb.stats().failure_count == 0
    for _ in range(3):
        fail(cb)
    assert cb.state == "open"
    st = cb.stats()
    assert st.last_failure_time == clock.now and st.trips == 1


def test_open_fails_fast_and_says_when():
    cb, clock = make(failure_threshold=1, recovery_timeout=10.0, name="db")
    fail(cb)
    clock.now += 4.0
    calls = []
    err = fail(cb)  # refused: the function is not called
    assert isinstance(err, CircuitBreakerOpenError)
    with pytest.raises(CircuitBreakerOpenError) as info:
        cb.call(calls.append, 1)
    assert calls == []
    assert info.value.name == "db"
    assert info.value.state == "open"
    assert info.value.retry_after == pytest.approx(6.0)
    assert "db" in str(info.value) and "6.000" in str(info.value)
    assert cb.stats().calls_rejected == 2


def test_open_to_half_open_to_closed():
    cb, clock = make(failure_threshold=1, recovery_timeout=10.0)
    fail(cb)
    clock.now += 9.999
    assert cb.state == "open"
    clock.now += 0.001
    assert cb.state == "half_open"  # reported once the timeout passed
    assert ok(cb) == "ok"
    assert cb.state == "closed"
    assert cb.stats().success_count == 1


def test_half_open_failure_reopens():
    cb, clock = make(failure_threshold=1, recovery_timeout=10.0)
    fail(cb)
    clock.now += 10.0
    fail(cb)
    assert cb.state == "open"
    assert cb.stats().retry_after == pytest.approx(10.0)
    assert cb.stats().trips == 2


def test_half_open_probe_limit_and_success_threshold():
    cb, clock = make(failure_threshold=1, recovery_timeout=1.0, half_open_max_calls=2,
                     success_threshold=2)
    fail(cb)
    clock.now += 1.0
    t1 = cb._zr_enter()
    t2 = cb._zr_enter()
    with pytest.raises(CircuitBreakerOpenError) as info:
        cb._zr_enter()
    assert info.value.state == "half_open" and info.value.retry_after == 0.0
    assert cb.stats().probes_in_flight == 2
    cb._zr_exit(t1, None)
    assert cb.state == "half_open" and cb.stats().half_open_successes == 1
    t3 = cb._zr_enter()  # the freed slot is reusable
    cb._zr_exit(t2, None)
    assert cb.state == "closed"
    cb._zr_exit(t3, Boom())  # a probe from before the close records nothing
    assert cb.state == "closed" and cb.stats().failure_count == 0
    assert cb.stats().stale_outcomes == 1


def test_growing_break_duration():
    cb, clock = make(failure_threshold=1, recovery_timeout=2.0, break_multiplier=3.0,
                     max_break_duration=10.0)
    fail(cb)
    seen = []
    for _ in range(4):
        seen.append(cb.stats().retry_after)
        clock.now += seen[-1]
        fail(cb)  # the probe fails: open again, longer
    assert seen == [2.0, 6.0, 10.0, 10.0]
    clock.now += 10.0
    ok(cb)
    fail(cb)
    assert cb.stats().retry_after == 2.0  # closing resets the growth


def test_isolate_disable_reset():
    events = []
    cb, clock = make(failure_threshold=1, listeners=[lambda b, o, n: events.append((o, n))])
    cb.isolate()
    assert cb.state == "isolated"
    clock.now += 1e9
    with pytest.raises(CircuitBreakerOpenError) as info:
        ok(cb)
    assert info.value.state == "isolated" and "reset()" in str(info.value)
    assert info.value.retry_after == float("inf")
    cb.disable()
    for _ in range(10):
        fail(cb)
    assert cb.state == "disabled"
    cb.reset()
    assert cb.state == "closed"
    assert events == [("closed", "isolated"), ("isolated", "disabled"), ("disabled", "closed")]
    assert cb.stats().last_failure_time is None


def test_count_window_failure_rate():
    cb, _ = make(failure_threshold=0, window="count", window_size=10, minimum_calls=4,
                 failure_rate_threshold=0.5)
    ok(cb)
    fail(cb)
    ok(cb)
    assert cb.state == "closed"
    fail(cb)  # 2 of 4
    assert cb.state == "open"


def test_time_window_forgets():
    cb, clock = make(failure_threshold=0, window="time", window_size=10.0, window_buckets=10,
                     minimum_calls=3, failure_rate_threshold=1.0)
    fail(cb)
    fail(cb)
    clock.now += 10.0  # both failures leave the window
    assert cb.stats().window_calls == 0
    fail(cb)
    assert cb.state == "closed"
    fail(cb)
    fail(cb)
    assert cb.state == "open"


def test_slow_calls_trip():
    clock = FakeClock()
    cb = CircuitBreaker(failure_threshold=0, window="count", window_size=4, minimum_calls=2,
                        failure_rate_threshold=0.0, slow_call_duration=1.0,
                        slow_call_rate_threshold=0.5, clock=clock)

    def slow():
        clock.now += 2.0
        return "late"

    assert cb.call(slow) == "late"
    assert cb.stats().slow_calls == 1 and cb.state == "closed"
    ok(cb)
    assert cb.state == "open"  # 1 slow of 2


def test_unexpected_exceptions_count_as_success_and_cancellation_is_ignored():
    cb, _ = make(failure_threshold=1, expected_exception=ConnectionError)
    with pytest.raises(ValueError):
        cb.call(_raise, ValueError("bad input"))
    assert cb.state == "closed" and cb.stats().total_successes == 1
    for exc in (KeyboardInterrupt(), SystemExit(3), asyncio.CancelledError(), GeneratorExit()):
        with pytest.raises(type(exc)):
            cb.call(_raise, exc)
    st = cb.stats()
    assert st.ignored_calls == 4 and st.total_failures == 0 and cb.state == "closed"
    fail(cb)
    assert cb.state == "open"


def test_expected_exception_tuple_and_list():
    cb = AdvancedCircuitBreaker(failure_threshold=2, expected_exceptions=[KeyError, Boom],
                                clock=FakeClock())
    assert cb.expected_exceptions == (KeyError, Boom)
    fail(cb, KeyError("k"))
    fail(cb, Boom())
    assert cb.state == "open"


# ---- call forms -------------------------------------------------------------------------


def test_decorator_sync_keeps_metadata_and_binds_as_method():
    cb, _ = make(failure_threshold=2)

    @cb
    def add(a, b=1):
        """Adds."""
        return a + b

    assert add(1, b=2) == 3
    assert add.__name__ == "add" and add.__doc__ == "Adds." and add.__wrapped__ is not None
    assert add.breaker is cb

    class Client:
        @cb
        def get(self, x):
            return (self, x)

    c = Client()
    assert c.get(5) == (c, 5)
    assert cb.stats().total_successes == 2


def test_decorator_sync_failure_path():
    cb, _ = make(failure_threshold=2)

    @cb
    def down():
        raise Boom("x")

    for _ in range(2):
        with pytest.raises(Boom):
            down()
    with pytest.raises(CircuitBreakerOpenError):
        down()


async def test_decorator_async():
    cb, clock = make(failure_threshold=1, recovery_timeout=5.0)
    calls = []

    @cb
    async def fetch(x):
        calls.append(x)
        if x < 0:
            raise Boom("neg")
        await asyncio.sleep(0)
        return x * 2

    assert asyncio.iscoroutinefunction(fetch)
    assert await fetch(2) == 4
    with pytest.raises(Boom):
        await fetch(-1)
    with pytest.raises(CircuitBreakerOpenError):
        await fetch(3)
    assert calls == [2, -1]
    clock.now += 5.0
    assert await fetch(4) == 8
    assert cb.state == "closed"


async def test_async_cancellation_is_not_a_failure():
    cb, _ = make(failure_threshold=1)
    started = asyncio.Event()

    @cb
    async def hang():
        started.set()
        await asyncio.sleep(3600)

    task = asyncio.ensure_future(hang())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cb.state == "closed" and cb.stats().ignored_calls == 1


def test_with_statement_nests():
    cb, _ = make(failure_threshold=2)
    with cb:
        with cb:
            pass
    with pytest.raises(Boom):
        with cb:
            raise Boom()
    assert cb.stats().total_successes == 2 and cb.stats().failure_count == 1
    with pytest.raises(Boom):
        with cb:
            raise Boom()
    with pytest.raises(CircuitBreakerOpenError):
        with cb:
            pytest.fail("body must not run")


def test_with_exit_without_enter_and_threads():
    cb, _ = make(failure_threshold=1000)
    with pytest.raises(RuntimeError, match="__enter__"):
        cb.__exit__(None, None, None)
    import threading

    errors = []

    def run():
        try:
            for i in range(2000):
                try:
                    with cb:
                        if i % 7 == 0:
                            raise Boom()
                except Boom:
                    pass
        except Exception as exc:  # pragma: no cover - the test fails below
            errors.append(exc)

    ts = [threading.Thread(target=run) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    s = cb.stats()
    assert s.calls_admitted == s.total_successes + s.total_failures == 8000
    assert s.total_failures == 4 * 286


async def test_async_with():
    cb, _ = make(failure_threshold=1)
    async with cb:
        await asyncio.sleep(0)
    with pytest.raises(Boom):
        async with cb:
            raise Boom()
    with pytest.raises(CircuitBreakerOpenError):
        async with cb:
            pass


async def test_async_with_concurrent_tasks_keep_their_own_permits():
    cb, clock = make(failure_threshold=1, recovery_timeout=1.0, half_open_max_calls=3,
                     success_threshold=3)
    fail(cb)
    clock.now += 1.0

    async def probe(i):
        async with cb:
            await asyncio.sleep(0.001 * (3 - i))

    await asyncio.gather(*(probe(i) for i in range(3)))
    assert cb.state == "closed"


async def test_call_async():
    cb, _ = make()

    async def f(a, *, b):
        return a + b

    assert await cb.call_async(f, 1, b=2) == 3


def test_call_passes_arguments():
    cb, _ = make()
    assert cb.call(dict, a=1) == {"a": 1}
    assert cb.call(max, 3, 9, 4) == 9
    with pytest.raises(TypeError):
        cb.call()


def test_should_allow_request_and_record():
    """Seed 000's manual protocol."""
    cb, clock = make(failure_threshold=2, recovery_timeout=60.0)
    for _ in range(2):
        assert cb.should_allow_request()
        cb.record_failure()
    assert not cb.should_allow_request()
    clock.now += 60.0
    assert cb.should_allow_request()  # the probe
    assert not cb.should_allow_request()  # one probe at a time
    cb.record_success()
    assert cb.state == "closed"
    assert cb.should_allow_request()


def test_stats_dataclass():
    cb, clock = make(name="api")
    fail(cb)
    st = cb.stats()
    assert isinstance(st, CircuitBreakerStats)
    assert st.state == "closed" and st["state"] == "closed"
    assert st.failure_count == 1 and st.success_count == 0
    assert st.last_failure_time == clock.now
    assert st.as_dict()["name"] == "api"
    assert cb.failure_count == 1 and cb.last_failure_time == clock.now


# ---- listeners ----------------------------------------------------------------------------


def test_listeners_see_every_transition_and_may_reenter():
    seen = []
    cb, clock = make(failure_threshold=1, recovery_timeout=1.0)

    def listener(breaker, old, new):
        seen.append((old, new, breaker.state))  # re-entering the breaker is allowed

    cb.add_listener(listener)
    fail(cb)
    clock.now += 1.0
    ok(cb)
    assert seen == [("closed", "open", "open"), ("open", "half_open", "half_open"),
                    ("half_open", "closed", "closed")]
    cb.remove_listener(listener)
    fail(cb)
    assert len(seen) == 3
    with pytest.raises(ValueError):
        cb.remove_listener(listener)
    with pytest.raises(TypeError):
        cb.add_listener(42)


def test_listener_errors_are_reported_not_raised():
    cb, _ = make(failure_threshold=1)
    reported = []

    def bad(b, o, n):
        raise RuntimeError("listener bug")

    cb.add_listener(bad)
    old = sys.unraisablehook
    sys.unraisablehook = lambda u: reported.append(u.exc_value)
    try:
        err = fail(cb)
    finally:
        sys.unraisablehook = old
    assert isinstance(err, Boom)  # the call's own error, untouched
    assert cb.state == "open"
    assert len(reported) == 1 and isinstance(reported[0], RuntimeError)


# ---- seed 000 builders ----------------------------------------------------------------------


def test_builders_return_configured_breakers():
    seen = []
    base = CircuitBreaker(name="svc", listeners=[lambda *a: seen.append(a)])
    cb = base.with_failure_threshold(7).with_success_threshold(2).with_timeout(
        datetime.timedelta(seconds=60))
    assert type(cb) is CircuitBreaker and cb is not base
    assert (cb.failure_threshold, cb.success_threshold, cb.recovery_timeout) == (7, 2, 60.0)
    assert cb.name == "svc" and cb.listeners == base.listeners
    assert cb.config["permit_lease"] == 60.0  # default lease follows the timeout
    adv = AdvancedCircuitBreaker(half_open_max_calls=3).with_timeout(5)
    assert type(adv) is AdvancedCircuitBreaker and adv.half_open_max_calls == 3
    assert adv.recovery_timeout == 5.0


def test_advanced_defaults():
    cb = AdvancedCircuitBreaker(failure_threshold=10, recovery_timeout=60.0, half_open_max_calls=3,
                                expected_exceptions=[ConnectionError, TimeoutError],
                                success_threshold=2)
    assert cb.success_threshold == 2 and cb.half_open_max_calls == 3
    assert cb.expected_exceptions == (ConnectionError, TimeoutError)


# ---- bad arguments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"failure_threshold": -1}, "failure_threshold"),
        ({"failure_threshold": 0}, "failure_threshold"),
        ({"recovery_timeout": -1.0}, "recovery_timeout"),
        ({"recovery_timeout": float("nan")}, "recovery_timeout"),
        ({"recovery_timeout": float("inf")}, "recovery_timeout"),
        ({"success_threshold": 0}, "success_threshold"),
        ({"half_open_max_calls": 0}, "half_open_max_calls"),
        ({"half_open_max_calls": 5000}, "half_open_max_calls"),
        ({"window": "sliding"}, "window"),
        ({"window_size": 10}, "window_size"),
        ({"window": "count", "window_size": 0}, "window_size"),
        ({"window": "time", "window_size": -5}, "window_size"),
        ({"window": "time", "window_buckets": 0}, "window_buckets"),
        ({"window": "count", "minimum_calls": 0}, "minimum_calls"),
        ({"window": "count", "failure_rate_threshold": 1.5}, "failure_rate_threshold"),
        ({"window": "count", "slow_call_duration": 0}, "slow_call_duration"),
        ({"slow_call_duration": 1.0}, "slow_call_duration"),
        ({"window": "count", "slow_call_rate_threshold": -0.5}, "slow_call_rate_threshold"),
        ({"break_multiplier": 0.5}, "break_multiplier"),
        ({"recovery_timeout": 10, "max_break_duration": 5}, "max_break_duration"),
        ({"permit_lease": 0}, "permit_lease"),
    ],
)
def test_bad_values_name_parameter_and_value(kwargs, param):
    with pytest.raises(InvalidConfigurationError) as info:
        CircuitBreaker(**kwargs)
    assert info.value.parameter == param
    assert param in str(info.value)
    if param in kwargs:
        assert repr(kwargs[param])[:3] in str(info.value)


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"failure_threshold": 2.5}, "failure_threshold"),
        ({"failure_threshold": True}, "failure_threshold"),
        ({"recovery_timeout": "30"}, "recovery_timeout"),
        ({"expected_exception": 42}, "expected_exception"),
        ({"expected_exception": ()}, "expected_exception"),
        ({"expected_exception": (ValueError, 3)}, "expected_exception"),
        ({"clock": 3}, "clock"),
        ({"name": 3}, "name"),
        ({"listeners": [1]}, "listeners"),
        ({"listeners": 5}, "listeners"),
    ],
)
def test_bad_types(kwargs, text):
    with pytest.raises(TypeError, match=text):
        CircuitBreaker(**kwargs)


def test_unknown_keyword():
    with pytest.raises(TypeError):
        CircuitBreaker(failure_treshold=3)


def test_bad_token_and_exc():
    cb, _ = make()
    with pytest.raises(TypeError, match="token"):
        cb._zr_exit("nope", None)
    with pytest.raises(TypeError, match="exc"):
        cb._zr_exit(cb._zr_enter(), 42)
    with pytest.raises(TypeError):
        cb._zr_exit(1)
    with pytest.raises(TypeError):
        cb(42)
    with pytest.raises(InvalidConfigurationError, match="duration"):
        cb.record_success(-1)


def test_bad_clock():
    # the closed-state success path never reads the clock; where time is needed, a bad
    # clock raises (admission, manual control) or is reported (outcome of a call)
    reported = []
    old = sys.unraisablehook
    sys.unraisablehook = lambda u: reported.append(u.exc_value)
    try:
        cb = CircuitBreaker(failure_threshold=1, clock=lambda: float("nan"))
        assert cb.call(lambda: 1) == 1
        err = fail(cb)
        assert isinstance(err, Boom)  # the call's error, not the clock's
        assert len(reported) == 1 and "clock" in str(reported[0])
        with pytest.raises(ValueError, match="clock"):
            cb.isolate()
        cb = CircuitBreaker(failure_threshold=1, clock=lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            cb.stats()
    finally:
        sys.unraisablehook = old


def test_uninitialised_and_reinit():
    raw = CircuitBreaker.__new__(CircuitBreaker)
    with pytest.raises(TypeError, match="__init__"):
        raw.state
    cb = CircuitBreaker()
    with pytest.raises(TypeError, match="once"):
        CircuitBreaker.__init__(cb, failure_threshold=2)


# ---- memory ---------------------------------------------------------------------------------


def test_refcounts_stable_on_every_path():
    cb, clock = make(failure_threshold=3, recovery_timeout=1.0)
    result = object()
    err = Boom("same")

    def good():
        return result

    def bad():
        raise err

    wrapped = cb(good)
    wrapped_bad = cb(bad)
    for _ in range(5):  # warm up caches
        wrapped()
    before = (sys.getrefcount(result), sys.getrefcount(err), sys.getrefcount(cb))
    for _ in range(1000):
        wrapped()
        cb.call(good)
        with cb:
            pass
        for _ in range(3):
            try:
                wrapped_bad()
            except (Boom, CircuitBreakerOpenError):
                pass
        clock.now += 1.0
        cb.call(good)
    err.__traceback__ = None
    err.__context__ = None
    gc.collect()
    after = (sys.getrefcount(result), sys.getrefcount(err), sys.getrefcount(cb))
    assert after == before


def test_breaker_and_wrapper_are_collected():
    import weakref

    cb = CircuitBreaker()

    @cb
    def f():
        return f  # a cycle through the wrapper

    cb.add_listener(lambda b, o, n: cb)  # a cycle through the listener
    refs = [weakref.ref(cb), weakref.ref(f)]
    del cb, f
    gc.collect()
    assert [r() for r in refs] == [None, None]


# ---- the C awaitable of async-decorated functions ------------------------------------------


async def test_async_decorated_works_with_tasks_and_methods():
    cb, _ = make(failure_threshold=3)

    class Client:
        @cb
        async def get(self, x):
            await asyncio.sleep(0)
            return (self, x)

    c = Client()
    assert await asyncio.create_task(c.get(1)) == (c, 1)
    assert await asyncio.gather(c.get(2), c.get(3)) == [(c, 2), (c, 3)]
    import inspect

    assert inspect.iscoroutinefunction(Client.get)
    assert cb.stats().total_successes == 3


async def test_async_refusal_closes_the_unstarted_coroutine(recwarn):
    cb, _ = make(failure_threshold=1)
    ran = []

    @cb
    async def f():
        ran.append(1)
        raise Boom()

    with pytest.raises(Boom):
        await f()
    with pytest.raises(CircuitBreakerOpenError):
        await f()
    gc.collect()
    assert ran == [1]
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


def test_async_awaitable_protocol_edges():
    cb, clock = make(failure_threshold=1, recovery_timeout=1.0)

    @cb
    async def f(x):
        await asyncio.sleep(0)
        return x

    # driven by hand: send / StopIteration value / reuse
    aw = f(5)
    assert aw.send(None) is None  # asyncio.sleep(0) yields None
    with pytest.raises(StopIteration) as info:
        aw.send(None)
    assert info.value.value == 5
    with pytest.raises(RuntimeError, match="reuse"):
        aw.send(None)
    # a non-None first send is refused without taking a permit
    aw = f(1)
    with pytest.raises(TypeError):
        aw.send(42)
    aw.close()
    # throw into a running call: a failure
    aw = f(2)
    aw.send(None)
    with pytest.raises(Boom):
        aw.throw(Boom())
    assert cb.state == "open"
    # close a running probe: the permit comes back, nothing counted
    clock.now += 1.0
    aw = f(3)
    aw.send(None)
    assert cb.stats().probes_in_flight == 1
    aw.close()
    st = cb.stats()
    assert st.probes_in_flight == 0 and st.state == "half_open" and st.ignored_calls == 1
    # abandoned mid-call: the permit comes back when it is collected
    aw = f(4)
    aw.send(None)
    assert cb.stats().probes_in_flight == 1
    del aw
    gc.collect()
    assert cb.stats().probes_in_flight == 0
    # a throw before the first step never starts the call
    aw = f(6)
    with pytest.raises(Boom):
        aw.throw(Boom())
    assert cb.stats().probes_in_flight == 0 and cb.state == "half_open"


async def test_async_refcounts_stable():
    cb, _ = make(failure_threshold=10**6)
    result = object()

    @cb
    async def f():
        return result

    @cb
    async def g():
        raise Boom()

    for _ in range(5):
        await f()
    before = sys.getrefcount(result), sys.getrefcount(cb)
    for _ in range(500):
        await f()
        try:
            await g()
        except Boom:
            pass
    gc.collect()
    assert (sys.getrefcount(result), sys.getrefcount(cb)) == before


def test_default_clock_paths():
    """No fake clock: the coarse monotonic clock (and the precise one for slow calls)."""
    cb = CircuitBreaker(failure_threshold=1, recovery_timeout=0.0)
    fail(cb)
    assert cb.stats().last_failure_time is not None
    assert ok(cb) == "ok"  # recovery_timeout 0: the next call is the probe, and closes it
    assert cb.state == "closed" and cb.stats().trips == 1
    import time

    slow = CircuitBreaker(failure_threshold=0, window="count", window_size=2, minimum_calls=2,
                          failure_rate_threshold=0.0, slow_call_duration=1e-6,
                          slow_call_rate_threshold=1.0)
    slow.call(time.sleep, 0.001)
    slow.call(time.sleep, 0.001)
    assert slow.stats().slow_calls == 2 and slow.state == "open"


# ---- the closed-state path of @breaker and @retry(circuit_breaker=) ---------------------


def _wrappers(cb):
    """The two C wrappers that run a closed breaker's success path inline."""
    from zenoo_retry import retry

    def make_pair(fn):
        return [cb(fn), retry(max_attempts=1, delay=0, circuit_breaker=cb)(fn)]

    return make_pair


@pytest.mark.parametrize("which", [0, 1])
def test_closed_path_counts_admissions_and_successes_exactly(which):
    cb, _ = make(failure_threshold=3, recovery_timeout=10.0)
    f = _wrappers(cb)(lambda x: x * 2)[which]
    assert [f(i) for i in range(10)] == [i * 2 for i in range(10)]
    s = cb.stats()
    assert s.calls_admitted == 10 and s.total_successes == 10 and s.total_failures == 0
    assert s.state == "closed" and s.failure_count == 0


@pytest.mark.parametrize("which", [0, 1])
def test_closed_path_success_after_the_breaker_moved_on_counts_nothing(which):
    cb, _ = make(failure_threshold=1, recovery_timeout=10.0)

    def isolating():
        cb.isolate()  # another thread's transition, made while this call runs
        return "done"

    f = _wrappers(cb)(isolating)[which]
    assert f() == "done"
    s = cb.stats()
    assert cb.state == "isolated"
    assert s.total_successes == 0 and s.stale_outcomes == 1 and s.calls_admitted == 1
    cb.reset()
    assert cb.state == "closed"


@pytest.mark.parametrize("which", [0, 1])
def test_closed_path_failure_trips_and_the_next_call_is_refused(which):
    cb, clock = make(failure_threshold=2, recovery_timeout=5.0)
    box = {"fail": True}

    def maybe():
        if box["fail"]:
            raise Boom("down")
        return "ok"

    f = _wrappers(cb)(maybe)[which]
    for _ in range(2):
        with pytest.raises(Exception) as info:
            f()
        assert isinstance(info.value, Boom) or isinstance(info.value.__cause__, Boom)
    assert cb.state == "open"
    box["fail"] = False
    with pytest.raises(Exception) as info:
        f()
    assert isinstance(info.value, CircuitBreakerOpenError) or isinstance(
        getattr(info.value, "last_exception", None), CircuitBreakerOpenError)
    clock.now += 5.0
    assert f() == "ok" and cb.state == "closed"
    assert cb.stats().total_failures == 2


@pytest.mark.parametrize("which", [0, 1])
def test_closed_path_success_resets_consecutive_failures(which):
    cb, _ = make(failure_threshold=3, recovery_timeout=5.0)
    seq = iter([Boom("1"), Boom("2"), None, Boom("3"), Boom("4")])

    def step():
        e = next(seq)
        if e is not None:
            raise e
        return "ok"

    f = _wrappers(cb)(step)[which]
    for _ in range(5):
        try:
            f()
        except Exception:
            pass
    # 2 failures, a success (reset), 2 failures: below the threshold of 3
    assert cb.state == "closed" and cb.stats().failure_count == 2
