"""Helpers for users' own test suites: make retries instant.

::

    from zenoo_retry.testing import instant_retries

    def test_client_gives_up():
        with instant_retries() as sleeps:
            with pytest.raises(MaxRetriesExceededError):
                fetch()                      # decorated with @retry(max_attempts=5, delay=2)
        assert sleeps.delays == [2.0, 4.0, 8.0, 16.0]   # what would have been slept

With pytest, the fixture ``instant_retries`` (registered as a pytest plugin when
zenoo_retry is installed) does the same for one test and yields the recorder.

Every retry loop - sync, async and block form - skips its sleeps while this is active
(they are recorded instead), and ``max_attempts=N`` caps every policy at N attempts.
It switches a process-wide (per interpreter) flag in the C engine: do not use it from
tests that run in parallel threads with different expectations.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, List, Optional

from . import _core

__all__ = ["instant_retries", "SleepRecorder"]


class SleepRecorder:
    """The sleeps that were skipped, in order (seconds)."""

    def __init__(self) -> None:
        self.delays: List[float] = []

    def __call__(self, delay: float) -> None:
        self.delays.append(delay)

    @property
    def total(self) -> float:
        return sum(self.delays)

    def __len__(self) -> int:
        return len(self.delays)


@contextlib.contextmanager
def instant_retries(max_attempts: Optional[int] = None) -> Iterator[SleepRecorder]:
    """Make every retry sleep instant (and cap attempts at ``max_attempts`` if given)
    inside the ``with`` block; yields a :class:`SleepRecorder`."""
    if max_attempts is not None:
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int):
            raise TypeError(f"max_attempts must be an int or None, got {max_attempts!r}")
        if max_attempts < 1:
            from .exceptions import InvalidConfigurationError

            raise InvalidConfigurationError(f"max_attempts must be >= 1, got {max_attempts!r}",
                                            parameter="max_attempts", value=max_attempts)
    previous = _core._test_mode()
    recorder = SleepRecorder()
    _core._set_test_mode(True, max_attempts or 0, recorder)
    try:
        yield recorder
    finally:
        _core._set_test_mode(*previous)


try:  # the pytest fixture, only when pytest is importable
    import pytest as _pytest
except ImportError:  # pragma: no cover
    pass
else:

    @_pytest.fixture(name="instant_retries")
    def _instant_retries_fixture() -> Iterator[SleepRecorder]:
        """Make every retry sleep instant for this test; yields the recorder."""
        with instant_retries() as recorder:
            yield recorder
