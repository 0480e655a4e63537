"""zenoo_retry: retries, backoff with jitter, circuit breakers and retry budgets in C.

>>> from zenoo_retry import ExponentialBackoffStrategy
>>> ExponentialBackoffStrategy(max_attempts=6, jitter=False).delays()
[1.0, 2.0, 4.0, 8.0, 16.0]
"""
from __future__ import annotations

# exceptions first: the C extension imports them while it initialises
from .exceptions import (
    BudgetExhaustedError,
    CircuitBreakerOpenError,
    InvalidConfigurationError,
    MaxRetriesExceededError,
    RetryError,
    RetryTimeoutError,
)
from . import _core
from .strategies import (
    CustomBackoffStrategy,
    ExponentialBackoffStrategy,
    FibonacciBackoffStrategy,
    FixedDelayStrategy,
    LinearBackoffStrategy,
    RetryStrategy,
    WithJitter,
)

from .policies import (
    AggressiveRetryPolicy,
    DatabaseRetryPolicy,
    DefaultRetryPolicy,
    GentleRetryPolicy,
    NetworkRetryPolicy,
    QuickRetryPolicy,
    RetryPolicies,
    RetryPolicy,
    preset,
)
from .decorators import (
    async_retry,
    database_retry,
    network_retry,
    quick_retry,
    retry,
    retry_with_fallback,
    retry_with_timeout,
)
from .blocks import attempts
from ._core import RetryAttempt

# circuit breakers (issue 4)
from .circuit_breaker import AdvancedCircuitBreaker, CircuitBreaker, CircuitBreakerStats

# retry budgets and adaptive strategy (issue 4)

# shared state (issue 5)

# observability (issue 6)

# operations toolkit (issue 7)


__version__ = "0.1.0"

__all__ = [
    "BudgetExhaustedError",
    "CircuitBreakerOpenError",
    "InvalidConfigurationError",
    "MaxRetriesExceededError",
    "RetryError",
    "RetryTimeoutError",
    "CustomBackoffStrategy",
    "ExponentialBackoffStrategy",
    "FibonacciBackoffStrategy",
    "FixedDelayStrategy",
    "LinearBackoffStrategy",
    "RetryStrategy",
    "WithJitter",
    "AggressiveRetryPolicy",
    "DatabaseRetryPolicy",
    "DefaultRetryPolicy",
    "GentleRetryPolicy",
    "NetworkRetryPolicy",
    "QuickRetryPolicy",
    "RetryPolicies",
    "RetryPolicy",
    "preset",
    "async_retry",
    "database_retry",
    "network_retry",
    "quick_retry",
    "retry",
    "retry_with_fallback",
    "retry_with_timeout",
    "attempts",
    "RetryAttempt",
    # circuit breakers (issue 4)
    "AdvancedCircuitBreaker",
    "CircuitBreaker",
    "CircuitBreakerStats",

    # retry budgets and adaptive strategy (issue 4)

    # shared state (issue 5)

    # observability (issue 6)

    # operations toolkit (issue 7)

]

import collections.abc as _abc

_abc.Coroutine.register(_core.RetryAwaitable)
