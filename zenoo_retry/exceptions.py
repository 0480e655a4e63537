"""Errors raised by zenoo_retry.

Everything zenoo_retry raises on its own account derives from :class:`RetryError`.
This module imports nothing from the package: the C extension imports it while the
package is still initialising.
"""
from __future__ import annotations

import asyncio
from typing import Any, Optional

__all__ = [
    "RetryError",
    "MaxRetriesExceededError",
    "RetryTimeoutError",
    "CircuitBreakerOpenError",
    "BudgetExhaustedError",
    "InvalidConfigurationError",
    "SharedStateError",
    "SharedSegmentNotFoundError",
    "SharedSegmentCorruptedError",
    "SharedSegmentVersionError",
    "SharedSegmentPermissionError",
    "SharedConfigMismatchError",
]


class RetryError(Exception):
    """Base class of every error zenoo_retry raises itself."""


class MaxRetriesExceededError(RetryError):
    """Every allowed attempt failed.

    ``max_attempts`` is the configured limit, ``attempts`` how many calls were made and
    ``last_exception`` the error of the final attempt (also ``__cause__``).
    """

    def __init__(
        self,
        message: Optional[str] = None,
        *,
        max_attempts: int = 0,
        attempts: int = 0,
        last_exception: Optional[BaseException] = None,
    ) -> None:
        if message is None:
            message = f"gave up after {attempts} of {max_attempts} attempts"
            if last_exception is not None:
                message += f"; last error: {type(last_exception).__name__}: {last_exception}"
        super().__init__(message)
        self.max_attempts = max_attempts
        self.attempts = attempts
        self.last_exception = last_exception


_TimeoutBases: tuple[type, ...] = (RetryError, TimeoutError)
if asyncio.TimeoutError is not TimeoutError:  # Python 3.10
    _TimeoutBases = (RetryError, asyncio.TimeoutError, TimeoutError)


class RetryTimeoutError(*_TimeoutBases):  # type: ignore[misc]
    """The total ``timeout`` ran out (also a :class:`TimeoutError`, so
    ``except asyncio.TimeoutError`` catches it).

    ``timeout`` is the configured limit in seconds, ``elapsed`` the time spent,
    ``attempts`` the calls made and ``last_exception`` the last attempt's error, if any.
    """

    def __init__(
        self,
        message: Optional[str] = None,
        *,
        timeout: float = 0.0,
        elapsed: float = 0.0,
        attempts: int = 0,
        last_exception: Optional[BaseException] = None,
    ) -> None:
        if message is None:
            message = f"retry timeout of {timeout:g}s reached after {attempts} attempt(s)"
            if last_exception is not None:
                message += f"; last error: {type(last_exception).__name__}: {last_exception}"
        super().__init__(message)
        self.timeout = timeout
        self.elapsed = elapsed
        self.attempts = attempts
        self.last_exception = last_exception


class CircuitBreakerOpenError(RetryError):
    """A circuit breaker refused the call.

    ``name`` is the breaker's name, ``retry_after`` the seconds until it lets a probe
    through (0 when that depends on other calls, e.g. half-open with all probes taken).
    """

    def __init__(
        self,
        message: Optional[str] = None,
        *,
        name: str = "",
        retry_after: float = 0.0,
        state: str = "open",
    ) -> None:
        if message is None:
            label = f"circuit breaker {name!r}" if name else "circuit breaker"
            message = f"{label} is {state}; retry in {retry_after:.3f}s"
        super().__init__(message)
        self.name = name
        self.retry_after = retry_after
        self.state = state


class BudgetExhaustedError(RetryError):
    """The retry budget has no token left for another retry.

    ``last_exception`` is the error of the attempt that could not be retried (also
    ``__cause__``); ``attempts`` the calls made so far.
    """

    def __init__(
        self,
        message: Optional[str] = None,
        *,
        attempts: int = 0,
        last_exception: Optional[BaseException] = None,
    ) -> None:
        if message is None:
            message = f"retry budget exhausted after {attempts} attempt(s)"
        super().__init__(message)
        self.attempts = attempts
        self.last_exception = last_exception


class InvalidConfigurationError(RetryError, ValueError):
    """A configuration value is out of its domain.

    ``parameter`` names the offending parameter and ``value`` is what was given.
    """

    parameter: str = ""
    value: Any = None

    def __init__(self, message: str = "", *, parameter: str = "", value: Any = None) -> None:
        super().__init__(message)
        if parameter:
            self.parameter = parameter
            self.value = value


class SharedStateError(RetryError):
    """A shared-memory segment (``shared="name"``) cannot be used.

    ``name`` is the segment name, ``path`` its file and ``problem`` a short code
    (``"truncated"``, ``"foreign"``, ``"stale"``, ``"corrupted"``, ``"other-kind"``,
    ``"config-mismatch"``, ``"bad-owner"``, ``"bad-mode"``, ``"not-regular"``,
    ``"unsafe-dir"``, ``"missing"``, ``"unreadable"``).
    """

    def __init__(self, message: str = "", *, name: str = "", path: str = "",
                 problem: str = "") -> None:
        super().__init__(message)
        self.name = name
        self.path = path
        self.problem = problem


class SharedSegmentNotFoundError(SharedStateError, LookupError):
    """No segment of that name exists (inspect/remove)."""


class SharedSegmentCorruptedError(SharedStateError):
    """The file is truncated, foreign (no segment magic) or has a bad header checksum."""


class SharedSegmentVersionError(SharedStateError):
    """The segment was written by a zenoo_retry with another layout version (stale)."""


class SharedSegmentPermissionError(SharedStateError):
    """The file or its directory is not private to this user (owner, mode, symlink)."""


class SharedConfigMismatchError(SharedStateError):
    """The name is in use with a different configuration (or by another kind of object):
    sharing it would mix two breakers (or budgets) silently, so it is refused."""
