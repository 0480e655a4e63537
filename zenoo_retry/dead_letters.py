"""Dead letters (seed 002): hand an operation that finally failed to someone who cares.

``@retry(dead_letter=handler)`` / ``@async_retry(dead_letter=handler)`` call
``handler(operation, error, attempts, metadata)`` exactly once per call that ends in
failure - attempts exhausted, a non-retryable error, the total timeout or the budget -
and then let the failure propagate as usual (or return the fallback). An ``async def``
handler is awaited by ``async_retry`` before the call's error reaches the caller.

* ``operation``: the operation name (``name=`` or the function's qualified name);
* ``error``: the last attempt's own exception (not the ``MaxRetriesExceededError``
  wrapper, which is ``metadata["final_error"]``); for a rejected result, the final error;
* ``attempts``: attempts made;
* ``metadata``: ``dead_letter_metadata`` (your tags) plus ``final_error``,
  ``error_type`` (:class:`~zenoo_retry.classification.ErrorType` value), ``max_attempts``,
  ``elapsed``, ``total_delay`` and ``last_result`` (for a rejected result).

Built on the C engine's ``on_give_up`` hook (which is also still called when given), so
nothing runs on the success path. A handler that raises is logged on the
``zenoo_retry.dead_letters`` logger; the operation's own error is what propagates.
:class:`DeadLetterQueue` is a bounded, thread-safe in-memory handler to inspect or drain.
"""
from __future__ import annotations

import collections
import contextvars
import functools
import inspect
import logging
import threading
import time
from typing import Any, Callable, Deque, Dict, Iterator, List, Mapping, Optional

from .classification import classify

__all__ = ["DeadLetter", "DeadLetterQueue", "DeadLetterHook", "is_async_handler"]

log = logging.getLogger("zenoo_retry.dead_letters")

#: The awaitables of async handlers produced during the current async_retry call.
_PENDING: contextvars.ContextVar[Optional[List[Any]]] = contextvars.ContextVar(
    "zenoo_retry_pending_dead_letters", default=None)


class DeadLetter:
    """One failed operation as a :class:`DeadLetterQueue` stores it."""

    __slots__ = ("operation", "error", "attempts", "metadata", "timestamp")

    def __init__(self, operation: str, error: BaseException, attempts: int,
                 metadata: Mapping[str, Any], timestamp: float) -> None:
        self.operation = operation
        self.error = error
        self.attempts = attempts
        self.metadata = metadata
        self.timestamp = timestamp  # Unix time it was recorded

    def __repr__(self) -> str:
        return (f"DeadLetter(operation={self.operation!r}, error={self.error!r}, "
                f"attempts={self.attempts})")


class DeadLetterQueue:
    """An in-memory dead-letter queue; pass it as ``dead_letter=``.

    Keeps the newest ``maxlen`` letters (None: unbounded); ``dropped`` counts the ones
    pushed out. Thread-safe. ``clock`` gives the timestamps (default ``time.time``).
    """

    def __init__(self, maxlen: Optional[int] = 10_000, *, clock: Callable[[], float] = time.time) -> None:
        if maxlen is not None:
            if isinstance(maxlen, bool) or not isinstance(maxlen, int):
                raise TypeError(f"maxlen must be an int or None, got {maxlen!r}")
            if maxlen < 1:
                from .exceptions import InvalidConfigurationError

                raise InvalidConfigurationError(f"maxlen must be >= 1 or None, got {maxlen!r}",
                                                parameter="maxlen", value=maxlen)
        if not callable(clock):
            raise TypeError(f"clock must be callable, got {clock!r}")
        self.maxlen = maxlen
        self._clock = clock
        self._items: Deque[DeadLetter] = collections.deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self.dropped = 0

    def __call__(self, operation: str, error: BaseException, attempts: int,
                 metadata: Mapping[str, Any]) -> None:
        letter = DeadLetter(operation, error, attempts, metadata, self._clock())
        with self._lock:
            if self.maxlen is not None and len(self._items) == self.maxlen:
                self.dropped += 1
            self._items.append(letter)

    @property
    def items(self) -> List[DeadLetter]:
        """A snapshot, oldest first."""
        with self._lock:
            return list(self._items)

    def drain(self) -> List[DeadLetter]:
        """Remove and return every letter, oldest first (e.g. to replay or persist them)."""
        with self._lock:
            out = list(self._items)
            self._items.clear()
        return out

    def by_operation(self, operation: str) -> List[DeadLetter]:
        """The letters of one operation, oldest first."""
        return [letter for letter in self.items if letter.operation == operation]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[DeadLetter]:
        return iter(self.items)

    def __repr__(self) -> str:
        return f"DeadLetterQueue(len={len(self)}, maxlen={self.maxlen}, dropped={self.dropped})"


def is_async_handler(handler: Any) -> bool:
    """True for an ``async def`` handler (function, method or object with async __call__)."""
    while isinstance(handler, functools.partial):
        handler = handler.func
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None))


def _check_handler(param: str, handler: Any) -> None:
    if not callable(handler):
        raise TypeError(f"{param} must be callable(operation, error, attempts, metadata), got {handler!r}")


class DeadLetterHook:
    """The ``on_give_up`` hook that feeds a dead-letter handler (and the user's own
    ``on_give_up``, called first)."""

    __slots__ = ("handler", "metadata", "on_give_up", "metrics")

    def __init__(self, handler: Callable[..., Any], metadata: Optional[Mapping[str, Any]] = None,
                 on_give_up: Optional[Callable[[Any, BaseException], Any]] = None, metrics: Any = None) -> None:
        _check_handler("dead_letter", handler)
        if metadata is not None and not isinstance(metadata, Mapping):
            raise TypeError(f"dead_letter_metadata must be a mapping or None, got {metadata!r}")
        if on_give_up is not None and not callable(on_give_up):
            raise TypeError(f"on_give_up must be callable or None, got {on_give_up!r}")
        self.handler = handler
        self.metadata = dict(metadata or {})
        self.on_give_up = on_give_up
        self.metrics = metrics  # RetryMetrics / OperationMetrics: counts dead letters

    def letter(self, info: Any, error: BaseException) -> tuple:
        """(operation, error, attempts, metadata) for a RetryAttempt and the final error."""
        original = info.last_exception if info.last_exception is not None else error
        metadata: Dict[str, Any] = dict(self.metadata)
        metadata.update(
            final_error=error,
            error_type=classify(original).value,
            max_attempts=info.max_attempts,
            elapsed=info.elapsed,
            total_delay=info.total_delay,
        )
        if info.last_exception is None:
            metadata["last_result"] = info.last_result
        return str(info.name), original, int(info.number), metadata

    def __call__(self, info: Any, error: BaseException) -> None:
        if self.on_give_up is not None:
            self.on_give_up(info, error)
        args = self.letter(info, error)
        if self.metrics is not None:
            record = getattr(self.metrics, "record_dead_letter", None)
            if record is not None:
                if hasattr(self.metrics, "operation"):  # RetryMetrics: per operation name
                    record(args[0])
                else:  # one OperationMetrics cell
                    record()
        try:
            result = self.handler(*args)
        except Exception:
            log.exception("dead-letter handler %r failed for operation %r", self.handler, args[0])
            return
        if inspect.isawaitable(result):
            pending = _PENDING.get()
            if pending is not None:
                pending.append(result)
                return
            if inspect.iscoroutine(result):
                result.close()
            log.error("dead-letter handler %r returned an awaitable outside async_retry; "
                      "it was not awaited (operation %r)", self.handler, args[0])


def with_async_dead_letters(wrapper: Any, func: Any) -> Any:
    """Wrap an async retrying callable so the async dead-letter handlers its ``on_give_up``
    produced are awaited before the call returns or raises."""

    @functools.wraps(func)
    async def call(*args: Any, **kwargs: Any) -> Any:
        pending: List[Any] = []
        token = _PENDING.set(pending)
        try:
            return await wrapper(*args, **kwargs)
        finally:
            _PENDING.reset(token)
            for awaitable in pending:
                try:
                    await awaitable
                except Exception:
                    log.exception("async dead-letter handler failed")

    call.retry_spec = getattr(wrapper, "retry_spec", None)  # type: ignore[attr-defined]
    return call
