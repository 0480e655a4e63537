"""Prometheus exporter on the official ``prometheus_client`` (seed 000's metric names).

::

    from prometheus_client import start_http_server
    from zenoo_retry.metrics import RetryMetrics
    from zenoo_retry.exporters.prometheus import PrometheusExporter

    metrics = RetryMetrics()
    exporter = PrometheusExporter(metrics)          # registers on the default registry
    exporter.add_breaker(db_breaker, operation="db")
    exporter.add_budget(budget, operation="db")
    start_http_server(9100)

The exporter is a custom *collector*: nothing happens per call. At scrape time it reads
the C counters of every operation (and the breakers'/budgets' current state) and emits:

====================================  =========  ==========================================
``retry_attempts_total``              counter    attempts run, by ``operation``
``retry_successes_total``             counter    calls that returned, by ``operation``
``retry_failures_total``              counter    calls that failed, by ``operation`` and
                                                 ``reason`` (exhausted, timeout,
                                                 budget_exhausted, breaker_rejected,
                                                 not_retryable)
``retry_operations_total``            counter    calls started, by ``operation``
``retry_retries_total``               counter    retries scheduled, by ``operation``
``retry_delay_seconds``               histogram  backoff delays, by ``operation``
``circuit_breaker_state``             gauge      0 closed, 1 open, 2 half-open
``circuit_breaker_transitions_total`` counter    by ``operation``, ``from_state``, ``to_state``
``retry_budget_available_tokens``     gauge      by ``operation``
``retry_budget_capacity_tokens``      gauge      by ``operation`` (token-bucket budgets)
====================================  =========  ==========================================
"""
from __future__ import annotations

import math
import threading
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..metrics import OperationMetrics, RetryMetrics

__all__ = ["PrometheusExporter", "BREAKER_STATE_VALUES"]

#: seed 000's encoding; "isolated" (forced open) reads as open, "disabled" (always passes) as closed
BREAKER_STATE_VALUES = {"closed": 0, "open": 1, "half_open": 2, "isolated": 1, "disabled": 0}
_REASONS = (("exhausted", "exhausted"), ("timeouts", "timeout"), ("budget_rejections", "budget_exhausted"),
            ("breaker_rejections", "breaker_rejected"), ("not_retryable", "not_retryable"))


def _state_name(state: Any) -> str:
    name = getattr(state, "name", state)
    return str(name).lower().replace("-", "_")


def _call_or_value(obj: Any, name: str) -> Optional[float]:
    v = getattr(obj, name, None)
    if callable(v):
        v = v()
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


class _BreakerWatch:
    """A breaker and the transitions seen by our listener (when it offers one)."""

    def __init__(self, breaker: Any, operation: str) -> None:
        self.breaker = breaker
        self.operation = operation
        self.transitions: Dict[Tuple[str, str], int] = {}
        self.lock = threading.Lock()
        add = getattr(breaker, "add_listener", None)
        self.listening = callable(add)
        if self.listening:
            add(self.on_change)

    def on_change(self, breaker: Any, old: Any, new: Any) -> None:
        key = (_state_name(old), _state_name(new))
        with self.lock:
            self.transitions[key] = self.transitions.get(key, 0) + 1

    def counts(self) -> Dict[Tuple[str, str], int]:
        own = getattr(self.breaker, "transition_counts", None)  # a breaker that counts itself
        if callable(own):
            own = own()
        if isinstance(own, dict):
            return {(_state_name(k[0]), _state_name(k[1])): int(v) for k, v in own.items()}
        with self.lock:
            return dict(self.transitions)


class PrometheusExporter:
    """Expose one or more :class:`~zenoo_retry.metrics.RetryMetrics` (and breakers and
    budgets) to Prometheus. ``registry`` defaults to prometheus_client's ``REGISTRY``;
    ``register=False`` skips registration (call ``registry.register(exporter)`` yourself)."""

    def __init__(self, *metrics: Any, registry: Any = None, register: bool = True) -> None:
        for m in metrics:
            if not isinstance(m, (RetryMetrics, OperationMetrics)):
                raise TypeError(f"metrics must be RetryMetrics or OperationMetrics, got {m!r}")
        self._metrics: List[Any] = list(metrics)
        self._breakers: List[_BreakerWatch] = []
        self._budgets: List[Tuple[Any, str]] = []
        if register:
            if registry is None:
                from prometheus_client import REGISTRY

                registry = REGISTRY
            registry.register(self)
        self.registry = registry

    def add_metrics(self, metrics: Any) -> None:
        """Also export ``metrics`` (RetryMetrics or OperationMetrics)."""
        if not isinstance(metrics, (RetryMetrics, OperationMetrics)):
            raise TypeError(f"metrics must be RetryMetrics or OperationMetrics, got {metrics!r}")
        self._metrics.append(metrics)

    def add_breaker(self, breaker: Any, operation: Optional[str] = None) -> None:
        """Export ``breaker``'s state (read at scrape time) and its transitions (counted by
        a state-change listener, or read from the breaker when it counts them)."""
        if not hasattr(breaker, "state"):
            raise TypeError(f"breaker must be a circuit breaker (with .state), got {breaker!r}")
        name = operation or getattr(breaker, "name", None) or f"breaker-{len(self._breakers)}"
        self._breakers.append(_BreakerWatch(breaker, str(name)))

    def add_budget(self, budget: Any, operation: Optional[str] = None) -> None:
        """Export ``budget``'s available tokens and capacity (read at scrape time)."""
        if _call_or_value(budget, "available_tokens") is None:
            raise TypeError(f"budget must be a retry budget (with available_tokens), got {budget!r}")
        name = operation or getattr(budget, "name", None) or f"budget-{len(self._budgets)}"
        self._budgets.append((budget, str(name)))

    def _cells(self) -> List[OperationMetrics]:
        cells: Dict[str, List[OperationMetrics]] = {}
        for m in self._metrics:
            for cell in (m.operations.values() if isinstance(m, RetryMetrics) else [m]):
                cells.setdefault(cell.name, []).append(cell)
        return [c for group in cells.values() for c in group]

    def describe(self) -> List[Any]:
        return []  # unknown label sets until scraped; no duplicate-name checks needed

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        from .. import _core

        attempts = CounterMetricFamily("retry_attempts_total", "Retry attempts run", labels=["operation"])
        successes = CounterMetricFamily("retry_successes_total", "Retried operations that succeeded",
                                        labels=["operation"])
        failures = CounterMetricFamily("retry_failures_total", "Retried operations that failed, by reason",
                                       labels=["operation", "reason"])
        operations = CounterMetricFamily("retry_operations_total", "Operations started", labels=["operation"])
        retries = CounterMetricFamily("retry_retries_total", "Retries scheduled", labels=["operation"])
        delays = HistogramMetricFamily("retry_delay_seconds", "Backoff delays before retries",
                                       labels=["operation"])
        by_name: Dict[str, List[OperationMetrics]] = {}
        for cell in self._cells():
            by_name.setdefault(cell.name, []).append(cell)
        for name, group in sorted(by_name.items()):
            snap = _core.metrics_snapshot(group)
            attempts.add_metric([name], snap["attempts"])
            successes.add_metric([name], snap["successes"])
            operations.add_metric([name], snap["operations"])
            retries.add_metric([name], snap["retries"])
            for key, reason in _REASONS:
                failures.add_metric([name, reason], snap[key])
            cumulative, buckets = 0, []
            for bound, count in snap["delay_buckets"]:
                cumulative += count
                buckets.append(("+Inf" if math.isinf(bound) else repr(bound), cumulative))
            delays.add_metric([name], buckets, sum_value=snap["total_delay"])
        yield from (attempts, successes, failures, operations, retries, delays)

        if self._breakers:
            state = GaugeMetricFamily("circuit_breaker_state",
                                      "Circuit breaker state (0=closed, 1=open, 2=half-open)",
                                      labels=["operation"])
            trans = CounterMetricFamily("circuit_breaker_transitions_total", "Circuit breaker state transitions",
                                        labels=["operation", "from_state", "to_state"])
            for w in self._breakers:
                st = _state_name(w.breaker.state() if callable(w.breaker.state) else w.breaker.state)
                state.add_metric([w.operation], BREAKER_STATE_VALUES.get(st, -1))
                for (old, new), n in sorted(w.counts().items()):
                    trans.add_metric([w.operation, old, new], n)
            yield state
            yield trans
        if self._budgets:
            avail = GaugeMetricFamily("retry_budget_available_tokens", "Retry budget tokens available",
                                      labels=["operation"])
            cap = GaugeMetricFamily("retry_budget_capacity_tokens", "Retry budget capacity", labels=["operation"])
            for budget, name in self._budgets:
                a = _call_or_value(budget, "available_tokens")
                if a is not None:
                    avail.add_metric([name], a)
                c = _call_or_value(budget, "capacity")
                if c is not None and getattr(budget, "mode", "token") == "token":
                    cap.add_metric([name], c)
            yield avail
            yield cap

    def unregister(self) -> None:
        """Remove the exporter from its registry."""
        if self.registry is not None:
            self.registry.unregister(self)
