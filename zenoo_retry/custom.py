"""Custom policies (seed 003): an object whose ``should_retry(attempt, error)`` decides.

::

    class EveryOtherSecond(CustomRetryPolicy):
        def should_retry(self, attempt, error):
            if attempt < 3 and isinstance(error, ConnectionError):
                return RetryDecision.retry(1.0)
            return RetryDecision.stop()

    @retry(policy=EveryOtherSecond())
    def fetch(): ...

Any object with a ``should_retry`` method works (subclassing :class:`CustomRetryPolicy`
is optional), wherever a built-in policy does: ``retry``, ``async_retry``, managers and
bulk retries. It is compiled onto the C engine: ``should_retry`` becomes the spec's
``condition`` (a delay -> retry after it, stop -> the error propagates unchanged) and the
engine still applies ``max_attempts()`` (if the object has it; else no limit but its
own), the ``max_delay`` cap (default 1 hour), timeouts, breakers, budgets and
``instant_retries``.

``should_retry`` may return a :class:`RetryDecision`, a number of seconds or a
``timedelta`` (retry after it), ``True`` (retry after ``delay_for(attempt)``, or at once),
or ``False`` / ``None`` (stop).
"""
from __future__ import annotations

import datetime
from typing import Any, Optional

from .exceptions import InvalidConfigurationError
from .policies import RetryPolicy, is_finite_number
from .strategies import FixedDelayStrategy

__all__ = ["RetryDecision", "CustomRetryPolicy", "as_retry_policy", "is_custom_policy"]

_UNLIMITED = 2**32 - 1  # the engine's largest max_attempts
DEFAULT_MAX_DELAY = 3600.0


def _seconds(param: str, value: Any) -> float:
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{param} must be a number of seconds or a timedelta, got {value!r}")
    if not (is_finite_number(value) and value >= 0):
        raise InvalidConfigurationError(f"{param} must be a finite number >= 0, got {value!r}",
                                        parameter=param, value=value)
    return float(value)


class RetryDecision:
    """``RetryDecision.retry(delay)`` or ``RetryDecision.stop()`` (seed 003's enum)."""

    __slots__ = ("delay",)

    def __init__(self, delay: Optional[float]) -> None:
        self.delay = delay  # seconds, or None for "stop"

    @classmethod
    def retry(cls, delay: Any = 0.0) -> "RetryDecision":
        """Retry after ``delay`` seconds (a number >= 0 or a timedelta)."""
        return cls(_seconds("delay", delay))

    @classmethod
    def stop(cls) -> "RetryDecision":
        """Do not retry: the error propagates."""
        return _STOP

    @property
    def should_retry(self) -> bool:
        return self.delay is not None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RetryDecision) and other.delay == self.delay

    def __hash__(self) -> int:
        return hash(self.delay)

    def __repr__(self) -> str:
        return "RetryDecision.stop()" if self.delay is None else f"RetryDecision.retry({self.delay!r})"


_STOP = RetryDecision(None)


class CustomRetryPolicy:
    """Base class for seed-003 policies (optional: any object with ``should_retry`` works).

    Override :meth:`should_retry`; optionally :meth:`delay_for` (the delay a bare ``True``
    means) and :meth:`max_attempts` (an upper bound the engine enforces too).
    """

    def should_retry(self, attempt: int, error: BaseException) -> Any:
        """Decide after attempt ``attempt`` (1-based) failed with ``error``."""
        raise NotImplementedError

    def delay_for(self, attempt: int) -> Optional[float]:
        """The delay after attempt ``attempt``, or None (default: retry at once)."""
        return None

    def max_attempts(self) -> Optional[int]:
        """The most attempts ever made (None: only ``should_retry`` limits them)."""
        return None


def is_custom_policy(obj: Any) -> bool:
    """True for an object that is not a RetryPolicy but has a callable ``should_retry``."""
    return not isinstance(obj, RetryPolicy) and not isinstance(obj, type) and callable(
        getattr(obj, "should_retry", None))


class _Decider:
    """The spec's condition: ask the custom policy and translate its answer."""

    __slots__ = ("policy",)

    def __init__(self, policy: Any) -> None:
        self.policy = policy

    def __call__(self, error: BaseException, attempt: Any) -> Any:
        number = attempt.number
        decision = self.policy.should_retry(number, error)
        if isinstance(decision, RetryDecision):
            return False if decision.delay is None else decision.delay
        if decision is None or decision is False:
            return False
        if decision is True:
            delay_for = getattr(self.policy, "delay_for", None)
            delay = delay_for(number) if callable(delay_for) else None
            return 0.0 if delay is None else _seconds("delay_for()", delay)
        if isinstance(decision, (int, float, datetime.timedelta)):
            return _seconds("should_retry()", decision)
        raise TypeError(f"should_retry() must return a RetryDecision, seconds, True/False or None, "
                        f"got {decision!r}")

    def __repr__(self) -> str:
        return f"_Decider({self.policy!r})"


def as_retry_policy(policy: Any, *, max_delay: Optional[float] = None,
                    retryable_exceptions: Any = None) -> RetryPolicy:
    """Compile a custom policy object into a :class:`RetryPolicy` for the C engine.

    ``max_delay`` caps the delays it asks for (default: ``policy.max_delay`` if it has
    that attribute, else 1 hour); ``retryable_exceptions`` limits which errors reach
    ``should_retry`` at all (default: every ``Exception``).
    """
    if not is_custom_policy(policy):
        raise TypeError(f"policy must have a should_retry(attempt, error) method, got {policy!r}")
    limit: Any = None
    getter = getattr(policy, "max_attempts", None)
    if callable(getter):
        limit = getter()
    elif getter is not None:
        limit = getter
    if limit is None:
        limit = _UNLIMITED
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"max_attempts() must return an int or None, got {limit!r}")
    if not 1 <= limit <= _UNLIMITED:
        raise InvalidConfigurationError(f"max_attempts() must be in [1, {_UNLIMITED}], got {limit!r}",
                                        parameter="max_attempts", value=limit)
    if max_delay is None:
        own = getattr(policy, "max_delay", None)
        max_delay = own if own is not None and not callable(own) else DEFAULT_MAX_DELAY
    cap = _seconds("max_delay", max_delay)
    return RetryPolicy(
        FixedDelayStrategy(max_attempts=limit, delay=0.0, max_delay=0.0),
        retryable_exceptions=retryable_exceptions,
        retry_condition=_Decider(policy),
        max_hint_delay=cap,
        name=type(policy).__name__,
    )
