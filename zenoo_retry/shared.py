"""Shared-memory segments: one breaker, budget or adaptive strategy for every process on
the host that uses the same ``shared="name"``.

Each name is a file ``<directory>/<name>.zrseg`` (mode 0600) in a directory private to
the user (mode 0700; by default ``/dev/shm/zenoo_retry-<uid>``). This module lists,
inspects and removes them; the breaker/budget types open them. The checks themselves
(header magic, layout version, checksum, sizes, owner, mode) run in C.

>>> from zenoo_retry import shared
>>> [info.name for info in shared.list_segments() if not info.healthy]  # doctest: +SKIP
[]
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Union

from . import _core
from .exceptions import SharedStateError

__all__ = [
    "SegmentInfo",
    "directory",
    "set_directory",
    "list_segments",
    "inspect",
    "remove",
]

_SUFFIX = ".zrseg"


@dataclass(frozen=True)
class SegmentInfo:
    """What a segment file holds, as read from its header (fields are ``None`` when the
    header could not be trusted)."""

    name: str
    path: str
    kind: Optional[str]  # "breaker", "budget", "adaptive", "test" or "unknown"
    layout_version: Optional[int]
    fingerprint: Optional[int]  # hash of the configuration that created it
    size: int  # file size in bytes
    payload_size: Optional[int]
    creator_pid: Optional[int]
    creator_alive: Optional[bool]  # is a process with creator_pid running now
    created_at: Optional[float]  # time.time() of creation
    recoveries: Optional[int]  # times a process died holding its lock and it was repaired
    mode: int
    uid: int
    problem: Optional[str]  # None when healthy, else a code such as "truncated"
    detail: str  # the problem in words ("healthy" when none)
    # a snapshot of what the state says, read without the lock: a breaker's "state"
    # ("closed", "open", ...), counters and probes; a budget's tokens or window and totals;
    # an adaptive window's samples. None when unhealthy or of an unknown kind.
    state: Optional[Dict[str, Any]] = None

    @property
    def healthy(self) -> bool:
        """True when the file is a valid segment a process could open."""
        return self.problem is None

    def error(self) -> Optional[SharedStateError]:
        """The exception that opening this segment would raise, or None when healthy."""
        if self.problem is None:
            return None
        exc: SharedStateError = _core._shm_error(self.name, self.problem)
        return exc


def directory() -> str:
    """The directory segments live in: the one given to :func:`set_directory`, else
    ``$ZENOO_RETRY_SHM_DIR``, else ``/dev/shm/zenoo_retry-<uid>`` (``$TMPDIR`` when
    /dev/shm is unusable)."""
    path: str = _core._shm_dir()
    return path


def set_directory(path: Union[str, "os.PathLike[str]", None]) -> None:
    """Use another directory for the segments this process opens from now on (``None``:
    back to the default). Every process sharing a name must use the same directory;
    child processes inherit ``$ZENOO_RETRY_SHM_DIR``, not this setting."""
    _core._shm_set_dir(None if path is None else os.fspath(path))


def inspect(name: str) -> SegmentInfo:
    """Describe segment ``name``; unhealthy files are described too (``.problem``).
    Raises :class:`~zenoo_retry.exceptions.SharedSegmentNotFoundError` if it does not
    exist and InvalidConfigurationError for an invalid name."""
    fields = _core._shm_examine(name)
    if fields["problem"] == "missing":
        raise _core._shm_error(name, "missing")
    return SegmentInfo(**fields)


def list_segments() -> List[SegmentInfo]:
    """Every segment file in :func:`directory`, sorted by name (an empty list when the
    directory does not exist yet)."""
    try:
        entries = os.listdir(directory())
    except FileNotFoundError:
        return []
    infos = []
    for entry in sorted(entries):
        if not entry.endswith(_SUFFIX):
            continue  # temporaries of a creation in progress, or unrelated files
        name = entry[: -len(_SUFFIX)]
        try:
            fields = _core._shm_examine(name)
        except ValueError:  # not a valid segment name: nothing could have created it
            continue
        if fields["problem"] != "missing":  # removed meanwhile
            infos.append(SegmentInfo(**fields))
    return infos


def remove(name: str, *, missing_ok: bool = False) -> bool:
    """Delete segment ``name``; True if it was removed, False if it did not exist and
    ``missing_ok``. Processes that have it open keep using their (now private) copy, and
    processes that open the name later start a fresh one: remove a segment only when no
    process uses it, or to get rid of a bad file."""
    try:
        _core._shm_remove(name)
    except SharedStateError as exc:
        if missing_ok and exc.problem == "missing":
            return False
        raise
    return True
