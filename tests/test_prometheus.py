"""Prometheus exporter: scrape a real /metrics endpoint on 127.0.0.1 and check values."""
import urllib.request

import pytest

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from zenoo_retry import (  # noqa: E402
    ExponentialBackoffStrategy,
    MaxRetriesExceededError,
    RetryMetrics,
    async_retry,
    retry,
)
from zenoo_retry.exporters.prometheus import PrometheusExporter  # noqa: E402
from zenoo_retry.testing import instant_retries  # noqa: E402

from helpers import AsyncFlaky, Flaky  # noqa: E402

NOJ = ExponentialBackoffStrategy(max_attempts=3, base_delay=0.5, jitter=False)


class Breaker:
    def __init__(self):
        self.state = "closed"
        self.listeners = []
        self.name = "db-breaker"

    def add_listener(self, fn):
        self.listeners.append(fn)

    def move(self, new):
        old, self.state = self.state, new
        for fn in self.listeners:
            fn(self, old, new)


class Budget:
    capacity = 10.0
    mode = "token"

    def available_tokens(self):
        return 7.5


@pytest.fixture
def server():
    registry = prometheus_client.CollectorRegistry()
    httpd, thread = prometheus_client.start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield registry, f"http://127.0.0.1:{httpd.server_address[1]}/metrics"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


async def test_scrape_real_endpoint(server):
    registry, url = server
    m = RetryMetrics()
    exporter = PrometheusExporter(m, registry=registry)
    breaker, budget = Breaker(), Budget()
    exporter.add_breaker(breaker, operation="db")
    exporter.add_budget(budget, operation="db")
    f = retry(strategy=NOJ, metrics=m, name="fetch")(Flaky(OSError(), OSError(), result=1))
    g = retry(strategy=NOJ, metrics=m, name="save")(Flaky(OSError(), OSError(), OSError()))
    h = async_retry(strategy=NOJ, metrics=m, name="fetch")(AsyncFlaky(result=2))
    with instant_retries():
        assert f() == 1
        with pytest.raises(MaxRetriesExceededError):
            g()
        assert await h() == 2
    breaker.move("open")
    breaker.move("half_open")
    breaker.move("open")

    s = scrape(url)
    op = lambda name: (("operation", name),)  # noqa: E731
    assert s[("retry_attempts_total", op("fetch"))] == 4
    assert s[("retry_successes_total", op("fetch"))] == 2
    assert s[("retry_attempts_total", op("save"))] == 3
    assert s[("retry_successes_total", op("save"))] == 0
    assert s[("retry_failures_total", (("operation", "save"), ("reason", "exhausted")))] == 1
    assert s[("retry_failures_total", (("operation", "fetch"), ("reason", "exhausted")))] == 0
    assert s[("retry_delay_seconds_count", op("fetch"))] == 2
    assert s[("retry_delay_seconds_sum", op("fetch"))] == 1.5
    assert s[("retry_delay_seconds_bucket", (("le", "0.5"), ("operation", "fetch")))] == 1
    assert s[("retry_delay_seconds_bucket", (("le", "1.0"), ("operation", "fetch")))] == 2
    assert s[("retry_delay_seconds_bucket", (("le", "+Inf"), ("operation", "save")))] == 2
    assert s[("circuit_breaker_state", op("db"))] == 1
    tr = lambda a, b: ("circuit_breaker_transitions_total",  # noqa: E731
                       (("from_state", a), ("operation", "db"), ("to_state", b)))
    assert s[tr("closed", "open")] == 1 and s[tr("half_open", "open")] == 1 and s[tr("open", "half_open")] == 1
    assert s[("retry_budget_available_tokens", op("db"))] == 7.5
    assert s[("retry_budget_capacity_tokens", op("db"))] == 10.0

    # counters are read at scrape time: more calls show up on the next scrape
    assert f() == 1
    assert scrape(url)[("retry_attempts_total", op("fetch"))] == 5
    exporter.unregister()
    assert ("retry_attempts_total", op("fetch")) not in scrape(url)


def test_validation():
    registry = prometheus_client.CollectorRegistry()
    with pytest.raises(TypeError, match="metrics must be"):
        PrometheusExporter(object(), registry=registry)
    exp = PrometheusExporter(registry=registry)
    with pytest.raises(TypeError, match="breaker must be"):
        exp.add_breaker(object())
    with pytest.raises(TypeError, match="budget must be"):
        exp.add_budget(object())


def test_real_budget_gauges():
    budget_mod = pytest.importorskip("zenoo_retry.budget")
    registry = prometheus_client.CollectorRegistry()
    exporter = PrometheusExporter(registry=registry)
    budget = budget_mod.RetryBudget(capacity=4, refill_rate=0.0)
    exporter.add_budget(budget, operation="api")
    assert budget.try_acquire()
    value = registry.get_sample_value
    assert value("retry_budget_available_tokens", {"operation": "api"}) == 3.0
    assert value("retry_budget_capacity_tokens", {"operation": "api"}) == 4.0


def test_real_circuit_breaker_gauges_and_transitions():
    cb_mod = pytest.importorskip("zenoo_retry.circuit_breaker")
    from zenoo_retry import CircuitBreakerOpenError

    now = [0.0]
    breaker = cb_mod.CircuitBreaker(failure_threshold=1, recovery_timeout=5.0, name="db", clock=lambda: now[0])
    registry = prometheus_client.CollectorRegistry()
    m = RetryMetrics()
    exporter = PrometheusExporter(m, registry=registry)
    exporter.add_breaker(breaker)
    value = registry.get_sample_value
    assert value("circuit_breaker_state", {"operation": "db"}) == 0
    f = retry(strategy=NOJ, circuit_breaker=breaker, metrics=m, name="call")(Flaky(OSError(), OSError()))
    with instant_retries(), pytest.raises(CircuitBreakerOpenError):
        f()
    assert value("circuit_breaker_state", {"operation": "db"}) == 1
    now[0] += 6.0
    assert value("circuit_breaker_state", {"operation": "db"}) == 2  # read at scrape time
    labels = {"operation": "db", "from_state": "closed", "to_state": "open"}
    assert value("circuit_breaker_transitions_total", labels) == 1
    assert value("retry_failures_total", {"operation": "call", "reason": "breaker_rejected"}) == 1
