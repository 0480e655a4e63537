"""Shared-memory state across real processes (issue 5): segment management, bad segment
files, exact totals under contention (fork and spawn), SIGKILL of a process holding the
lock."""
from __future__ import annotations

import os
import stat
import struct

import pytest

import zenoo_retry as zr
from zenoo_retry import _core, shared

import shm_workers
from multiproc import Victim, run_workers, start_workers

# spawn starts a fresh interpreter per worker (~0.2 s each on a busy machine): slow
CONTEXTS = ["fork", pytest.param("spawn", marks=pytest.mark.slow)]

# on-disk header offsets (zr_shm_header): magic u64, layout_version u32, kind u32,
# fingerprint u64 ...
VERSION_OFFSET = 8
FINGERPRINT_OFFSET = 16


@pytest.fixture
def shm_dir(tmp_path, monkeypatch):
    """A private segment directory for this test, inherited by fork and spawn children."""
    d = tmp_path / "shm"
    monkeypatch.setenv("ZENOO_RETRY_SHM_DIR", str(d))
    shared.set_directory(None)
    yield d
    shared.set_directory(None)


def counter(name: str, fingerprint: int = 1, increments: int = 0) -> int:
    return _core._shm_test_counter(name, fingerprint, increments)


# --- management ---------------------------------------------------------------------


def test_list_inspect_remove(shm_dir):
    assert shared.list_segments() == []  # the directory does not even exist yet
    assert counter("alpha", 7, 3) == 3
    counter("beta", 8, 1)
    assert shared.directory() == str(shm_dir)
    assert stat.S_IMODE(os.stat(shm_dir).st_mode) == 0o700
    assert [i.name for i in shared.list_segments()] == ["alpha", "beta"]
    a = shared.inspect("alpha")
    assert a.healthy and a.problem is None and a.error() is None and a.detail == "healthy"
    assert a.kind == "test" and a.fingerprint == 7 and a.layout_version == 1
    assert a.creator_pid == os.getpid() and a.creator_alive is True
    assert a.path == str(shm_dir / "alpha.zrseg")
    assert a.mode == 0o600 and a.uid == os.getuid()
    assert a.size == os.path.getsize(a.path) and a.payload_size == 8
    assert a.recoveries == 0 and a.created_at > 0
    assert shared.remove("alpha") is True
    assert [i.name for i in shared.list_segments()] == ["beta"]
    with pytest.raises(zr.SharedSegmentNotFoundError) as ei:
        shared.remove("alpha")
    assert "'alpha'" in str(ei.value) and ei.value.problem == "missing"
    assert ei.value.name == "alpha" and ei.value.path == str(shm_dir / "alpha.zrseg")
    assert shared.remove("alpha", missing_ok=True) is False
    with pytest.raises(LookupError):
        shared.inspect("alpha")


def test_state_persists_between_opens(shm_dir):
    assert counter("c", 1, 5) == 5
    assert counter("c", 1, 0) == 5
    assert counter("c", 1, 2) == 7


def test_list_ignores_temporaries_and_other_files(shm_dir):
    counter("real", 1, 1)
    (shm_dir / "notes.txt").write_text("x")
    (shm_dir / "real.zrseg.tmp.123.abc.456").write_bytes(b"half-built")
    (shm_dir / "bad name.zrseg").write_bytes(b"x")
    assert [i.name for i in shared.list_segments()] == ["real"]


@pytest.mark.parametrize("bad", ["", ".hidden", "a/b", "a b", "x" * 101, "é"])
def test_bad_names_are_configuration_errors(shm_dir, bad):
    for call in (shared.inspect, shared.remove, lambda n: counter(n, 1, 1)):
        with pytest.raises(zr.InvalidConfigurationError) as ei:
            call(bad)
        assert ei.value.parameter == "name" and ei.value.value == bad
    with pytest.raises(TypeError):
        shared.inspect(5)  # type: ignore[arg-type]


def test_set_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("ZENOO_RETRY_SHM_DIR", raising=False)
    default = shared.directory()
    assert default.endswith(f"zenoo_retry-{os.getuid()}")
    with pytest.raises(zr.InvalidConfigurationError) as ei:
        shared.set_directory("relative/dir")
    assert ei.value.parameter == "path"
    try:
        shared.set_directory(tmp_path / "mine")
        assert shared.directory() == str(tmp_path / "mine")
        counter("here", 1, 1)
        assert (tmp_path / "mine" / "here.zrseg").exists()
    finally:
        shared.set_directory(None)
    assert shared.directory() == default


# --- bad segment files ----------------------------------------------------------------


def _damage(path, how):
    data = bytearray(path.read_bytes())
    if how == "truncated-header":
        path.write_bytes(bytes(data[:40]))
    elif how == "truncated-payload":
        path.write_bytes(bytes(data[:-4]))
    elif how == "foreign":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(len(data) - 8))
    elif how == "stale":
        struct.pack_into("=I", data, VERSION_OFFSET, 999)
        path.write_bytes(bytes(data))
    elif how == "corrupted":
        data[FINGERPRINT_OFFSET] ^= 0x01  # the header checksum no longer matches
        path.write_bytes(bytes(data))
    elif how == "bad-mode":
        path.chmod(0o644)
    elif how == "bad-owner":
        os.chown(path, 65534, 65534)
    elif how == "symlink":
        target = path.with_name("elsewhere")
        path.rename(target)
        path.symlink_to(target)


BAD_FILES = [
    # damage, problem code, exception class, words in the message
    ("truncated-header", "truncated", zr.SharedSegmentCorruptedError, "truncated"),
    ("truncated-payload", "truncated", zr.SharedSegmentCorruptedError, "truncated"),
    ("foreign", "foreign", zr.SharedSegmentCorruptedError, "foreign"),
    ("stale", "stale", zr.SharedSegmentVersionError, "layout version"),
    ("corrupted", "corrupted", zr.SharedSegmentCorruptedError, "checksum"),
    ("bad-mode", "bad-mode", zr.SharedSegmentPermissionError, "0600"),
    ("bad-owner", "bad-owner", zr.SharedSegmentPermissionError, "another user"),
    ("symlink", "not-regular", zr.SharedSegmentPermissionError, "not a regular file"),
]


@pytest.mark.parametrize("how,code,cls,words", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_segment_files_give_clear_errors(shm_dir, how, code, cls, words):
    if how == "bad-owner" and os.getuid() != 0:
        pytest.skip("changing a file's owner needs root")
    counter("victim", 3, 2)
    path = shm_dir / "victim.zrseg"
    _damage(path, how)
    info = shared.inspect("victim")
    assert not info.healthy and info.problem == code
    assert isinstance(info.error(), cls)
    assert [i.problem for i in shared.list_segments()] == [code]
    with pytest.raises(cls) as ei:
        counter("victim", 3, 1)
    exc = ei.value
    assert isinstance(exc, zr.SharedStateError) and isinstance(exc, zr.RetryError)
    assert exc.name == "victim" and exc.problem == code and exc.path == str(path)
    msg = str(exc)
    assert "'victim'" in msg and str(path) in msg and words in msg and "remove" in msg
    # the way out: remove it, and the name works again from a fresh segment
    assert shared.remove("victim") is True
    assert counter("victim", 3, 1) == 1
    assert shared.inspect("victim").healthy


def test_same_name_other_configuration_is_refused(shm_dir):
    counter("cfg", 1, 4)
    with pytest.raises(zr.SharedConfigMismatchError) as ei:
        counter("cfg", 2, 1)
    msg = str(ei.value)
    assert "'cfg'" in msg and "configuration mismatch" in msg
    assert f"{1:016x}" in msg and f"{2:016x}" in msg  # both fingerprints are shown
    assert ei.value.problem == "config-mismatch"
    assert counter("cfg", 1, 0) == 4  # untouched, and still usable with its own settings


def test_unsafe_directory_is_refused(shm_dir):
    counter("x", 1, 1)
    shm_dir.chmod(0o755)
    with pytest.raises(zr.SharedSegmentPermissionError) as ei:
        counter("x", 1, 1)
    assert ei.value.problem == "unsafe-dir" and "0700" in str(ei.value)


# --- real processes -------------------------------------------------------------------

PROCS = 8


@pytest.mark.parametrize("context", CONTEXTS)
def test_eight_processes_exact_total(shm_dir, context):
    per = 3000
    results = run_workers(shm_workers.count, [("hammer", 5, per)] * PROCS, context=context)
    assert counter("hammer", 5, 0) == PROCS * per
    last = sorted(r.value for r in results)
    assert last[-1] == PROCS * per  # the last finisher saw the full total
    assert len(set(last)) == PROCS  # every increment was distinct
    assert all(per <= v <= PROCS * per for v in last)


@pytest.mark.parametrize("context", CONTEXTS)
def test_sigkill_while_holding_the_lock(shm_dir, context):
    counter("held", 9, 10)
    victim = Victim(shm_workers.hold_lock, ("held", 0, b"\xff" * 8), context=context)
    victim.wait_ready()  # it holds the lock and left a torn value
    workers = start_workers(shm_workers.count, [("held", 9, 500)] * 4, context=context)
    victim.kill()  # the workers were blocked on the lock; now one of them recovers it
    workers.collect()
    info = shared.inspect("held")
    assert info.recoveries == 1 and info.healthy
    # no repair callback for the test kind: the payload was reset to its initial state
    # (0) before anyone used it, so the torn 0xff.. value never leaked
    assert counter("held", 9, 0) == 4 * 500


# --- shared breaker, budget and adaptive strategy ---------------------------------------

from zenoo_retry import RetryBudget  # noqa: E402
from zenoo_retry.adaptive import AdaptiveStrategy  # noqa: E402
from zenoo_retry.circuit_breaker import CircuitBreaker  # noqa: E402

# offsets inside the payloads (zr_breaker_state.mode, zr_budget_state.tokens)
BREAKER_MODE_OFFSET = 24
BUDGET_TOKENS_OFFSET = 8

NEVER_TRIPS = {"failure_threshold": 10**6, "recovery_timeout": 30.0}


def test_breaker_state_is_shared_between_objects(shm_dir):
    a = CircuitBreaker(2, 30.0, shm_workers.Boom, shared="pay")
    b = CircuitBreaker(2, 30.0, shm_workers.Boom, shared="pay")
    assert a.shared == b.shared == "pay" and a.config["shared"] == "pay"
    assert a.name == "pay"  # the segment name names an unnamed breaker
    assert CircuitBreaker(2, 30.0).shared is None
    for _ in range(2):
        with pytest.raises(shm_workers.Boom):
            a.call(shm_workers._fail)
    assert a.state == "open" and b.state == "open"
    with pytest.raises(zr.CircuitBreakerOpenError) as ei:
        b.call(shm_workers._ok)
    assert ei.value.name == "pay"
    b.reset()
    assert a.state == "closed"
    info = shared.inspect("pay")
    assert info.kind == "breaker" and info.healthy
    assert info.state["state"] == "closed" and info.state["trips"] == 1
    assert info.state["total_failures"] == 2 and info.state["calls_admitted"] == 2


def test_inspect_shows_each_kind_of_state(shm_dir):
    cb = CircuitBreaker(2, 30.0, shared="brk")
    for _ in range(3):
        cb.call(shm_workers._ok)  # the lock-free path: counted in the segment's tally
    b = RetryBudget(capacity=5, refill_rate=0.0, shared="tok")
    b.try_acquire()
    b.record_request()
    s = AdaptiveStrategy(shared="ada")
    s.record_success()
    s.record_failure()
    states = {i.name: i.state for i in shared.list_segments()}
    assert states["brk"]["state"] == "closed" and states["brk"]["calls_admitted"] == 3
    assert states["brk"]["total_successes"] == 3
    assert states["tok"] == {"mode": "token", "tokens": 4.0, "requests": 1, "granted": 1,
                             "refused": 0}
    assert states["ada"]["samples"] == 2 and states["ada"]["window_successes"] == 1
    counter("plain", 1, 1)
    assert shared.inspect("plain").state is None  # a kind without a decoder


def test_breaker_configuration_mismatch_and_name_errors(shm_dir):
    CircuitBreaker(5, 30.0, shared="cfg")
    with pytest.raises(zr.SharedConfigMismatchError) as ei:
        CircuitBreaker(6, 30.0, shared="cfg")
    assert "'cfg'" in str(ei.value) and ei.value.problem == "config-mismatch"
    with pytest.raises(zr.SharedConfigMismatchError):
        CircuitBreaker(5, 30.0, half_open_max_calls=3, shared="cfg")
    with pytest.raises(zr.SharedConfigMismatchError) as ei:
        RetryBudget(capacity=5, shared="cfg")  # another kind under the same name
    assert ei.value.problem == "other-kind" and "breaker" in str(ei.value)
    with pytest.raises(zr.InvalidConfigurationError) as ei:
        CircuitBreaker(5, 30.0, shared="no/slash")
    assert ei.value.parameter == "shared" and ei.value.value == "no/slash"
    with pytest.raises(TypeError):
        CircuitBreaker(5, 30.0, shared=7)
    CircuitBreaker(5, 30.0, shared="cfg")  # the original settings still open it


def test_breaker_on_a_damaged_segment(shm_dir):
    CircuitBreaker(5, 30.0, shared="dmg")
    path = shm_dir / "dmg.zrseg"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(zr.SharedSegmentCorruptedError) as ei:
        CircuitBreaker(5, 30.0, shared="dmg")
    assert "'dmg'" in str(ei.value) and "truncated" in str(ei.value)
    shared.remove("dmg")
    assert CircuitBreaker(5, 30.0, shared="dmg").state == "closed"


def test_budget_and_adaptive_are_shared(shm_dir):
    a = RetryBudget(capacity=3, refill_rate=0.0, shared="tok")
    b = RetryBudget.token_bucket(3, 0.0, shared="tok")
    assert [a.try_acquire(), b.try_acquire(), a.try_acquire(), b.try_acquire()] == [
        True, True, True, False]
    assert a.stats()["granted"] == 3 and b.stats()["refused"] == 1 and a.shared == "tok"
    with pytest.raises(zr.SharedConfigMismatchError):
        RetryBudget(capacity=4, refill_rate=0.0, shared="tok")
    r1 = RetryBudget.ratio(percent=0.5, min_per_second=0.0, shared="ratio")
    r2 = RetryBudget.ratio(percent=0.5, min_per_second=0.0, shared="ratio")
    for _ in range(4):
        r1.record_request()
    assert r2.available_tokens() == 2.0
    s1 = AdaptiveStrategy(min_samples=4, shared="ad")
    s2 = AdaptiveStrategy(min_samples=4, shared="ad")
    for _ in range(8):
        s1.record_failure()
    assert s2.samples == 8 and s2.success_rate == 0.0 and s2.shared == "ad"
    assert s2.delays() == s1.delays()
    with pytest.raises(zr.SharedConfigMismatchError):
        AdaptiveStrategy(min_samples=5, shared="ad")
    kinds = {i.name: i.kind for i in shared.list_segments()}
    assert kinds == {"tok": "budget", "ratio": "budget", "ad": "adaptive"}


@pytest.mark.parametrize("context", CONTEXTS)
def test_eight_processes_one_breaker_exact_totals(shm_dir, context):
    per = 1500
    CircuitBreaker(expected_exception=shm_workers.Boom, shared="fleet", **NEVER_TRIPS)
    results = run_workers(shm_workers.breaker_calls, [("fleet", NEVER_TRIPS, per)] * PROCS,
                          context=context)
    assert [r.value for r in results] == [(per, 0)] * PROCS
    stats = CircuitBreaker(expected_exception=shm_workers.Boom, shared="fleet",
                           **NEVER_TRIPS).stats()
    failures_each = len(range(0, per, 3))
    assert stats.calls_admitted == PROCS * per and stats.calls_rejected == 0
    assert stats.total_failures == PROCS * failures_each
    assert stats.total_successes == PROCS * (per - failures_each)
    assert stats.probes_in_flight == 0 and stats.state == "closed"


@pytest.mark.parametrize("context", CONTEXTS)
def test_eight_processes_one_token_budget_never_overspend(shm_dir, context):
    options = {"capacity": 1000, "refill_rate": 0.0}
    tries = 400  # 8 x 400 = 3200 attempts on 1000 tokens
    results = run_workers(shm_workers.budget_acquire, [("bucket", options, tries)] * PROCS,
                          context=context)
    granted = sum(r.value for r in results)
    assert granted == 1000  # exactly the bucket, never more
    stats = RetryBudget(shared="bucket", **options).stats()
    assert stats["granted"] == 1000 and stats["refused"] == PROCS * tries - 1000
    assert stats["available"] == 0.0


def test_eight_processes_count_requests_exactly(shm_dir):
    options = {"capacity": 10, "refill_rate": 0.0}
    here = RetryBudget(shared="reqs", **options)
    for _ in range(300):  # batched in this process ...
        here.record_request()
    run_workers(shm_workers.budget_requests, [("reqs", options, 1001)] * PROCS)
    assert here.stats()["requests"] == 300 + PROCS * 1001  # ... and exact once read


@pytest.mark.parametrize("context", CONTEXTS)
def test_eight_processes_one_ratio_budget(shm_dir, context):
    options = {"mode": "ratio", "percent": 0.25, "min_per_second": 0.0, "window": 1e6}
    run_workers(shm_workers.budget_requests, [("share", options, 500)] * PROCS,
                context=context)
    results = run_workers(shm_workers.budget_acquire, [("share", options, 200)] * PROCS,
                          context=context)
    assert sum(r.value for r in results) == PROCS * 500 // 4  # 25 % of 4000 requests


def test_eight_processes_one_adaptive_window(shm_dir):
    options = {"adaptation_window": 16384, "min_samples": 10}
    run_workers(shm_workers.adaptive_record, [("adapt", options, 1000)] * PROCS)
    s = AdaptiveStrategy(shared="adapt", **options)
    assert s.samples == PROCS * 1000 and s.success_rate == 0.75


@pytest.mark.parametrize("context", CONTEXTS)
def test_state_change_is_seen_by_another_process(shm_dir, context):
    options = {"failure_threshold": 3, "recovery_timeout": 30.0}
    here = CircuitBreaker(expected_exception=shm_workers.Boom, shared="seen", **options)
    assert here.state == "closed"
    [result] = run_workers(shm_workers.trip, [("seen", options)], context=context)
    assert result.value == "open"
    assert here.state == "open"  # tripped by the other process
    with pytest.raises(zr.CircuitBreakerOpenError):
        here.call(shm_workers._ok)
    here.reset()
    [result] = run_workers(shm_workers.breaker_calls, [("seen", options, 2)], context=context)
    assert result.value == (2, 0)  # and the reset here was seen there


@pytest.mark.parametrize("context", CONTEXTS)
def test_sigkill_while_holding_a_half_open_probe(shm_dir, context):
    options = {"failure_threshold": 2, "recovery_timeout": 0.0, "permit_lease": 3600.0}
    cb = CircuitBreaker(expected_exception=shm_workers.Boom, shared="probe", **options)
    cb.record_failure()
    cb.record_failure()  # open; the break of 0 s is over at once
    victim = Victim(shm_workers.hold_probe, ("probe", options), context=context)
    victim.wait_ready()
    assert cb.stats().probes_in_flight == 1
    with pytest.raises(zr.CircuitBreakerOpenError):
        cb.call(shm_workers._ok)  # the only probe is out, its owner alive
    victim.kill()
    assert cb.call(shm_workers._ok) is None  # the dead owner's probe was released
    stats = cb.stats()
    assert stats.state == "closed" and stats.probes_in_flight == 0


def test_lock_free_counts_are_exact_across_a_fork(shm_dir):
    cb = CircuitBreaker(expected_exception=shm_workers.Boom, shared="batch", **NEVER_TRIPS)
    for _ in range(1000):  # the closed success path counts without the lock
        cb.call(shm_workers._ok)
    # a forked child uses the inherited object, then exits without any cleanup (os._exit)
    run_workers(shm_workers.calls_with, [(cb, 10)], context="fork")
    stats = cb.stats()
    assert stats.calls_admitted == 1010 and stats.total_successes == 1010


def test_sigkill_of_a_forked_child_holding_a_probe(shm_dir):
    """The child inherited the breaker object: its permits must carry its own pid."""
    options = {"failure_threshold": 1, "recovery_timeout": 0.0, "permit_lease": 3600.0}
    cb = CircuitBreaker(expected_exception=shm_workers.Boom, shared="inherit", **options)
    cb.record_failure()
    victim = Victim(shm_workers.hold_probe_of, (cb,), context="fork")
    victim.wait_ready()
    victim.kill()
    cb.call(shm_workers._ok)  # admitted: the probe's owner (the child) is dead
    assert cb.state == "closed"


@pytest.mark.parametrize("context", CONTEXTS)
def test_sigkill_while_holding_the_breaker_lock(shm_dir, context):
    options = {"failure_threshold": 10**6, "recovery_timeout": 0.0}
    cb = CircuitBreaker(expected_exception=shm_workers.Boom, shared="lock", **options)
    cb.call(shm_workers._ok)
    before = cb.stats()
    # the victim takes the lock and leaves an illegal mode behind
    victim = Victim(shm_workers.hold_lock,
                    ("lock", BREAKER_MODE_OFFSET, struct.pack("=I", 77)), context=context)
    victim.wait_ready()
    per = 300
    workers = start_workers(shm_workers.breaker_calls, [("lock", options, per)] * 4,
                            context=context)
    victim.kill()
    results = workers.collect()  # nobody deadlocked
    after = cb.stats()
    assert shared.inspect("lock").recoveries == 1
    assert after.state in ("closed", "open", "half_open")  # repaired to a legal state
    assert after.probes_in_flight == 0
    assert sum(a + r for a, r in (x.value for x in results)) == 4 * per
    assert (after.calls_admitted - before.calls_admitted) + (
        after.calls_rejected - before.calls_rejected) == 4 * per
    cb.reset()  # and it is usable as ever
    assert cb.call(shm_workers._ok) is None and cb.state == "closed"


@pytest.mark.parametrize("context", CONTEXTS)
def test_sigkill_while_holding_the_budget_lock(shm_dir, context):
    options = {"capacity": 100, "refill_rate": 0.0}
    budget = RetryBudget(shared="blk", **options)
    assert sum(budget.try_acquire() for _ in range(10)) == 10
    victim = Victim(shm_workers.hold_lock,
                    ("blk", BUDGET_TOKENS_OFFSET, struct.pack("=d", 1e12)), context=context)
    victim.wait_ready()
    workers = start_workers(shm_workers.budget_acquire, [("blk", options, 50)] * 4,
                            context=context)
    victim.kill()
    granted = sum(r.value for r in workers.collect())
    # the garbage 1e12 tokens never leaked: the repair left 0 (no retries until a refill)
    assert granted == 0
    assert budget.available_tokens() == 0.0
    assert shared.inspect("blk").recoveries == 1


def test_retry_with_a_shared_breaker_and_budget_across_processes(shm_dir):
    """@retry's C fast paths on shared objects: 4 x 40 failing calls, 2 retries each
    wanted, 100 tokens for the whole host."""
    results = run_workers(shm_workers.retry_through_shared, [("r-cb", "r-bud", 40)] * 4)
    ended = [r.value for r in results]
    budget = RetryBudget(capacity=100, refill_rate=0.0, shared="r-bud")
    stats = budget.stats()
    assert stats["granted"] == 100  # the host's 100 tokens, not 100 per process
    assert stats["requests"] == 160
    assert sum(e["exhausted"] + e["gave_up"] for e in ended) == 160
    # every granted pair of retries is one call that gave up; the rest ran out of budget
    gave_up = sum(e["gave_up"] for e in ended)
    assert 2 * gave_up <= 100 and stats["refused"] == 160 - gave_up
    cb = CircuitBreaker(failure_threshold=10**6, recovery_timeout=30.0,
                        expected_exception=shm_workers.Boom, shared="r-cb")
    attempts = 160 + 100  # first attempts + granted retries
    assert cb.stats().calls_admitted == attempts == cb.stats().total_failures


async def test_async_calls_through_a_shared_breaker(shm_dir):
    cb = CircuitBreaker(2, 30.0, shm_workers.Boom, shared="async")
    other = CircuitBreaker(2, 30.0, shm_workers.Boom, shared="async")

    @cb
    async def ok():
        return "fine"

    @cb
    async def down():
        raise shm_workers.Boom("down")

    assert [await ok() for _ in range(5)] == ["fine"] * 5
    for _ in range(2):
        with pytest.raises(shm_workers.Boom):
            await down()
    assert other.state == "open"
    with pytest.raises(zr.CircuitBreakerOpenError):
        await ok()
    assert other.stats().calls_admitted == 7 and other.stats().calls_rejected == 1


def test_no_leaks_on_shared_objects(shm_dir):
    """Opening, using, failing to open and freeing shared objects leaks no references,
    memory, file descriptors or mappings."""
    if os.environ.get("ZR_SANITIZED") == "1":  # issue 9: ASan maps regions of its own meanwhile
        pytest.skip("mapping counts are not stable under AddressSanitizer")
    from leakcheck import assert_no_leak

    def fds_and_maps():
        with open("/proc/self/maps") as fh:
            return len(os.listdir("/proc/self/fd")), sum(1 for _ in fh)

    def cycle():
        cb = CircuitBreaker(2, 30.0, shm_workers.Boom, shared="leak-cb")
        cb.call(shm_workers._ok)
        try:
            cb.call(shm_workers._fail)
        except shm_workers.Boom:
            pass
        cb.stats()
        b = RetryBudget(capacity=5, refill_rate=0.0, shared="leak-b")
        b.try_acquire()
        b.record_request()
        s = AdaptiveStrategy(shared="leak-a")
        s.record_success()
        for bad in (lambda: CircuitBreaker(3, 30.0, shared="leak-cb"),
                    lambda: RetryBudget(capacity=5, shared="leak-cb")):
            try:
                bad()
            except zr.SharedStateError:
                pass
        shared.inspect("leak-cb")
        shared.list_segments()

    assert_no_leak(cycle, watch=(CircuitBreaker, RetryBudget, AdaptiveStrategy,
                                 zr.SharedConfigMismatchError), warmup=20, round_calls=60,
                   name="shared objects")
    before = fds_and_maps()
    for _ in range(200):
        cycle()
    assert fds_and_maps() == before
