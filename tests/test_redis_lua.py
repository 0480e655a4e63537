"""The Redis backend's Lua scripts, driven directly against a real redis-server.

Time is passed in (``now_ms``) so every transition is exact; one test checks the server-clock
mode. Atomicity is checked with threads hammering one key.
"""
from __future__ import annotations

import threading

import pytest

from redis_server import RedisServer
from zenoo_retry.backends import _redis_lua as lua

CLOSED, OPEN, HALF = lua.CLOSED, lua.OPEN, lua.HALF_OPEN
T0 = 1_000_000


@pytest.fixture(scope="module")
def server():
    with RedisServer() as s:
        yield s


@pytest.fixture
def r(server):
    import redis

    client = redis.Redis(host="127.0.0.1", port=server.port)
    client.flushall()
    yield client
    client.close()


def bsync(r, key="zr:{b}:breaker", host="A", ok=0, fail=0, tail=None, event=0, gen=0,
          threshold=3, recovery=1000, mult=1.0, max_break=10_000, lease=500, want=1,
          ttl=60_000, now=T0):
    """One BREAKER_SYNC; returns (state, remaining_ms, gen, failures, mine, trips)."""
    if tail is None:
        tail = 0 if ok else fail
    reply = r.eval(lua.BREAKER_SYNC, 1, key, host, ok, fail, tail, event, gen, threshold,
                   recovery, mult, max_break, lease, want, ttl, now)
    return tuple(int(x) for x in reply)


def usync(r, host="A", cap=10, rate=1.0, spent=0, live=1000, ttl=60_000, now=T0):
    """One BUDGET_SYNC; returns (allocation, live hosts, pool, total spent)."""
    reply = r.eval(lua.BUDGET_SYNC, 3, "zr:{u}:budget", "zr:{u}:hosts", "zr:{u}:alloc", cap,
                   rate, spent, host, live, ttl, now)
    return float(reply[0]), int(reply[1]), float(reply[2]), float(reply[3])


# -- breaker --------------------------------------------------------------------------------

def test_fresh_breaker_is_closed_and_counts_failures(r):
    assert bsync(r, fail=1) == (CLOSED, 0, 0, 1, 0, 0)
    assert bsync(r, fail=1, host="B") == (CLOSED, 0, 0, 2, 0, 0)


def test_failures_from_several_hosts_trip_at_the_threshold(r):
    bsync(r, fail=2, host="A")
    state, remaining, gen, failures, mine, trips = bsync(r, fail=1, host="B", now=T0 + 10)
    assert (state, remaining, gen, failures, trips) == (OPEN, 1000, 1, 0, 1)


def test_a_success_resets_the_count_to_the_tail_of_the_batch(r):
    bsync(r, fail=2)
    assert bsync(r, ok=1, fail=1, tail=1)[3] == 1
    assert bsync(r, ok=5, fail=0)[3] == 0
    assert bsync(r, fail=2)[0] == CLOSED


def test_a_local_trip_opens_the_fleet_breaker_at_once(r):
    assert bsync(r, fail=1, event=lua.EVENT_TRIPPED)[:3] == (OPEN, 1000, 1)


def test_open_ignores_outcomes_and_counts_down_on_the_server_clock(r):
    bsync(r, event=lua.EVENT_TRIPPED)
    assert bsync(r, ok=3, fail=7, host="B", now=T0 + 400)[:4] == (OPEN, 600, 1, 0)
    assert bsync(r, event=lua.EVENT_TRIPPED, host="B", now=T0 + 500)[:3] == (OPEN, 500, 1)


def test_after_recovery_exactly_one_host_holds_the_probe_lease(r):
    bsync(r, event=lua.EVENT_TRIPPED)
    a = bsync(r, host="A", now=T0 + 1000)
    b = bsync(r, host="B", now=T0 + 1001)
    assert a == (HALF, 500, 3, 0, 1, 1)   # gen 2: half-open, gen 3: A's lease
    assert b == (HALF, 499, 3, 0, 0, 1)   # B sees half-open, lease held by A


def test_a_host_without_traffic_does_not_take_the_lease(r):
    bsync(r, event=lua.EVENT_TRIPPED)
    assert bsync(r, host="A", want=0, now=T0 + 1000)[4] == 0
    assert bsync(r, host="B", want=1, now=T0 + 1001)[4] == 1


def test_the_holder_closes_the_fleet_breaker_after_good_probes(r):
    bsync(r, event=lua.EVENT_TRIPPED)
    gen = bsync(r, host="A", now=T0 + 1000)[2]
    assert bsync(r, host="B", event=lua.EVENT_PROBE_CLOSED, gen=gen, now=T0 + 1010)[0] == HALF
    assert bsync(r, host="A", ok=2, event=lua.EVENT_PROBE_CLOSED, gen=gen - 1,
                 now=T0 + 1010)[0] == HALF  # stale generation: ignored
    assert bsync(r, host="A", ok=2, event=lua.EVENT_PROBE_CLOSED, gen=gen,
                 now=T0 + 1020) == (CLOSED, 0, gen + 1, 0, 0, 1)


def test_a_failed_probe_reopens_for_a_full_recovery_timeout(r):
    bsync(r, event=lua.EVENT_TRIPPED)
    gen = bsync(r, host="A", now=T0 + 1000)[2]
    assert bsync(r, host="A", fail=1, event=lua.EVENT_PROBE_FAILED, gen=gen,
                 now=T0 + 1200) == (OPEN, 1000, gen + 1, 0, 0, 2)


def test_each_retrip_from_half_open_grows_the_break_up_to_the_cap(r):
    now = T0
    bsync(r, event=lua.EVENT_TRIPPED, mult=3.0, max_break=5000, now=now)
    breaks = []
    for _ in range(3):
        now += 10_000
        gen = bsync(r, mult=3.0, max_break=5000, now=now)[2]
        state, remaining, *_ = bsync(r, event=lua.EVENT_PROBE_FAILED, gen=gen, mult=3.0,
                                     max_break=5000, now=now)
        breaks.append((state, remaining))
    assert breaks == [(OPEN, 3000), (OPEN, 5000), (OPEN, 5000)]
    # closing and tripping again starts from recovery_timeout
    now += 10_000
    gen = bsync(r, mult=3.0, max_break=5000, now=now)[2]
    bsync(r, event=lua.EVENT_PROBE_CLOSED, gen=gen, now=now)
    assert bsync(r, event=lua.EVENT_TRIPPED, mult=3.0, max_break=5000, now=now)[:2] == (OPEN, 1000)


def test_threshold_zero_leaves_tripping_to_the_hosts(r):
    assert bsync(r, fail=50, threshold=0)[0] == CLOSED
    assert bsync(r, event=lua.EVENT_TRIPPED, threshold=0)[0] == OPEN


def test_a_vanished_holder_loses_the_lease_when_it_expires(r):
    bsync(r, event=lua.EVENT_TRIPPED)
    bsync(r, host="A", now=T0 + 1000)
    assert bsync(r, host="B", now=T0 + 1499)[4] == 0
    state, remaining, gen, _, mine, _ = bsync(r, host="B", now=T0 + 1500)
    assert (state, remaining, mine) == (HALF, 500, 1)
    # A comes back and reports its old probe: its lease is gone, nothing changes
    assert bsync(r, host="A", event=lua.EVENT_PROBE_CLOSED, gen=gen - 1, now=T0 + 1510)[:3] == (
        HALF, 490, gen)


def test_the_holder_renews_its_lease_while_it_probes(r):
    bsync(r, event=lua.EVENT_TRIPPED)
    bsync(r, host="A", now=T0 + 1000)
    assert bsync(r, host="A", now=T0 + 1400)[:2] == (HALF, 500)
    assert bsync(r, host="B", now=T0 + 1600)[4] == 0


def test_names_are_independent_keys_with_a_ttl(r):
    bsync(r, key="zr:{one}:breaker", event=lua.EVENT_TRIPPED)
    assert bsync(r, key="zr:{two}:breaker", fail=1)[0] == CLOSED
    assert 0 < r.pttl("zr:{one}:breaker") <= 60_000
    assert sorted(r.keys("zr:*")) == [b"zr:{one}:breaker", b"zr:{two}:breaker"]


def test_server_clock_mode(r):
    state, remaining, *_ = bsync(r, event=lua.EVENT_TRIPPED, recovery=60_000, now=0)
    assert state == OPEN and 0 < remaining <= 60_000
    until = int(r.hget("zr:{b}:breaker", "until"))
    t = r.time()
    assert abs(until - 60_000 - (t[0] * 1000 + t[1] // 1000)) < 60_000


def test_concurrent_reports_are_applied_atomically(server, r):
    import redis

    def hammer():
        c = redis.Redis(host="127.0.0.1", port=server.port)
        for _ in range(50):
            bsync(c, fail=1, threshold=10**9)
        c.close()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bsync(r, threshold=10**9)[3] == 400


# -- budget ---------------------------------------------------------------------------------

def test_the_first_host_gets_the_whole_fresh_bucket(r):
    assert usync(r) == (10.0, 1, 0.0, 0.0)


def test_allocations_converge_to_fair_shares_and_never_exceed_the_bucket(r):
    assert usync(r, host="A")[0] == 10.0
    assert usync(r, host="B")[:3] == (0.0, 2, 0.0)      # A holds everything
    assert usync(r, host="A")[:3] == (5.0, 2, 5.0)      # A's unspent tokens came back
    assert usync(r, host="B")[:3] == (5.0, 2, 0.0)
    assert r.hget("zr:{u}:budget", "held") == b"10"


def test_spending_is_deducted_and_unspent_tokens_return(r):
    usync(r, host="A", rate=0)
    usync(r, host="B", rate=0)
    usync(r, host="A", rate=0)                           # A: 5, B: 0, pool 5
    assert usync(r, host="A", rate=0, spent=4) == (3.0, 2, 3.0, 4.0)  # 1 back + pool 5 = 6
    assert usync(r, host="B", rate=0)[:3] == (3.0, 2, 0.0)


def test_the_pool_refills_by_server_time_up_to_capacity_minus_allocations(r):
    usync(r, host="A", rate=2.0, spent=0)                # A holds 10
    usync(r, host="A", rate=2.0, spent=10, now=T0)       # spent it all: pool 0
    give, _, pool, _ = usync(r, host="A", rate=2.0, now=T0 + 1500)
    assert give + pool == pytest.approx(3.0)
    give, _, pool, _ = usync(r, host="A", rate=2.0, now=T0 + 100_000)
    assert give + pool == 10.0


def test_overspending_becomes_debt_bounded_by_capacity(r):
    usync(r, rate=0)
    assert usync(r, rate=0, spent=15)[:3] == (0.0, 1, -5.0)
    assert usync(r, rate=0, spent=100)[2] == -10.0
    assert usync(r, rate=10.0, now=T0 + 1000)[:3] == (0.0, 1, 0.0)


def test_returned_tokens_never_exceed_capacity(r):
    usync(r, rate=0, spent=2)
    assert usync(r, rate=0, spent=-1)[0] == 9.0
    assert usync(r, rate=0, spent=-5)[0] == 10.0


def test_the_clock_going_backwards_never_refills(r):
    usync(r, rate=0, spent=0)
    usync(r, rate=0, spent=5)
    assert usync(r, rate=100.0, now=T0 - 5000)[0] == 5.0


def test_a_silent_host_is_dropped_and_its_allocation_returns(r):
    usync(r, host="A", rate=0, now=T0)                   # A holds 10
    assert usync(r, host="B", rate=0, now=T0 + 500)[:2] == (0.0, 2)
    assert usync(r, host="B", rate=0, now=T0 + 1501)[:3] == (10.0, 1, 0.0)
    assert r.hget("zr:{u}:alloc", "A") is None


def test_concurrent_spending_is_exact(server, r):
    import redis

    def hammer(name):
        c = redis.Redis(host="127.0.0.1", port=server.port)
        for _ in range(50):
            usync(c, host=name, cap=10_000, rate=0, spent=1, live=10**9)
        c.close()

    threads = [threading.Thread(target=hammer, args=(f"h{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    give, hosts, pool, total = usync(r, host="h0", cap=10_000, rate=0, live=10**9)
    assert (hosts, total) == (8, 400.0)
    held = float(r.hget("zr:{u}:budget", "held"))
    assert give + pool + (held - give) == pytest.approx(10_000 - 400.0)


# -- properties ------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_op = st.tuples(
    st.sampled_from(["A", "B", "C"]),           # host
    st.integers(0, 3),                          # successes
    st.integers(0, 4),                          # failures
    st.sampled_from([0, 0, 0, 1, 2, 3]),        # event
    st.booleans(),                              # wants to probe
    st.integers(0, 700),                        # ms since the previous op
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_op, min_size=1, max_size=40))
def test_breaker_script_invariants(r, ops):
    """Whatever the hosts report and whenever: the state is valid, at most one host holds
    the probe lease, generations and trips never go back, an open break never exceeds
    max_break and the closed count stays under the threshold."""
    r.delete("zr:{p}:breaker")
    now, last_gen, last_trips = T0, 0, 0
    gens = {}
    for host, n_ok, n_fail, event, want, dt in ops:
        now += dt
        tail = n_fail if not n_ok else min(n_fail, 1)
        state, remaining, gen, failures, mine, trips = bsync(
            r, key="zr:{p}:breaker", host=host, ok=n_ok, fail=n_fail, tail=tail, event=event,
            gen=gens.get(host, 0), threshold=3, recovery=1000, mult=2.0, max_break=3000,
            lease=500, want=int(want), now=now)
        gens[host] = gen
        assert state in (CLOSED, OPEN, HALF)
        assert gen >= last_gen and trips >= last_trips
        assert trips - last_trips <= 1
        holder = (r.hget("zr:{p}:breaker", "holder") or b"").decode()
        if mine:
            assert state == HALF and holder == host and 0 < remaining <= 500
        if state == OPEN:
            assert 0 < remaining <= 3000 and holder == ""
        if state == CLOSED:
            assert 0 <= failures < 3 and remaining == 0 and holder == ""
        if trips > last_trips:
            assert state == OPEN
        last_gen, last_trips = gen, trips
