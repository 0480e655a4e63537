"""Breakers and budgets shared across "hosts" on a real redis-server.

Each host is its own RedisBackend with its own client and host id. Most tests drive the
sync rounds by hand (``sync_now``) so every step is exact; the load tests run the
background threads and restart Redis under them. Durations are never asserted: waits only
bound how long a test may take before it fails.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

import pytest

from redis_server import RedisServer
from zenoo_retry import CircuitBreakerOpenError, retry
from zenoo_retry.backends import RedisBackend
from zenoo_retry.budget import RetryBudget
from zenoo_retry.circuit_breaker import AdvancedCircuitBreaker, CircuitBreaker

WAIT = 15.0


class Boom(ConnectionError):
    pass


@pytest.fixture(scope="module")
def server():
    with RedisServer() as s:
        yield s


@pytest.fixture
def hosts(server):
    """A factory of hosts: host(staleness=..., autostart=...) -> RedisBackend."""
    import redis

    server.start()
    redis.Redis(host="127.0.0.1", port=server.port).flushall()
    made = []

    def host(**kw):
        kw.setdefault("autostart", False)
        b = RedisBackend(redis.Redis(host="127.0.0.1", port=server.port), prefix="fleet", **kw)
        made.append(b)
        return b

    yield host
    for b in made:
        b.close()


def fail(cb, n=1):
    for _ in range(n):
        with pytest.raises(Boom):
            cb.call(_raise)


def _raise():
    raise Boom("down")


def ok(cb):
    return cb.call(lambda: "ok")


def wait_for(cond, what):
    deadline = time.monotonic() + WAIT
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


# -- breakers, rounds by hand -------------------------------------------------------------

def test_a_local_trip_reaches_the_other_host_in_one_round_each(hosts):
    a, b = hosts(), hosts()
    cba = a.share(CircuitBreaker(failure_threshold=3, recovery_timeout=30, name="pay"))
    cbb = b.share(CircuitBreaker(failure_threshold=3, recovery_timeout=30, name="pay"))
    assert a.sync_now() and b.sync_now()
    fail(cba, 3)
    assert cba.state == "open" and cbb.state == "closed"
    assert a.sync_now() and b.sync_now()
    assert cbb.state == "open"
    with pytest.raises(CircuitBreakerOpenError) as info:
        ok(cbb)
    assert 29 < info.value.retry_after <= 30.5
    assert b.link(cbb).fleet[0] == 1 and b.link(cbb).fleet_trips == 1


def test_failures_on_several_hosts_add_up(hosts):
    a, b = hosts(), hosts()
    cba = a.share(CircuitBreaker(failure_threshold=4, name="sum"))
    cbb = b.share(CircuitBreaker(failure_threshold=4, name="sum"))
    fail(cba, 2)
    fail(cbb, 2)
    assert cba.state == cbb.state == "closed"      # neither host alone saw 4
    assert a.sync_now() and b.sync_now()          # the fleet did
    assert cbb.state == "open"
    assert a.sync_now() and cba.state == "open"


def test_a_success_anywhere_resets_the_fleet_count(hosts):
    a, b = hosts(), hosts()
    cba = a.share(CircuitBreaker(failure_threshold=3, name="reset"))
    cbb = b.share(CircuitBreaker(failure_threshold=3, name="reset"))
    fail(cba, 2)
    a.sync_now()
    ok(cbb)
    fail(cbb, 1)
    b.sync_now()
    assert b.link(cbb).fleet_failures == 1 and cbb.state == "closed"


def test_one_host_probes_for_the_fleet_and_closes_it(hosts):
    a, b = hosts(), hosts()
    cba = a.share(CircuitBreaker(failure_threshold=1, recovery_timeout=0.2, name="probe"))
    cbb = b.share(CircuitBreaker(failure_threshold=1, recovery_timeout=0.2, name="probe"))
    fail(cba)
    a.sync_now(), b.sync_now()
    assert cbb.state == "open"
    time.sleep(0.25)  # the fleet's break (server clock) is over
    for cb in (cba, cbb):  # traffic on both hosts: both want to probe
        with pytest.raises(CircuitBreakerOpenError):
            ok(cb)
    a.sync_now(), b.sync_now()
    la, lb = a.link(cba), b.link(cbb)
    assert la.fleet[:2] == (2, True) and lb.fleet[:2] == (2, False)
    assert cba.state == "half_open"
    with pytest.raises(CircuitBreakerOpenError):   # B does not probe
        ok(cbb)
    assert ok(cba) == "ok" and cba.state == "closed"  # A's probe succeeded
    a.sync_now(), b.sync_now()
    assert la.fleet[0] == 0 and cbb.state == "closed"


def test_a_failed_probe_reopens_the_fleet_with_a_longer_break(hosts):
    a, b = hosts(), hosts()
    kw = dict(failure_threshold=1, recovery_timeout=0.2, break_multiplier=10.0,
              max_break_duration=60.0, name="grow")
    cba, cbb = a.share(CircuitBreaker(**kw)), b.share(CircuitBreaker(**kw))
    fail(cba)
    a.sync_now()
    time.sleep(0.25)
    with pytest.raises(CircuitBreakerOpenError):
        ok(cba)
    a.sync_now()
    assert cba.state == "half_open"
    fail(cba)                                  # the probe fails
    a.sync_now(), b.sync_now()
    with pytest.raises(CircuitBreakerOpenError) as info:
        ok(cbb)
    assert 1.0 < info.value.retry_after <= 2.5  # 0.2 s x 10, as decided in Redis
    assert b.link(cbb).fleet_trips == 2


def test_a_local_transition_during_a_round_is_never_overwritten(hosts):
    a = hosts()
    cb = a.share(CircuitBreaker(failure_threshold=2, name="race"))
    link = a.link(cb)
    req = link._redis_request()                 # the round starts: breaker closed
    fail(cb, 2)                                 # meanwhile it trips locally
    link._redis_apply([0, 0, 0, 0, 0, 0])       # the fleet (as of before) says closed
    assert cb.state == "open"                   # the local trip stands...
    assert req[2][4] == 0
    assert a.sync_now()                         # ...and is reported next round
    assert link.fleet[0] == 1


def test_manual_isolation_is_local_and_wins(hosts):
    a, b = hosts(), hosts()
    cba = a.share(CircuitBreaker(name="iso"))
    cbb = b.share(CircuitBreaker(name="iso"))
    cba.isolate()
    a.sync_now(), b.sync_now()
    assert cba.state == "isolated" and cbb.state == "closed"


def test_advanced_breakers_share_too(hosts):
    a, b = hosts(), hosts()
    cba = a.share(AdvancedCircuitBreaker(failure_threshold=2, name="adv"))
    cbb = b.circuit_breaker("adv", failure_threshold=2, cls=AdvancedCircuitBreaker)
    fail(cba, 2)
    a.sync_now(), b.sync_now()
    assert isinstance(cbb, AdvancedCircuitBreaker) and cbb.state == "open"


def test_a_shared_breaker_inside_retry(hosts):
    a, b = hosts(), hosts()
    cba = a.circuit_breaker("in-retry", failure_threshold=2)
    cbb = b.circuit_breaker("in-retry", failure_threshold=2)
    calls = []

    @retry(max_attempts=5, delay=0, exceptions=Boom, circuit_breaker=cba)
    def flaky():
        calls.append(1)
        raise Boom("down")

    with pytest.raises(CircuitBreakerOpenError):
        flaky()
    assert len(calls) == 2
    a.sync_now(), b.sync_now()

    @retry(max_attempts=3, delay=0, exceptions=Boom, circuit_breaker=cbb)
    def other():
        return "never called"

    with pytest.raises(CircuitBreakerOpenError):
        other()


def test_share_rejects_what_it_cannot_share(hosts):
    a = hosts()
    with pytest.raises(TypeError, match="CircuitBreaker or a RetryBudget"):
        a.share(object())
    with pytest.raises(Exception, match="name"):
        a.share(CircuitBreaker())               # unnamed
    with pytest.raises(TypeError, match="ratio budget"):
        a.share(RetryBudget.ratio(), name="r")
    with pytest.raises(TypeError, match="name="):
        a.share(RetryBudget())
    cb = a.share(CircuitBreaker(name="twice"))
    with pytest.raises(ValueError, match="already shared"):
        a.share(cb)


def test_objects_in_shared_memory_are_refused(hosts):
    from zenoo_retry import shared

    a = hosts()
    name = f"zr-redis-test-{os.getpid()}"
    try:
        with pytest.raises(TypeError, match="shared memory"):
            a.share(CircuitBreaker(name="both", shared=name + "-b"))
        with pytest.raises(TypeError, match="shared memory"):
            a.share(RetryBudget(5, 1.0, shared=name + "-u"), name="both")
    finally:
        for suffix in ("-b", "-u"):
            try:
                shared.remove(name + suffix)
            except Exception:
                pass


# -- budgets ------------------------------------------------------------------------------

def test_hosts_spend_one_bucket_between_them(hosts):
    a, b = hosts(), hosts()
    ba = a.retry_budget("retries", capacity=10, refill_rate=0.0)
    bb = b.retry_budget("retries", capacity=10, refill_rate=0.0)
    granted = 0
    for _ in range(6):  # both spend greedily, syncing between bursts
        a.sync_now(), b.sync_now()
        for budget in (ba, bb):
            while budget.try_acquire():
                granted += 1
    a.sync_now(), b.sync_now()
    assert granted <= 10 + 10  # the first burst ran on the hosts' own initial buckets
    la = a.link(ba)
    assert la.pool <= 0 and la.allocation == 0 and la.live_hosts == 2
    assert not ba.try_acquire() and not bb.try_acquire()


def test_after_the_first_round_the_fleet_never_overspends(hosts):
    a, b = hosts(), hosts()
    ba = a.retry_budget("strict", capacity=8, refill_rate=0.0)
    bb = b.retry_budget("strict", capacity=8, refill_rate=0.0)
    for _ in range(2):                          # both hosts known: 4 tokens each
        a.sync_now(), b.sync_now()
    assert ba.available_tokens() == 4.0 and bb.available_tokens() == 4.0
    granted = 0
    for _ in range(5):
        for budget in (ba, bb):
            while budget.try_acquire():
                granted += 1
        a.sync_now(), b.sync_now()
    assert granted == 8


def test_returned_tokens_go_back_to_the_fleet(hosts):
    a, b = hosts(), hosts()
    ba = a.retry_budget("back", capacity=4, refill_rate=0.0)
    bb = b.retry_budget("back", capacity=4, refill_rate=0.0)
    for _ in range(2):
        a.sync_now(), b.sync_now()              # 2 tokens each
    assert ba.try_acquire_multiple(2)
    a.sync_now(), b.sync_now()
    assert (a.link(ba).allocation, b.link(bb).allocation) == (0.0, 1.0)  # fair: 2 left / 2
    ba.return_tokens(2)
    a.sync_now(), b.sync_now(), a.sync_now()
    assert ba.available_tokens() + bb.available_tokens() == 4.0


# -- under load, with Redis restarts -------------------------------------------------------

def test_no_call_fails_because_redis_restarts_under_load(server, hosts, caplog):
    caplog.set_level(logging.INFO, logger="zenoo_retry")
    a, b = hosts(staleness=0.05, autostart=True), hosts(staleness=0.05, autostart=True)
    cba = a.circuit_breaker("load", failure_threshold=50, recovery_timeout=30)
    cbb = b.circuit_breaker("load", failure_threshold=50, recovery_timeout=30)
    budget = a.retry_budget("load-budget", capacity=1_000_000, refill_rate=0.0)

    @retry(max_attempts=2, delay=0, exceptions=Boom, circuit_breaker=cba, budget=budget)
    def work(i):
        return i

    stop = threading.Event()
    errors, calls = [], []

    def load():
        i = 0
        while not stop.is_set():
            i += 1
            try:
                assert work(i) == i
                cbb.call(lambda: None)
            except BaseException as exc:  # anything at all is a failure of this test
                errors.append(exc)
        calls.append(i)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(2):
            n = a.rounds
            wait_for(lambda: a.rounds > n + 2, "rounds before the restart")
            server.stop()
            n = a.failed_rounds
            wait_for(lambda: a.failed_rounds > n, "a failed round")
            server.start()
            n = a.rounds
            wait_for(lambda: a.rounds > n + 2 and b.healthy, "rounds after the restart")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == [] and len(calls) == 2 and min(calls) > 0
    assert cba.state == cbb.state == "closed"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert 2 <= len(warnings) <= 4          # once per outage per backend, not per round
    # the fleet state is re-created after the restarts and still propagates
    fail(cba, 50)
    wait_for(lambda: cbb.state == "open", "the trip to reach the other host")


def test_calls_flow_when_redis_is_down_from_the_start(caplog):
    import redis

    from redis_server import free_port

    caplog.set_level(logging.WARNING, logger="zenoo_retry")
    dead = RedisBackend(redis.Redis(host="127.0.0.1", port=free_port()), autostart=False,
                        timeout=0.2)
    cb = dead.circuit_breaker("nobody", failure_threshold=2)
    assert ok(cb) == "ok"
    assert dead.sync_now() is False and dead.sync_now() is False
    fail(cb, 2)
    assert cb.state == "open"          # the local rules still protect this host
    assert len([r for r in caplog.records if r.name == "zenoo_retry"]) == 1
    dead.close()


def test_a_paused_redis_never_blocks_calls(server, hosts):
    a = hosts(staleness=0.05, autostart=True, timeout=0.2)
    cb = a.circuit_breaker("paused", failure_threshold=3)
    wait_for(lambda: a.rounds > 1, "a first round")
    server.pause()
    try:
        n = a.failed_rounds
        for _ in range(1000):
            ok(cb)                     # the background round hangs; calls do not
        fail(cb, 3)
        assert cb.state == "open"
        wait_for(lambda: a.failed_rounds > n, "the hung round to time out")
    finally:
        server.resume()
    server.restart()


# -- asyncio client -------------------------------------------------------------------------

async def test_asyncio_hosts_share_a_breaker(server):
    import redis.asyncio as aioredis

    server.start()
    a = RedisBackend(aioredis.Redis(host="127.0.0.1", port=server.port), prefix="afleet",
                     autostart=False)
    b = RedisBackend(aioredis.Redis(host="127.0.0.1", port=server.port), prefix="afleet",
                     autostart=False)
    await a.areset("async-pay")
    cba = a.circuit_breaker("async-pay", failure_threshold=2)
    cbb = b.circuit_breaker("async-pay", failure_threshold=2)

    @cba
    async def call():
        raise Boom("down")

    for _ in range(2):
        with pytest.raises(Boom):
            await call()
    assert await a.async_sync_now() and await b.async_sync_now()
    assert cbb.state == "open"
    async with b:  # the background task keeps it in sync
        await asyncio.sleep(0)
        assert b._task is not None
    await a.aclose()


# -- fork (gunicorn --preload, multiprocessing) ----------------------------------------------

@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_worker_syncs_on_its_own_and_is_its_own_host(hosts):
    import multiprocessing

    a = hosts(staleness=0.05, autostart=True)
    cb = a.circuit_breaker("forked", failure_threshold=2, recovery_timeout=30)
    wait_for(lambda: a.rounds > 1, "a first round")
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()

    def child():
        try:
            fail(cb, 2)                      # trips in the child only
            n = a.rounds
            deadline = time.monotonic() + WAIT
            while a.rounds < n + 2 and time.monotonic() < deadline:
                time.sleep(0.005)            # the child's own sync thread reports it
            q.put((a.host_id, a.rounds > n + 1))
        except BaseException as exc:  # report, never hang the parent
            q.put(("error", repr(exc)))

    p = ctx.Process(target=child)
    p.start()
    host, synced = q.get(timeout=WAIT)
    p.join(timeout=WAIT)
    assert synced is True and host != a.host_id
    wait_for(lambda: cb.state == "open", "the child's trip to reach the parent")


async def test_asyncio_calls_flow_while_redis_restarts(server, caplog):
    import redis.asyncio as aioredis

    caplog.set_level(logging.WARNING, logger="zenoo_retry")
    server.start()
    a = RedisBackend(aioredis.Redis(host="127.0.0.1", port=server.port), prefix="aload",
                     staleness=0.05)
    b = RedisBackend(aioredis.Redis(host="127.0.0.1", port=server.port), prefix="aload",
                     staleness=0.05)
    async with a, b:
        await a.areset("aload")
        cba = a.circuit_breaker("aload", failure_threshold=20)
        cbb = b.circuit_breaker("aload", failure_threshold=20)
        guarded = cba(async_ok)
        errors = []

        async def until(cond, what):
            deadline = time.monotonic() + WAIT
            while not cond():
                if time.monotonic() > deadline:
                    raise AssertionError(f"timed out waiting for {what}")
                try:
                    assert await guarded() == "ok"
                except BaseException as exc:  # any failure of a call fails the test
                    errors.append(exc)
                await asyncio.sleep(0.001)

        n = a.rounds
        await until(lambda: a.rounds > n + 2, "rounds")
        server.stop()
        n = a.failed_rounds
        await until(lambda: a.failed_rounds > n, "a failed round")
        server.start()
        n = a.rounds
        await until(lambda: a.rounds > n + 2, "rounds after the restart")
        assert errors == []
        for _ in range(20):
            with pytest.raises(Boom):
                await cba(async_boom)()
        await until(lambda: cbb.state == "open", "the trip to reach the other host")
    assert len([r for r in caplog.records if r.name == "zenoo_retry"]) <= 2


async def async_ok():
    return "ok"


async def async_boom():
    raise Boom("down")
