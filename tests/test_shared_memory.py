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
from multiproc import CONTEXTS, Victim, run_workers, start_workers

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
