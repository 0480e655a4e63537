"""OpenTelemetry: spans and attempt events checked with the SDK's in-memory exporter."""
import asyncio

import pytest

pytest.importorskip("opentelemetry.sdk")
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

from zenoo_retry import (  # noqa: E402
    BudgetExhaustedError,
    ExponentialBackoffStrategy,
    MaxRetriesExceededError,
    RetryMetrics,
    async_retry,
    retry,
)
from zenoo_retry.exporters.otel import OpenTelemetryHandler  # noqa: E402
from zenoo_retry.testing import instant_retries  # noqa: E402

from helpers import AsyncFlaky, Flaky  # noqa: E402

NOJ = ExponentialBackoffStrategy(max_attempts=3, base_delay=0.5, jitter=False)


@pytest.fixture
def traced():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OpenTelemetryHandler(tracer_provider=provider), exporter


def attempt_events(span):
    return [dict(e.attributes) for e in span.events if e.name == "retry.attempt"]


def test_span_per_call_with_attempt_events(traced):
    handler, exporter = traced
    m = RetryMetrics()
    f = retry(strategy=NOJ, event_handler=handler, metrics=m, name="fetch")(
        Flaky(ConnectionError(), result=1))
    with instant_retries():
        assert f() == 1
    (span,) = exporter.get_finished_spans()
    assert span.name == "fetch" and span.attributes["retry.operation"] == "fetch"
    assert span.attributes["retry.attempts"] == 2 and span.attributes["retry.succeeded"] is True
    assert attempt_events(span) == [
        {"retry.attempt": 1, "retry.outcome": "failure", "error.type": "ConnectionError", "retry.delay": 0.5},
        {"retry.attempt": 2, "retry.outcome": "success"},
    ]
    assert span.status.status_code == StatusCode.UNSET
    assert f.retry_spec.metrics is m.operation("fetch")  # the traced wrapper keeps retry_spec


def test_give_up_marks_span_error(traced):
    handler, exporter = traced
    f = retry(strategy=NOJ, event_handler=handler, name="save")(Flaky(OSError(), OSError(), OSError()))
    with instant_retries(), pytest.raises(MaxRetriesExceededError):
        f()
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["retry.give_up_reason"] == "exhausted" and span.attributes["retry.succeeded"] is False
    assert [e["retry.attempt"] for e in attempt_events(span)] == [1, 2, 3]
    assert "retry.delay" not in attempt_events(span)[-1]
    assert any(e.name == "exception" for e in span.events)


def test_budget_outcome_and_nested_spans(traced):
    handler, exporter = traced

    class NoBudget:
        def _zr_on_request(self):
            pass

        def _zr_try_retry(self):
            return False

    inner = retry(strategy=NOJ, event_handler=handler, name="inner", budget=NoBudget())(Flaky(OSError()))

    @retry(event_handler=handler, name="outer", non_retryable_exceptions=BudgetExhaustedError)
    def outer():
        return inner()

    with pytest.raises(BudgetExhaustedError):
        outer()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["inner"].parent.span_id == spans["outer"].context.span_id
    assert [e.name for e in spans["inner"].events][:2] == ["retry.attempt", "retry_budget.exhausted"]
    assert spans["inner"].attributes["retry.give_up_reason"] == "budget_exhausted"


async def test_async_span_and_cancellation(traced):
    handler, exporter = traced
    g = async_retry(strategy=NOJ, event_handler=handler, name="afetch")(AsyncFlaky(TimeoutError(), result=5))
    with instant_retries():
        assert await g() == 5
    started = asyncio.Event()

    async def hang():
        started.set()
        await asyncio.sleep(3600)

    t = asyncio.ensure_future(async_retry(event_handler=handler, name="hang")(hang)())
    await started.wait()
    t.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert [e["retry.outcome"] for e in attempt_events(spans["afetch"])] == ["failure", "success"]
    assert [e.name for e in spans["hang"].events if e.name.startswith("retry")] == ["retry.cancelled"]


def test_validation():
    with pytest.raises(TypeError, match="span_name"):
        OpenTelemetryHandler(span_name=3)
    with pytest.raises(TypeError, match="attributes"):
        OpenTelemetryHandler(attributes=[1])


def test_real_breaker_rejection_event(traced):
    cb_mod = pytest.importorskip("zenoo_retry.circuit_breaker")
    from zenoo_retry import CircuitBreakerOpenError

    handler, exporter = traced
    breaker = cb_mod.CircuitBreaker(failure_threshold=1, recovery_timeout=60.0)
    f = retry(strategy=NOJ, circuit_breaker=breaker, event_handler=handler, name="pay")(Flaky(OSError(), OSError()))
    with instant_retries(), pytest.raises(CircuitBreakerOpenError):
        f()
    (span,) = exporter.get_finished_spans()
    names = [e.name for e in span.events]
    # the breaker opened during the call (state change), then refused the retry
    assert names[:3] == ["circuit_breaker.state_change", "retry.attempt", "circuit_breaker.rejected"]
    assert span.attributes["retry.give_up_reason"] == "breaker_rejected"
    assert span.status.status_code == StatusCode.ERROR
