"""Circuit breaker under random sequences and threads.

* Hypothesis: random acquire / release / clock / isolate / reset sequences drive the C
  breaker and a small Python reference model of the rules side by side; after every step
  both agree on the state, the failure run and the probes out, and the state is legal.
* Threads: 8 threads make 1,000,000 breaker operations in total against one breaker whose
  clock moves fast enough to trip and recover it over and over; probes in flight never
  exceed half_open_max_calls and every counter adds up.
"""
from __future__ import annotations

import struct
import threading
import time

import pytest

from hypothesis import given, settings
from hypothesis import strategies as hs

from zenoo_retry import CircuitBreaker, CircuitBreakerOpenError

NO_SLOT = 0xFFFFFFFF


def is_probe(token: bytes) -> bool:
    """White-box: a token is the C permit (epoch, start, slot, generation)."""
    return struct.unpack("=QdII", token)[2] != NO_SLOT


class Model:
    """The breaker rules of zr_breaker.h for the consecutive-failure breaker, in Python."""

    def __init__(self, ft, rt, st, hmax, mult, maxb):
        self.ft, self.rt, self.st, self.hmax, self.mult, self.maxb = ft, rt, st, hmax, mult, maxb
        self.mode = "closed"
        self.cf = 0
        self.hos = 0
        self.trips = 0
        self.brk = rt
        self.open_until = 0.0
        self.epoch = 0
        self.probes = set()

    def _set(self, mode):
        self.epoch += 1  # probes keep their slots across transitions
        self.hos = 0
        self.mode = mode

    def _trip(self, now):
        if self.mode == "half_open" and self.trips > 0:
            self.brk = min(self.brk * self.mult, self.maxb)
        else:
            self.brk = self.rt
        self.trips += 1
        self.open_until = now + self.brk
        self._set("open")

    def poll(self, now):
        if self.mode == "open" and now >= self.open_until:
            self.cf = 0
            self._set("half_open")

    def acquire(self, now, key):
        """-> (admitted, token-like tuple)"""
        if self.mode in ("closed",):
            return True, (self.epoch, None)
        if self.mode == "isolated":
            return False, None
        self.poll(now)
        if self.mode == "open":
            return False, None
        if len(self.probes) >= self.hmax:
            return False, None
        self.probes.add(key)
        return True, (self.epoch, key)

    def release(self, now, token, outcome):
        epoch, key = token
        if key is not None:
            self.probes.discard(key)
        if epoch != self.epoch or outcome == "ignored":
            return
        if outcome == "success":
            self.cf = 0
            if self.mode == "half_open":
                self.hos += 1
                if self.hos >= self.st:
                    self.trips = 0
                    self.cf = 0
                    self.brk = self.rt
                    self._set("closed")
        else:
            self.cf += 1
            if self.mode == "closed" and self.cf >= self.ft:
                self._trip(now)
            elif self.mode == "half_open":
                self._trip(now)

    def isolate(self):
        self._set("isolated")

    def reset(self):
        self.cf = 0
        self.trips = 0
        self.brk = self.rt
        self._set("closed")


OUTCOMES = {"success": None, "failure": ConnectionError("down"), "ignored": KeyboardInterrupt()}

ops = hs.lists(
    hs.one_of(
        hs.tuples(hs.just("acquire")),
        hs.tuples(hs.just("release"), hs.integers(0, 7), hs.sampled_from(sorted(OUTCOMES))),
        hs.tuples(hs.just("advance"), hs.floats(0.0, 4.0)),
        hs.tuples(hs.just("isolate")),
        hs.tuples(hs.just("reset")),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(
    ft=hs.integers(1, 4),
    rt=hs.sampled_from([0.0, 0.5, 1.0, 3.0]),
    st=hs.integers(1, 3),
    hmax=hs.integers(1, 3),
    mult=hs.sampled_from([1.0, 2.0]),
    steps=ops,
)
def test_breaker_matches_reference_model(ft, rt, st, hmax, mult, steps):
    now = [100.0]
    cb = CircuitBreaker(failure_threshold=ft, recovery_timeout=rt, success_threshold=st,
                        half_open_max_calls=hmax, break_multiplier=mult,
                        max_break_duration=rt * 4, permit_lease=1e9, clock=lambda: now[0])
    model = Model(ft, rt, st, hmax, mult, rt * 4)
    held = []  # (c token, model token)
    for n, step in enumerate(steps):
        kind = step[0]
        if kind == "acquire":
            ok, mtok = model.acquire(now[0], n)
            try:
                tok = cb._zr_enter()
            except CircuitBreakerOpenError as err:
                assert not ok, "C refused what the model admits"
                assert err.retry_after >= 0.0
            else:
                assert ok, "C admitted what the model refuses"
                assert is_probe(tok) == (mtok[1] is not None)
                held.append((tok, mtok))
        elif kind == "release" and held:
            tok, mtok = held.pop(step[1] % len(held))
            cb._zr_exit(tok, OUTCOMES[step[2]])
            model.release(now[0], mtok, step[2])
        elif kind == "advance":
            now[0] += step[1]
        elif kind == "isolate":
            cb.isolate()
            model.isolate()
        elif kind == "reset":
            cb.reset()
            model.reset()
        model.poll(now[0])
        s = cb.stats()  # polls the C breaker the same way
        assert s.state == model.mode
        assert s.failure_count == model.cf
        assert s.probes_in_flight == len(model.probes) <= hmax
        assert s.consecutive_trips == model.trips
        if s.state == "open":
            assert 0.0 <= s.retry_after <= rt * 4
            assert s.retry_after == max(0.0, model.open_until - now[0])  # the growing break
        assert s.calls_admitted >= s.total_successes + s.total_failures + s.ignored_calls
    # every permit returned: counters add up
    for tok, _ in held:
        cb._zr_exit(tok, None)
    s = cb.stats()
    assert s.probes_in_flight == 0
    assert s.calls_admitted == (s.total_successes + s.total_failures + s.ignored_calls
                                + s.stale_outcomes)


@settings(max_examples=60, deadline=None)
@given(
    kind=hs.sampled_from(["count", "time"]),
    size=hs.integers(1, 12),
    rate=hs.sampled_from([0.25, 0.5, 1.0]),
    outcomes=hs.lists(hs.tuples(hs.booleans(), hs.floats(0.0, 3.0)), max_size=60),
)
def test_window_breakers_stay_legal(kind, size, rate, outcomes):
    now = [0.0]
    cb = CircuitBreaker(failure_threshold=0, window=kind, window_size=size, minimum_calls=2,
                        failure_rate_threshold=rate, recovery_timeout=1.0, clock=lambda: now[0])
    for failed, dt in outcomes:
        now[0] += dt
        try:
            cb.call(lambda: (_ for _ in ()).throw(ConnectionError()) if failed else None)
        except (ConnectionError, CircuitBreakerOpenError):
            pass
        s = cb.stats()
        assert s.state in ("closed", "open", "half_open")
        assert 0 <= s.window_failures <= s.window_calls
        if kind == "count":
            assert s.window_calls <= size
        if s.state == "closed" and s.window_calls >= 2:
            assert s.window_failures < rate * s.window_calls or s.window_calls < 2


# ---- threads ------------------------------------------------------------------------------


def _stress(total_ops: int, threads: int = 8):
    ticks = [0]
    limit = 3
    cb = CircuitBreaker(failure_threshold=3, recovery_timeout=0.05, half_open_max_calls=limit,
                        success_threshold=2, permit_lease=1e9, clock=lambda: ticks[0] * 0.001)
    lock = threading.Lock()
    stats = {"inflight": 0, "max": 0, "admitted": 0, "refused": 0}
    per_thread = total_ops // threads
    err = ConnectionError("down")
    start = threading.Barrier(threads)

    def worker(seed: int) -> None:
        enter, exit_ = cb._zr_enter, cb._zr_exit
        admitted = refused = 0
        x = seed
        start.wait()
        for i in range(per_thread):
            ticks[0] += 1
            try:
                tok = enter()
            except CircuitBreakerOpenError:
                refused += 1
                continue
            admitted += 1
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            probe = is_probe(tok)
            if probe:
                with lock:
                    stats["inflight"] += 1
                    if stats["inflight"] > stats["max"]:
                        stats["max"] = stats["inflight"]
                if x & 1:
                    time.sleep(0.0001)  # release the GIL: let other threads try for a probe
                with lock:
                    stats["inflight"] -= 1
            exit_(tok, err if x % 5 == 0 else None)
        with lock:
            stats["admitted"] += admitted
            stats["refused"] += refused

    ts = [threading.Thread(target=worker, args=(i + 1,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    s = cb.stats()
    assert stats["max"] <= limit
    assert stats["admitted"] + stats["refused"] == per_thread * threads
    assert s.calls_admitted == stats["admitted"]
    assert s.calls_rejected == stats["refused"]
    assert s.probes_in_flight == 0
    assert s.calls_admitted == (s.total_successes + s.total_failures + s.ignored_calls
                                + s.stale_outcomes)
    assert s.trips > 10 and stats["refused"] > 0  # it really cycled through the states
    return stats, s


@pytest.mark.slow  # ~1.5 s on 3.11, up to ~5 s on 3.13 on a loaded machine
def test_thread_stress_million_operations():
    _stress(1_000_000)


def test_thread_stress_short():
    _stress(100_000)


def test_probe_limit_with_threads_holding_permits():
    """8 threads race for probes while every admitted probe is held: exactly the limit get
    in, the rest are refused; then the held probes close the breaker."""
    now = [0.0]
    cb = CircuitBreaker(failure_threshold=1, recovery_timeout=1.0, half_open_max_calls=3,
                        success_threshold=3, clock=lambda: now[0])
    try:
        cb.call(_fail)
    except ConnectionError:
        pass
    now[0] = 1.0
    ready = threading.Barrier(8)
    tried = threading.Barrier(8)
    admitted, refused = [], []

    def worker():
        ready.wait()
        try:
            tok = cb._zr_enter()
        except CircuitBreakerOpenError:
            refused.append(1)
            tried.wait()
            return
        admitted.append(tok)
        tried.wait()  # hold the permit until every thread has tried
        cb._zr_exit(tok, None)

    ts = [threading.Thread(target=worker) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(admitted) == 3 and len(refused) == 5
    assert cb.state == "closed"


def _fail():
    raise ConnectionError("down")


def test_decorated_function_under_threads():
    cb = CircuitBreaker(failure_threshold=1_000_000)
    count = [0]

    @cb
    def work(i):
        count[0] += 0  # no shared mutation needed; the breaker counts
        return i

    def run():
        for i in range(20_000):
            assert work(i) == i

    ts = [threading.Thread(target=run) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    s = cb.stats()
    assert s.calls_admitted == s.total_successes == 160_000
