"""Circuit breakers: stop calling a dependency that keeps failing, probe it, recover.

The state machine, counters, windows and probe permits are C (``_core.CircuitBreaker``,
``src/core/zr_breaker.c``); this module only gives it seed 004's / seed 000's Python shape.

States: ``closed`` (calls pass, outcomes counted) → ``open`` when a trip rule fires (calls
fail fast with :class:`CircuitBreakerOpenError`) → ``half_open`` once ``recovery_timeout``
passed (at most ``half_open_max_calls`` probes at once) → ``closed`` after
``success_threshold`` probe successes, or back to ``open`` on a probe failure (the break
can grow: ``break_multiplier``, ``max_break_duration``). ``isolate()`` forces ``isolated``
(refuses everything), ``disable()`` admits everything, ``reset()`` closes.

What counts: an exception matching ``expected_exception`` is a failure; any other
``Exception`` counts as a success (the dependency answered, your code raised);
``CancelledError``, ``KeyboardInterrupt``, ``SystemExit`` and ``GeneratorExit`` are never
counted (the permit is returned).

>>> cb = CircuitBreaker(failure_threshold=2, recovery_timeout=30.0)
>>> cb.state
'closed'
"""
from __future__ import annotations

import datetime
import functools
import collections.abc
from dataclasses import asdict, dataclass
from typing import Any, Awaitable, Callable, Dict, Iterable, Optional, Tuple, Type, TypeVar, Union

from . import _core
from .decorators import _is_async_callable, _mark_coroutine_function
from .exceptions import CircuitBreakerOpenError

__all__ = [
    "CircuitBreaker",
    "AdvancedCircuitBreaker",
    "CircuitBreakerStats",
    "CircuitBreakerOpenError",
    "CLOSED",
    "OPEN",
    "HALF_OPEN",
    "ISOLATED",
    "DISABLED",
]

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"
ISOLATED = "isolated"
DISABLED = "disabled"

F = TypeVar("F", bound=Callable[..., Any])
Listener = Callable[[Any, str, str], Any]
ExceptionSpec = Union[Type[BaseException], Tuple[Type[BaseException], ...], Iterable[Type[BaseException]]]


@dataclass(frozen=True)
class CircuitBreakerStats:
    """A snapshot of a breaker (``breaker.stats()``).

    ``failure_count`` / ``success_count`` are the current runs of consecutive failures /
    successes; ``last_failure_time`` is a reading of the breaker's clock (monotonic seconds
    by default) or None; ``retry_after`` the seconds until an open breaker lets a probe in.
    The ``window_*`` fields describe the sliding window (0 without one); the rest are
    lifetime counters.
    """

    name: str
    state: str
    failure_count: int
    success_count: int
    last_failure_time: Optional[float]
    opened_at: Optional[float]
    retry_after: float
    break_duration: float
    half_open_successes: int
    probes_in_flight: int
    consecutive_trips: int
    window_calls: int
    window_failures: int
    window_slow_calls: int
    calls_admitted: int
    calls_rejected: int
    total_successes: int
    total_failures: int
    slow_calls: int
    ignored_calls: int
    stale_outcomes: int
    transitions: int
    trips: int
    reclaimed_permits: int

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def __getitem__(self, key: str) -> Any:  # stats()["state"] works too
        return getattr(self, key)


# each call of an async-decorated function returns one of these; asyncio accepts it as a
# coroutine (create_task, gather, ...)
collections.abc.Coroutine.register(_core.BreakerAwaitable)


def _seconds(param: str, value: Any) -> float:
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return value  # the C constructor checks it and names the parameter


class CircuitBreaker(_core.CircuitBreaker):
    """A circuit breaker (seed 004): ``CircuitBreaker(failure_threshold=5,
    recovery_timeout=30.0, expected_exception=Exception)``.

    Keyword-only options: ``name``, ``success_threshold`` (probe successes that close, 1),
    ``half_open_max_calls`` (probes at once, 1), ``window`` (None, ``"count"`` or
    ``"time"``), ``window_size`` (calls, or seconds for a time window), ``window_buckets``
    (time window, 10), ``minimum_calls`` (calls in the window before rates apply),
    ``failure_rate_threshold`` (0.5), ``slow_call_duration`` (seconds, None = off),
    ``slow_call_rate_threshold`` (1.0), ``break_multiplier`` (1.0 = fixed break),
    ``max_break_duration``, ``permit_lease`` (seconds before an unreturned probe permit is
    reclaimed), ``clock`` (callable returning seconds; default CLOCK_MONOTONIC),
    ``listeners`` (callables ``(breaker, old_state, new_state)``), ``shared`` (a segment
    name: every process on the host that opens the same name with the same settings shares
    one state in shared memory; see :mod:`zenoo_retry.shared`).

    Use it as a decorator (sync or ``async def``), ``with breaker:``, ``async with
    breaker:``, ``breaker.call(fn, ...)``, or pass it to ``@retry(circuit_breaker=...)``.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        recovery_timeout: Union[float, datetime.timedelta] = 30.0,
        expected_exception: ExceptionSpec = Exception,
        **options: Any,
    ) -> None:
        super().__init__(
            failure_threshold,
            _seconds("recovery_timeout", recovery_timeout),
            expected_exception,
            **options,
        )

    # -- decorator / context manager forms ---------------------------------------------

    def __call__(self, func: F) -> F:
        """Decorate ``func``: a C wrapper for sync functions; for ``async def`` functions a C
        wrapper whose calls return an awaitable that asks the breaker when it first runs."""
        if not callable(func):
            raise TypeError(f"a circuit breaker decorates a callable, got {func!r}")
        is_async = _is_async_callable(func)
        wrapped = self._wrap(func, is_async)
        try:
            functools.update_wrapper(wrapped, func)
        except AttributeError:  # pragma: no cover - exotic callables without metadata
            pass
        if is_async:
            _mark_coroutine_function(wrapped, func)
        return wrapped  # type: ignore[no-any-return]

    async def call_async(self, func: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        """Await ``func(*args, **kwargs)`` through the breaker."""
        token = self._zr_enter()
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            self._zr_exit(token, exc)
            raise
        self._zr_exit(token, None)
        return result

    # `with breaker:` is C (__enter__/__exit__ of _core.CircuitBreaker): the permit is
    # kept on a per-context stack, so nesting, threads and asyncio tasks are safe.

    async def __aenter__(self) -> "CircuitBreaker":
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> bool:
        return self.__exit__(exc_type, exc, tb)

    # -- seed 000 / seed 004 API ------------------------------------------------------------

    def stats(self) -> CircuitBreakerStats:
        """A :class:`CircuitBreakerStats` snapshot (state, failure_count, success_count,
        last_failure_time, counters)."""
        return CircuitBreakerStats(**self._stats())

    @property
    def failure_count(self) -> int:
        return int(self._stats()["failure_count"])

    @property
    def success_count(self) -> int:
        return int(self._stats()["success_count"])

    @property
    def last_failure_time(self) -> Optional[float]:
        return self._stats()["last_failure_time"]  # type: ignore[no-any-return]

    @property
    def is_closed(self) -> bool:
        return self.state == CLOSED

    @property
    def is_open(self) -> bool:
        return self.state in (OPEN, ISOLATED)

    def _options(self) -> Dict[str, Any]:
        return dict(self.config)

    def _replace(self, **changes: Any) -> "CircuitBreaker":
        """A new breaker of the same class with some options changed (fresh state)."""
        options = self._options()
        options.update(changes)
        new = type(self).__new__(type(self))
        _core.CircuitBreaker.__init__(new, **options)
        return new

    def with_failure_threshold(self, failure_threshold: int) -> "CircuitBreaker":
        """Seed 000's builder: a new breaker tripping after ``failure_threshold`` failures."""
        return self._replace(failure_threshold=failure_threshold)

    def with_success_threshold(self, success_threshold: int) -> "CircuitBreaker":
        """Seed 000's builder: a new breaker closing after ``success_threshold`` probe
        successes."""
        return self._replace(success_threshold=success_threshold)

    def with_timeout(self, timeout: Union[float, datetime.timedelta]) -> "CircuitBreaker":
        """Seed 000's builder: a new breaker with ``recovery_timeout=timeout`` (seconds or a
        timedelta)."""
        options = self._options()
        old = options["recovery_timeout"]
        changes: Dict[str, Any] = {"recovery_timeout": _seconds("recovery_timeout", timeout)}
        # options left at their defaults follow the new timeout
        if options["max_break_duration"] == (old * 10.0 if options["break_multiplier"] > 1.0 else old):
            changes["max_break_duration"] = None
        if options["permit_lease"] == max(old, 30.0):
            changes["permit_lease"] = None
        return self._replace(**changes)

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        return (
            f"<{type(self).__name__}{name} state={self.state} "
            f"failure_threshold={self.failure_threshold} recovery_timeout={self.recovery_timeout:g}>"
        )


class AdvancedCircuitBreaker(CircuitBreaker):
    """Seed 004's advanced breaker: ``AdvancedCircuitBreaker(failure_threshold=5,
    recovery_timeout=30.0, half_open_max_calls=1, expected_exceptions=(Exception,),
    success_threshold=2, **options)`` - the same engine with several probes, a success
    threshold and (via ``options``) sliding windows, slow calls and a growing break.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        recovery_timeout: Union[float, datetime.timedelta] = 30.0,
        half_open_max_calls: int = 1,
        expected_exceptions: ExceptionSpec = (Exception,),
        success_threshold: int = 2,
        **options: Any,
    ) -> None:
        super().__init__(
            failure_threshold,
            recovery_timeout,
            expected_exceptions,
            half_open_max_calls=half_open_max_calls,
            success_threshold=success_threshold,
            **options,
        )

    @property
    def expected_exceptions(self) -> Tuple[Type[BaseException], ...]:
        return self.expected_exception  # type: ignore[no-any-return]
