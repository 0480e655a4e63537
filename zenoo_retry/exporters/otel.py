"""OpenTelemetry tracing: a span per decorated call, an event per attempt.

::

    from zenoo_retry import retry
    from zenoo_retry.exporters.otel import OpenTelemetryHandler

    @retry(max_attempts=3, event_handler=OpenTelemetryHandler())
    def fetch(): ...

Each call of ``fetch`` runs inside a span named after the operation (attribute
``retry.operation``). Every attempt that ends adds a ``retry.attempt`` event with
``retry.attempt`` (number), ``retry.outcome`` (success / failure), ``error.type`` and
``retry.delay`` (the wait before the next attempt, when there is one). The span gets
``retry.attempts`` and ``retry.succeeded``; a breaker refusal adds a
``circuit_breaker.rejected`` event, an empty budget ``retry_budget.exhausted``, a final
failure sets the span status to ERROR (the exception is recorded by the span), a
cancellation adds ``retry.cancelled``. Attempts of nested decorated calls nest as child
spans, since the user's code runs inside the span.

Needs ``opentelemetry-api`` (imported when the handler is created); spans go wherever the
configured ``TracerProvider`` sends them. Without an SDK the API's no-op tracer is used.
"""
from __future__ import annotations

import functools
from typing import Any, Dict, Optional

from ..events import RetryEventHandler

__all__ = ["OpenTelemetryHandler"]


class OpenTelemetryHandler(RetryEventHandler):
    """Event handler that traces retried calls with OpenTelemetry.

    ``tracer`` (default: ``trace.get_tracer("zenoo_retry", tracer_provider=...)``),
    ``tracer_provider`` (default: the global one), ``span_name`` (default: the operation
    name), ``attributes`` added to every span.
    """

    def __init__(self, tracer: Any = None, *, tracer_provider: Any = None, span_name: Optional[str] = None,
                 attributes: Optional[Dict[str, Any]] = None) -> None:
        from opentelemetry import trace

        self._trace = trace
        self.tracer = tracer if tracer is not None else trace.get_tracer("zenoo_retry",
                                                                         tracer_provider=tracer_provider)
        if span_name is not None and not isinstance(span_name, str):
            raise TypeError(f"span_name must be a str or None, got {span_name!r}")
        if attributes is not None and not isinstance(attributes, dict):
            raise TypeError(f"attributes must be a dict or None, got {attributes!r}")
        self.span_name = span_name
        self.attributes = dict(attributes or {})

    # --- the span per call -----------------------------------------------------------
    def wrap_callable(self, fn: Any, is_async: bool, name: str) -> Any:
        """Run every call of ``fn`` inside its own span (used by the decorators)."""
        tracer, span_name = self.tracer, self.span_name or name
        attrs = {"retry.operation": name, **self.attributes}

        if is_async:
            @functools.wraps(fn)
            async def traced_async(*args: Any, **kwargs: Any) -> Any:
                with tracer.start_as_current_span(span_name, attributes=attrs):
                    return await fn(*args, **kwargs)

            wrapper: Any = traced_async
        else:
            @functools.wraps(fn)
            def traced(*args: Any, **kwargs: Any) -> Any:
                with tracer.start_as_current_span(span_name, attributes=attrs):
                    return fn(*args, **kwargs)

            wrapper = traced
        spec = getattr(fn, "retry_spec", None)
        if spec is not None:
            wrapper.retry_spec = spec
        return wrapper

    # --- events on the current span ----------------------------------------------------
    def _span(self) -> Any:
        return self._trace.get_current_span()

    def on_retry_success(self, attempt: Any) -> None:
        span = self._span()
        span.add_event("retry.attempt", {"retry.attempt": attempt.number, "retry.outcome": "success"})
        span.set_attribute("retry.attempts", attempt.number)
        span.set_attribute("retry.succeeded", True)

    def on_retry_failure(self, attempt: Any) -> None:
        attrs: Dict[str, Any] = {"retry.attempt": attempt.number, "retry.outcome": "failure"}
        exc = attempt.last_exception
        attrs["error.type"] = type(exc).__qualname__ if exc is not None else "rejected_result"
        if attempt.next_delay is not None:
            attrs["retry.delay"] = attempt.next_delay
        self._span().add_event("retry.attempt", attrs)

    def on_max_retries_exceeded(self, attempt: Any) -> None:
        self._span().set_attribute("retry.give_up_reason", "exhausted")

    def on_budget_exhausted(self, attempt: Any) -> None:
        span = self._span()
        span.add_event("retry_budget.exhausted", {"retry.attempt": attempt.number})
        span.set_attribute("retry.give_up_reason", "budget_exhausted")

    def on_circuit_breaker_rejected(self, attempt: Any, error: BaseException) -> None:
        span = self._span()
        span.add_event("circuit_breaker.rejected", {"retry.attempt": attempt.number + 1})
        span.set_attribute("retry.give_up_reason", "breaker_rejected")

    def on_give_up(self, attempt: Any, error: Optional[BaseException]) -> None:
        from opentelemetry.trace import Status, StatusCode

        span = self._span()
        span.set_attribute("retry.attempts", attempt.number)
        span.set_attribute("retry.succeeded", False)
        span.set_status(Status(StatusCode.ERROR, type(error).__qualname__ if error is not None else "rejected result"))

    def on_cancelled(self, attempt: Any, error: BaseException) -> None:
        self._span().add_event("retry.cancelled", {"retry.attempt": attempt.number})

    def on_circuit_breaker_state_change(self, breaker: Any, old_state: Any, new_state: Any) -> None:
        self._span().add_event("circuit_breaker.state_change", {
            "circuit_breaker.from": str(getattr(old_state, "name", old_state)).lower(),
            "circuit_breaker.to": str(getattr(new_state, "name", new_state)).lower(),
        })
