"""Worker functions run in real processes by the shared-memory tests (see multiproc.py).
Module-level so that spawn children can import them."""
from __future__ import annotations

from multiprocessing.connection import Connection

from zenoo_retry import _core


def count(name: str, fingerprint: int, increments: int) -> int:
    """Add 1 to a test segment's counter `increments` times; return the last value seen."""
    return _core._shm_test_counter(name, fingerprint, increments)


def hold_lock(ready: Connection, name: str, offset: int, data: bytes) -> None:
    """Lock segment `name`, scribble `data` into its payload, signal, wait to be killed."""
    _core._shm_hold_lock(name, offset, data, ready.fileno())
