"""Structured logging on the ``zenoo_retry`` logger.

The package adds a ``NullHandler`` to ``logging.getLogger("zenoo_retry")``: nothing is
printed until you configure logging. Every retry loop reports its failure side here
(never its success path, so a successful call costs nothing):

=========  =======  ==============================================================
event      level    when
=========  =======  ==============================================================
retry      INFO     an attempt failed and another follows after ``delay``
give_up    WARNING  the call ends with an error (``reason``: exhausted, timeout,
                    budget_exhausted, breaker_rejected, not_retryable)
cancelled  DEBUG    the call was cancelled / interrupted
breaker    INFO     a circuit breaker changed state (WARNING when it opens)
=========  =======  ==============================================================

Each record carries structured fields in ``extra``: ``retry_event``, ``operation``,
``attempt``, ``max_attempts``, ``delay``, ``elapsed``, ``total_delay``,
``error_type``, ``error``, ``reason``. With structlog, add
``structlog.stdlib.ExtraAdder()`` to the ``ProcessorFormatter``'s ``foreign_pre_chain``
to get them as keys of the event dict.
"""
from __future__ import annotations

import logging
import weakref
from typing import Any, Dict, Optional

from . import _core
from .events import CANCELLED, EVENT_NAMES, RETRY

__all__ = ["logger", "install", "uninstall", "log_breaker_transition", "watch_breaker"]

logger = logging.getLogger("zenoo_retry")


def _fields(kind: int, attempt: Any, error: Any) -> Dict[str, Any]:
    exc = error if error is not None else attempt.last_exception
    return {
        "retry_event": "retry" if kind == RETRY else ("cancelled" if kind == CANCELLED else "give_up"),
        "reason": EVENT_NAMES.get(kind, "unknown"),
        "operation": attempt.name,
        "attempt": attempt.number,
        "max_attempts": attempt.max_attempts,
        "delay": attempt.next_delay,
        "elapsed": attempt.elapsed,
        "total_delay": attempt.total_delay,
        "error_type": type(exc).__qualname__ if exc is not None else None,
        "error": str(exc) if exc is not None else None,
    }


def _log_hook(kind: int, attempt: Any, error: Any) -> None:
    """Called by the C retry loops on retries, give-ups and cancellations."""
    level = logging.INFO if kind == RETRY else (logging.DEBUG if kind == CANCELLED else logging.WARNING)
    if not logger.isEnabledFor(level):
        return
    f = _fields(kind, attempt, error)
    if kind == RETRY:
        msg = "retrying %s after attempt %d/%d failed (%s); next attempt in %.3fs"
        args: tuple = (f["operation"], f["attempt"], f["max_attempts"], f["error_type"], f["delay"] or 0.0)
    elif kind == CANCELLED:
        msg, args = "%s cancelled during attempt %d", (f["operation"], f["attempt"])
    else:
        msg = "giving up on %s after %d attempt(s): %s (%s)"
        args = (f["operation"], f["attempt"], f["reason"], f["error_type"])
    logger.log(level, msg, *args, extra=f)


def log_breaker_transition(breaker: Any, old_state: Any, new_state: Any, name: Optional[str] = None) -> None:
    """Log a circuit breaker's state change (a listener for breakers)."""
    new = str(getattr(new_state, "name", new_state)).lower()
    old = str(getattr(old_state, "name", old_state)).lower()
    level = logging.WARNING if new == "open" else logging.INFO
    if not logger.isEnabledFor(level):
        return
    bname = name or getattr(breaker, "name", None) or repr(breaker)
    logger.log(level, "circuit breaker %s: %s -> %s", bname, old, new,
               extra={"retry_event": "breaker", "breaker": bname, "old_state": old, "new_state": new})


_watched: "weakref.WeakSet[Any]" = weakref.WeakSet()


def watch_breaker(breaker: Any) -> None:
    """Log ``breaker``'s state changes (once per breaker; done for every breaker given to a
    retry decorator). Breakers without ``add_listener`` are left alone."""
    add = getattr(breaker, "add_listener", None)
    if add is None or breaker in _watched:
        return
    add(log_breaker_transition)
    try:
        _watched.add(breaker)
    except TypeError:  # not weak-referenceable: it may be subscribed again later
        pass


def install() -> None:
    """Report retries and give-ups of every retry loop to the logger (done on import)."""
    _core._set_log_hook(_log_hook)


def uninstall() -> None:
    """Stop reporting to the logger (the failure path then makes no Python call)."""
    _core._set_log_hook(None)
