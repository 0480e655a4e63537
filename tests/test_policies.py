"""Policies and presets: the seeds' numbers, classification, overrides."""
import sqlite3

import pytest

from zenoo_retry import (
    AggressiveRetryPolicy,
    DatabaseRetryPolicy,
    DefaultRetryPolicy,
    InvalidConfigurationError,
    MaxRetriesExceededError,
    NetworkRetryPolicy,
    QuickRetryPolicy,
    RetryPolicies,
    RetryPolicy,
    preset,
    retry,
)
from zenoo_retry.policies import PRESETS
from zenoo_retry.testing import instant_retries

from helpers import Flaky


def shape(p):
    s = p.strategy
    return (s.max_attempts, s.base_delay, s.multiplier, p.timeout)


def test_seed004_presets():
    assert shape(DefaultRetryPolicy()) == (3, 1.0, 2.0, 60.0)
    assert shape(NetworkRetryPolicy()) == (5, 2.0, 2.0, 120.0)
    assert shape(DatabaseRetryPolicy()) == (3, 2.0, 1.5, 180.0)
    q = QuickRetryPolicy()
    assert shape(q) == (2, 0.1, 2.0, 5.0) and q.strategy.max_delay == 1.0
    assert shape(AggressiveRetryPolicy()) == (10, 0.5, 1.2, 300.0)
    d = DefaultRetryPolicy()
    assert set(d.retryable_exceptions) == {ConnectionError, TimeoutError, OSError}
    assert set(d.non_retryable_exceptions) == {ValueError, TypeError, AttributeError}


def test_seed001_presets_raw_schedules():
    # max_retries + 1 attempts; base * 2^n capped; 0-30 % additive jitter
    p = RetryPolicies.default_backoff()
    assert p.max_attempts == 4 and [p.strategy.raw_delay(n) for n in (1, 2, 3)] == [0.1, 0.2, 0.4]
    a = RetryPolicies.aggressive_backoff()
    assert (a.max_attempts, a.strategy.base_delay, a.strategy.max_delay) == (6, 0.05, 5.0)
    g = RetryPolicies.gentle_backoff()
    assert (g.max_attempts, g.strategy.base_delay, g.strategy.max_delay) == (3, 0.5, 3.0)
    for _ in range(200):
        d = p.strategy.get_delay(2)
        assert 0.2 <= d <= 0.26 + 1e-12


def test_seed000_and_002_presets():
    assert (RetryPolicies.network_policy().max_attempts, RetryPolicies.network_policy().strategy.base_delay,
            RetryPolicies.network_policy().strategy.max_delay) == (8, 0.5, 30.0)
    db = RetryPolicies.database_policy()
    assert (db.max_attempts, db.strategy.base_delay, db.strategy.max_delay) == (5, 0.1, 10.0)
    rl = RetryPolicies.rate_limit_policy()
    assert rl.max_attempts == 10 and rl.strategy.delays() == [60.0] * 9
    fs = RetryPolicies.filesystem_policy()
    assert (fs.max_attempts, fs.strategy.base_delay, fs.strategy.max_delay) == (3, 0.05, 1.0)
    assert RetryPolicies.non_idempotent_policy().max_attempts == 2
    assert RetryPolicies.idempotent_policy().max_attempts == 10
    assert (RetryPolicies.database_config().max_attempts, RetryPolicies.database_config().strategy.base_delay) == (3, 0.1)
    assert (RetryPolicies.http_config().max_attempts, RetryPolicies.http_config().strategy.base_delay) == (5, 0.2)
    assert (RetryPolicies.s3_config().max_attempts, RetryPolicies.s3_config().strategy.base_delay) == (4, 0.5)
    c = RetryPolicies.cache_config()
    assert c.max_attempts == 2 and c.strategy.schedule == "fixed" and c.strategy.delay == 0.05
    # seed 000's jitter is proportional +-30 %
    assert RetryPolicies.network_policy().strategy.jitter_kind == "proportional"


def test_every_preset_is_reachable_by_name():
    for name, factory in PRESETS.items():
        p = preset(name)
        assert isinstance(p, RetryPolicy) and type(p) is type(factory())
    with pytest.raises(InvalidConfigurationError, match="policy"):
        preset("nope")


class HTTPError(Exception):
    def __init__(self, status):
        self.response = type("R", (), {"status_code": status})()


@pytest.mark.parametrize(
    "error, retried",
    [(ConnectionResetError(), True), (TimeoutError(), True), (HTTPError(503), True), (HTTPError(429), True),
     (HTTPError(404), False), (ValueError(), False), (OSError(), True)],
)
def test_network_policy_classifies(error, retried):
    f = Flaky(error)
    g = retry(NetworkRetryPolicy())(f)
    with instant_retries():
        if retried:
            assert g() == "ok"
        else:
            with pytest.raises(type(error)):
                g()
    assert f.calls == (2 if retried else 1)


def test_database_policy_retries_transient_dbapi_errors_only():
    with instant_retries():
        f = Flaky(sqlite3.OperationalError("database is locked"))
        assert retry(DatabaseRetryPolicy())(f)() == "ok" and f.calls == 2
        g = Flaky(sqlite3.IntegrityError("UNIQUE constraint failed"))
        with pytest.raises(sqlite3.IntegrityError):
            retry(DatabaseRetryPolicy())(g)()
        assert g.calls == 1


def test_decorator_overrides_apply_on_top_of_policy():
    g = retry(NetworkRetryPolicy(), max_attempts=2, delay=0.25, max_delay=0.5, timeout=3.0)(lambda: 1)
    s = g.retry_spec
    assert (s.max_attempts, s.strategy.base_delay, s.strategy.max_delay, s.timeout) == (2, 0.25, 0.5, 3.0)
    with instant_retries() as rec:
        with pytest.raises(MaxRetriesExceededError):
            retry("quick", exceptions=KeyError)(Flaky(KeyError(), KeyError()))()
    assert len(rec.delays) == 1


def test_policy_validation_and_copy():
    with pytest.raises(TypeError, match="retryable_exceptions"):
        RetryPolicy(retryable_exceptions=[1])
    with pytest.raises(InvalidConfigurationError, match="timeout") as ei:
        RetryPolicy(timeout=float("nan"))
    assert ei.value.parameter == "timeout"
    with pytest.raises(TypeError, match="strategy"):
        RetryPolicy(strategy="fast")
    p = DefaultRetryPolicy()
    q = p.copy(timeout=5.0)
    assert q.timeout == 5.0 and p.timeout == 60.0 and q.strategy is p.strategy
    with pytest.raises(TypeError, match="copy"):
        p.copy(bogus=1)
    assert "DefaultRetryPolicy" in repr(p)
