"""Custom policies (seed 003): should_retry(attempt, error) -> retry after a delay / stop."""
from __future__ import annotations

import datetime

import pytest

from helpers import AsyncFlaky, Flaky
from zenoo_retry import (
    CustomRetryPolicy,
    InvalidConfigurationError,
    MaxRetriesExceededError,
    RetryDecision,
    RetryPolicy,
    async_retry,
    retry,
)
from zenoo_retry.custom import as_retry_policy
from zenoo_retry.testing import instant_retries


class Seed003(CustomRetryPolicy):
    """The seed's example: retry after 1 s while attempt < 3, else stop."""

    def __init__(self):
        self.asked = []

    def should_retry(self, attempt, error):
        self.asked.append((attempt, type(error).__name__))
        if attempt < 3:
            return RetryDecision.retry(datetime.timedelta(seconds=1))
        return RetryDecision.stop()

    def max_attempts(self):
        return 3


def test_seed_003_example():
    policy = Seed003()
    op = retry(policy=policy)(Flaky(OSError(), OSError(), OSError(), result="ok"))
    with instant_retries() as sleeps:
        with pytest.raises(OSError):  # stop: the error itself propagates
            op()
    assert sleeps.delays == [1.0, 1.0]
    assert policy.asked == [(1, "OSError"), (2, "OSError"), (3, "OSError")]


def test_delay_depends_on_the_error():
    class ByError:  # duck-typed, no base class
        def should_retry(self, attempt, error):
            if isinstance(error, ConnectionError):
                return 0.5 * attempt
            if isinstance(error, TimeoutError):
                return True  # -> delay_for (absent) -> at once
            return None

    errors = [ConnectionError(), TimeoutError(), ConnectionError(), ValueError("bad")]
    op = retry(policy=ByError())(Flaky(*errors))
    with instant_retries() as sleeps:
        with pytest.raises(ValueError):
            op()
    assert sleeps.delays == [0.5, 1.5]  # attempt 1 -> 0.5, attempt 2 -> 0 (no sleep), attempt 3 -> 1.5


def test_delay_for_and_engine_limits():
    class Linear(CustomRetryPolicy):
        max_delay = 2.5

        def should_retry(self, attempt, error):
            return True

        def delay_for(self, attempt):
            return attempt * 1.0

        def max_attempts(self):
            return 5

    op = retry(policy=Linear())(Flaky(*[OSError()] * 10))
    with instant_retries() as sleeps:
        with pytest.raises(MaxRetriesExceededError) as info:
            op()
    assert sleeps.delays == [1.0, 2.0, 2.5, 2.5]  # capped at the policy's max_delay
    assert info.value.attempts == 5


def test_overrides_and_instant_retries_cap_apply():
    class Forever:
        def should_retry(self, attempt, error):
            return RetryDecision.retry(0.1)

    op = retry(policy=Forever(), max_attempts=4)(Flaky(*[OSError()] * 10))
    with instant_retries() as sleeps:
        with pytest.raises(MaxRetriesExceededError):
            op()
    assert len(sleeps) == 3
    op2 = retry(policy=Forever())(Flaky(*[OSError()] * 10))
    with instant_retries(max_attempts=2) as sleeps:
        with pytest.raises(MaxRetriesExceededError):
            op2()
    assert sleeps.delays == [0.1]


async def test_async():
    op = async_retry(policy=Seed003())(AsyncFlaky(OSError(), result="done"))
    with instant_retries() as sleeps:
        assert await op() == "done"
    assert sleeps.delays == [1.0]


def test_as_retry_policy_is_a_retry_policy():
    p = as_retry_policy(Seed003(), retryable_exceptions=OSError)
    assert isinstance(p, RetryPolicy) and p.max_attempts == 3 and p.name == "Seed003"
    op = retry(p)(Flaky(KeyError("not retried")))
    with pytest.raises(KeyError):
        op()


def test_decision_values():
    assert RetryDecision.stop() == RetryDecision.stop() and not RetryDecision.stop().should_retry
    assert RetryDecision.retry(2) == RetryDecision(2.0) and RetryDecision.retry(2).should_retry
    assert repr(RetryDecision.retry(1.5)) == "RetryDecision.retry(1.5)"
    assert repr(RetryDecision.stop()) == "RetryDecision.stop()"


def test_bad_arguments():
    with pytest.raises(InvalidConfigurationError, match="delay") as info:
        RetryDecision.retry(-1)
    assert info.value.parameter == "delay"
    with pytest.raises(TypeError, match="delay"):
        RetryDecision.retry("1s")
    with pytest.raises(TypeError, match="should_retry"):
        as_retry_policy(object())

    class Bad:
        def should_retry(self, attempt, error):
            return "later"

    op = retry(policy=Bad())(Flaky(OSError()))
    with pytest.raises(TypeError, match="should_retry\\(\\) must return"):
        op()

    class NaN:
        def should_retry(self, attempt, error):
            return float("nan")

    with pytest.raises(InvalidConfigurationError, match="should_retry"):
        retry(policy=NaN())(Flaky(OSError()))()

    class ZeroAttempts(CustomRetryPolicy):
        def max_attempts(self):
            return 0

    with pytest.raises(InvalidConfigurationError, match="max_attempts"):
        retry(policy=ZeroAttempts())
    with pytest.raises(TypeError, match="max_attempts"):
        as_retry_policy(type("P", (), {"should_retry": lambda s, a, e: True, "max_attempts": "3"})())
    with pytest.raises(InvalidConfigurationError, match="max_delay"):
        as_retry_policy(Seed003(), max_delay=-2)
    with pytest.raises(NotImplementedError):
        CustomRetryPolicy().should_retry(1, OSError())
