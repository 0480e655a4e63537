"""Retry events: tell your own code what the retry loops do (seed 004's ``RetryEventHandler``).

::

    from zenoo_retry import retry
    from zenoo_retry.events import RetryEventHandler

    class Printer(RetryEventHandler):
        def on_retry_failure(self, attempt):
            print(f"attempt {attempt.number} failed: {attempt.last_exception!r}")

    @retry(max_attempts=3, event_handler=Printer())
    def fetch(): ...

Handlers may define any subset of the methods below, as plain or ``async def`` methods.
An async handler's coroutine is scheduled on the running event loop (or run to
completion with ``asyncio.run`` when the call is synchronous and no loop runs); call
``await dispatcher.drain()`` (``fn.retry_spec.observer``) to wait for scheduled ones.
A handler that raises never changes the call: the error is logged on the
``zenoo_retry`` logger and the call goes on.

Events (``attempt`` is a :class:`~zenoo_retry.RetryAttempt`):

==============================================  =============================================
``on_retry_start(attempt)``                     before every attempt (``attempt.number``)
``on_retry_success(attempt)``                   the call returned (``attempt.last_result``)
``on_retry_failure(attempt)``                   an attempt failed (``attempt.last_exception``,
                                                ``attempt.next_delay`` None on the last one)
``on_max_retries_exceeded(attempt)``            ``max_attempts`` used up
``on_budget_exhausted(attempt)``                the retry budget refused a retry
``on_circuit_breaker_rejected(attempt, error)`` an open breaker refused an attempt
``on_give_up(attempt, error)``                  the call ends with ``error`` (any reason)
``on_cancelled(attempt, error)``                cancelled / interrupted
``on_circuit_breaker_state_change(breaker, old, new)``  a breaker attached to the
                                                policy changed state (when it reports it)
==============================================  =============================================

Attaching a handler takes the call off the C fast path (one Python call per event);
metrics alone (``metrics=``) do not.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Iterable, List, Optional, Sequence, Set

__all__ = ["RetryEventHandler", "EventDispatcher", "EVENT_NAMES"]

logger = logging.getLogger("zenoo_retry")

# the event kinds the C loops report (zr_event_kind in src/module/zr_module.h)
START, SUCCESS, RETRY = 0, 1, 2
GIVE_UP, EXHAUSTED, TIMEOUT, BUDGET, BREAKER = 3, 4, 5, 6, 7
CANCELLED = 8
EVENT_NAMES = {
    START: "attempt_start", SUCCESS: "success", RETRY: "retry", GIVE_UP: "not_retryable",
    EXHAUSTED: "exhausted", TIMEOUT: "timeout", BUDGET: "budget_exhausted",
    BREAKER: "breaker_rejected", CANCELLED: "cancelled",
}


class RetryEventHandler:
    """Base class with every event as a no-op; override what you need."""

    def on_retry_start(self, attempt: Any) -> Any:
        """Before every attempt."""

    def on_retry_success(self, attempt: Any) -> Any:
        """The call returned a value."""

    def on_retry_failure(self, attempt: Any) -> Any:
        """An attempt failed (whether or not another one follows)."""

    def on_max_retries_exceeded(self, attempt: Any) -> Any:
        """The call used up ``max_attempts``."""

    def on_budget_exhausted(self, attempt: Any) -> Any:
        """The retry budget refused a retry."""

    def on_circuit_breaker_rejected(self, attempt: Any, error: BaseException) -> Any:
        """An open circuit breaker refused an attempt."""

    def on_circuit_breaker_state_change(self, breaker: Any, old_state: Any, new_state: Any) -> Any:
        """A circuit breaker changed state."""

    def on_give_up(self, attempt: Any, error: Optional[BaseException]) -> Any:
        """The call ends with ``error`` (None for a rejected result with ``reraise``)."""

    def on_cancelled(self, attempt: Any, error: BaseException) -> Any:
        """The call was cancelled or interrupted."""


def _methods_for(kind: int) -> Sequence[str]:
    if kind == START:
        return ("on_retry_start",)
    if kind == SUCCESS:
        return ("on_retry_success",)
    if kind == RETRY:
        return ("on_retry_failure",)
    if kind == CANCELLED:
        return ("on_cancelled",)
    if kind == BREAKER:
        return ("on_circuit_breaker_rejected", "on_give_up")
    extra = {EXHAUSTED: ("on_max_retries_exceeded",), BUDGET: ("on_budget_exhausted",)}.get(kind, ())
    return ("on_retry_failure",) + extra + ("on_give_up",)


def _overrides(handler: Any, name: str) -> bool:
    fn = getattr(handler, name, None)
    if not callable(fn):
        return False
    return getattr(type(handler), name, None) is not getattr(RetryEventHandler, name, None) or \
        name in getattr(handler, "__dict__", {})


_WITH_ERROR = {"on_circuit_breaker_rejected", "on_give_up", "on_cancelled"}


class EventDispatcher:
    """The observer a RetrySpec calls from C: ``dispatcher(kind, attempt, error)``.

    Fans each event out to the handlers' methods; logs (never raises) handler errors;
    schedules async handlers. Built by ``retry(event_handler=...)``.
    """

    def __init__(self, handlers: Iterable[Any]) -> None:
        self.handlers: List[Any] = list(handlers)
        self._pending: Set["asyncio.Future[Any]"] = set()
        # bound methods looked up once per kind (no getattr per event); the base class's
        # no-op methods are skipped, so a handler pays only for what it overrides
        self._table = {
            kind: [(name, getattr(h, name)) for h in self.handlers for name in _methods_for(kind)
                   if _overrides(h, name)]
            for kind in EVENT_NAMES
        }
        # a breaker that refuses the retry right after a failed attempt reports that
        # attempt with the refusal (kind BREAKER with last_exception set)
        self._failure = self._table[RETRY]
        #: the kinds the C loops need to report (read once by RetrySpec)
        self._zr_event_mask = sum(1 << kind for kind, fns in self._table.items()
                                  if fns or (kind == BREAKER and self._failure))

    @classmethod
    def for_handlers(cls, handler: Any, *, breaker: Any = None, budget: Any = None) -> "EventDispatcher":
        """A dispatcher for one handler or a list of them; subscribes them to ``breaker``'s
        state changes when the breaker offers ``add_listener``."""
        handlers = list(handler) if isinstance(handler, (list, tuple)) else [handler]
        if not handlers:
            raise TypeError("event_handler must be a handler or a non-empty list of handlers, got []")
        known = ("on_",)
        for h in handlers:
            if not any(n.startswith(known) and callable(getattr(h, n, None)) for n in dir(h)):
                raise TypeError(f"event_handler must have on_* methods (see RetryEventHandler), got {h!r}")
        disp = cls(handlers)
        disp._subscribe_breaker(breaker)
        return disp

    def _subscribe_breaker(self, breaker: Any) -> None:
        if breaker is None:
            return
        add = getattr(breaker, "add_listener", None)
        if add is None or not any(_overrides(h, "on_circuit_breaker_state_change") for h in self.handlers):
            return
        add(self.breaker_state_changed)

    def breaker_state_changed(self, breaker: Any, old_state: Any, new_state: Any) -> None:
        """Listener for breaker state changes: forwards to the handlers."""
        for h in self.handlers:
            fn = getattr(h, "on_circuit_breaker_state_change", None)
            if _overrides(h, "on_circuit_breaker_state_change"):
                self._run("on_circuit_breaker_state_change", fn, (breaker, old_state, new_state))

    def __call__(self, kind: int, attempt: Any, error: Any) -> None:
        if kind == BREAKER and attempt.last_exception is not None:
            for name, fn in self._failure:
                self._run(name, fn, (attempt,))
        for name, fn in self._table[kind]:
            try:  # the common case inline: one call, no awaitable
                r = fn(attempt, error) if name in _WITH_ERROR else fn(attempt)
                if r is not None and inspect.isawaitable(r):
                    self._schedule(name, r)
            except Exception:
                logger.exception("retry event handler %s failed", name, extra={"retry_event": name})

    def _run(self, name: str, fn: Any, args: tuple) -> None:
        try:
            r = fn(*args)
            if r is not None and inspect.isawaitable(r):
                self._schedule(name, r)
        except Exception:
            logger.exception("retry event handler %s failed", name, extra={"retry_event": name})

    def _schedule(self, name: str, awaitable: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a sync call with no loop: run the handler to completion
            asyncio.run(_as_coroutine(awaitable))
            return
        task = asyncio.ensure_future(awaitable, loop=loop)
        self._pending.add(task)
        task.add_done_callback(lambda t: self._done(name, t))

    def _done(self, name: str, task: "asyncio.Future[Any]") -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("retry event handler %s failed", name, exc_info=task.exception(),
                         extra={"retry_event": name})

    async def drain(self) -> None:
        """Wait until the async handlers scheduled so far have finished."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    @property
    def wrap_callable(self) -> Any:
        """Handlers may wrap the decorated callable (``wrap_callable(fn, is_async, name)``,
        e.g. the OpenTelemetry handler's span per call); None when none does."""
        wrappers = [h.wrap_callable for h in self.handlers if callable(getattr(h, "wrap_callable", None))]
        if not wrappers:
            return None

        def wrap(fn: Any, is_async: bool, name: str) -> Any:
            for w in wrappers:
                fn = w(fn, is_async, name)
            return fn

        return wrap

    def __repr__(self) -> str:
        return f"EventDispatcher({self.handlers!r})"


async def _as_coroutine(awaitable: Any) -> Any:
    return await awaitable
