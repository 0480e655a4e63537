"""Retry metrics: counters kept in C, read as plain dicts.

::

    from zenoo_retry import retry
    from zenoo_retry.metrics import RetryMetrics

    metrics = RetryMetrics()

    @retry(max_attempts=3, metrics=metrics)
    def fetch(): ...

    stats = metrics.get_stats()
    stats["total_attempts"], stats["success_rate"], stats["average_retries"]

A :class:`RetryMetrics` keeps one :class:`OperationMetrics` (a C object) per operation
name; the retry loops bump its counters directly in C, with no Python call per attempt
(one dict update per *failed* attempt keeps the per-error-type counts). Several
decorated functions may share one ``RetryMetrics``: each gets its own per-operation
counters (by its name) and :meth:`RetryMetrics.get_stats` sums them (seed 002's global
and per-operation metrics).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from . import _core

OperationMetrics = _core.OperationMetrics

__all__ = [
    "RetryMetrics",
    "OperationMetrics",
    "CallMetrics",
    "execute_with_metrics",
    "async_execute_with_metrics",
    "stats_from_snapshot",
]


def _check_tags(tags: Any) -> Optional[Dict[str, str]]:
    if tags is None:
        return None
    if not isinstance(tags, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise TypeError(f"tags must be a mapping of str to str, got {tags!r}")
    return dict(tags)


def _check_optional_str(param: str, value: Any) -> Optional[str]:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{param} must be a str or None, got {value!r}")
    return value


def stats_from_snapshot(snap: Dict[str, Any]) -> Dict[str, Any]:
    """The public stats dict (seed 004 names) from a C snapshot."""
    return {
        "total_operations": snap["operations"],
        "total_attempts": snap["attempts"],
        "successful_operations": snap["successes"],
        "failed_operations": snap["give_ups"],
        "cancelled_operations": snap["cancelled"],
        "failed_attempts": snap["failures"],
        "total_retries": snap["retries"],
        "success_rate": snap["success_rate"],
        "failure_rate": snap["failure_rate"],
        "average_retries": snap["average_retries"],
        "average_attempts": snap["average_attempts"],
        "average_delay": snap["average_delay"],
        "total_delay": snap["total_delay"],
        "max_delay": snap["max_delay"],
        "errors_by_type": snap["errors"],
        "attempts_histogram": snap["attempts_histogram"],
        "failures_by_attempt": snap["failures_by_attempt"],
        "delay_histogram": snap["delay_buckets"],
        "exhausted": snap["exhausted"],
        "timeouts": snap["timeouts"],
        "not_retryable": snap["not_retryable"],
        "breaker_rejections": snap["breaker_rejections"],
        "budget_rejections": snap["budget_rejections"],
        "dead_letters": snap["dead_letters"],
    }


class RetryMetrics:
    """Retry counters for any number of operations (seed 004's ``RetryMetrics``).

    ``operation_type`` and ``tags`` are the defaults of the per-operation counters this
    object creates (seed 002's OperationType and Tags); :meth:`operation` overrides them
    for one operation. Pass the object as ``metrics=`` to ``retry``, ``async_retry`` or
    ``RetryPolicy``; a decorated function counts under its ``name`` (default: its
    ``__qualname__``).
    """

    def __init__(self, *, operation_type: Optional[str] = None, tags: Optional[Mapping[str, str]] = None) -> None:
        self.operation_type = _check_optional_str("operation_type", operation_type)
        self.tags = _check_tags(tags) or {}
        self._ops: Dict[str, OperationMetrics] = {}
        self._lock = threading.Lock()

    def operation(self, name: str, *, operation_type: Optional[str] = None,
                  tags: Optional[Mapping[str, str]] = None) -> OperationMetrics:
        """The counters of operation ``name`` (created on first use). ``operation_type``
        and ``tags`` apply when it is created; an existing operation keeps its own."""
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {name!r}")
        op_type = _check_optional_str("operation_type", operation_type)
        extra = _check_tags(tags)
        with self._lock:
            cell = self._ops.get(name)
            if cell is None:
                merged = {**self.tags, **(extra or {})}
                cell = OperationMetrics(name, operation_type=op_type or self.operation_type, tags=merged)
                self._ops[name] = cell
            return cell

    @property
    def operations(self) -> Dict[str, OperationMetrics]:
        """Operation name -> its counters (a copy of the mapping)."""
        with self._lock:
            return dict(self._ops)

    def get_stats(self, operation: Optional[str] = None) -> Dict[str, Any]:
        """Totals over every operation (or only ``operation``), plus an ``"operations"``
        entry with each operation's own stats, ``operation_type`` and ``tags``."""
        ops = self.operations
        if operation is not None:
            if operation not in ops:
                raise KeyError(f"no metrics for operation {operation!r}")
            ops = {operation: ops[operation]}
        stats = stats_from_snapshot(_core.metrics_snapshot(list(ops.values())))
        per_op = {}
        for name, cell in ops.items():
            one = stats_from_snapshot(cell.snapshot())
            one["operation_type"] = cell.operation_type
            one["tags"] = cell.tags
            per_op[name] = one
        stats["operations"] = per_op
        return stats

    def reset(self) -> None:
        """Zero every counter (operations stay registered)."""
        for cell in self.operations.values():
            cell.reset()

    def record_dead_letter(self, operation: str) -> None:
        """Count a failed call of ``operation`` handed to a dead-letter handler."""
        self.operation(operation).record_dead_letter()

    def __repr__(self) -> str:
        return f"RetryMetrics(operations={sorted(self.operations)!r})"


def metrics_cell(metrics: Any, name: str) -> Optional[OperationMetrics]:
    """The OperationMetrics a spec named ``name`` counts into (``metrics=`` resolved)."""
    if metrics is None or isinstance(metrics, OperationMetrics):
        return metrics
    if isinstance(metrics, RetryMetrics):
        return metrics.operation(name)
    raise TypeError(f"metrics must be a RetryMetrics, an OperationMetrics or None, got {metrics!r}")


@dataclass(frozen=True)
class CallMetrics:
    """What one call did (seed 000's ``execute_with_metrics``)."""

    operation: str
    attempts: int
    retries: int
    total_delay: float
    succeeded: bool
    errors_by_type: Dict[str, int]

    def success_rate(self) -> float:
        """Share of this call's attempts that succeeded (0 or 1/attempts)."""
        return (1.0 / self.attempts) if (self.succeeded and self.attempts) else 0.0

    def average_delay(self) -> float:
        """Mean wait between attempts, seconds (0 without retries)."""
        return self.total_delay / self.retries if self.retries else 0.0


def _call_metrics(cell: OperationMetrics) -> CallMetrics:
    snap = cell.snapshot()
    return CallMetrics(operation=cell.name, attempts=snap["attempts"], retries=snap["retries"],
                       total_delay=snap["total_delay"], succeeded=snap["successes"] == 1,
                       errors_by_type=snap["errors"])


def _prepare(fn: Callable[..., Any], policy: Any,
             is_async: bool) -> Tuple[Any, OperationMetrics, Optional[OperationMetrics]]:
    from .decorators import build_policy

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    pol = build_policy(policy)
    name = pol.name or getattr(fn, "__qualname__", None) or repr(fn)
    cell = OperationMetrics(name)
    spec = pol.copy(metrics=cell).compile(name=name)
    wrapper = (_core.AsyncRetrying if is_async else _core.Retrying)(fn, spec)
    return wrapper, cell, metrics_cell(pol.metrics, name)


def _finish(cell: OperationMetrics, policy_cell: Optional[OperationMetrics]) -> CallMetrics:
    if policy_cell is not None:  # the policy's own metrics see the call too
        policy_cell.merge(cell)
    return _call_metrics(cell)


def _attach(exc: BaseException, metrics: CallMetrics) -> None:
    try:
        exc.retry_metrics = metrics  # type: ignore[attr-defined]
    except AttributeError:  # pragma: no cover - exceptions with __slots__
        pass


def execute_with_metrics(fn: Callable[..., Any], policy: Any = None, /, *args: Any,
                         **kwargs: Any) -> Tuple[Any, CallMetrics]:
    """Run ``fn(*args, **kwargs)`` under ``policy`` (a RetryPolicy, a preset name or None)
    and return ``(result, CallMetrics)``. When the call finally fails, the error
    propagates with the metrics in its ``retry_metrics`` attribute. A policy with
    ``metrics=`` also counts the call there."""
    wrapper, cell, policy_cell = _prepare(fn, policy, False)
    try:
        result = wrapper(*args, **kwargs)
    except BaseException as exc:
        _attach(exc, _finish(cell, policy_cell))
        raise
    return result, _finish(cell, policy_cell)


async def async_execute_with_metrics(fn: Callable[..., Any], policy: Any = None, /, *args: Any,
                                     **kwargs: Any) -> Tuple[Any, CallMetrics]:
    """:func:`execute_with_metrics` for a coroutine function."""
    wrapper, cell, policy_cell = _prepare(fn, policy, True)
    try:
        result = await wrapper(*args, **kwargs)
    except BaseException as exc:
        _attach(exc, _finish(cell, policy_cell))
        raise
    return result, _finish(cell, policy_cell)
