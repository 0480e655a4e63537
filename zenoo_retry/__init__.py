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
from .adaptive import AdaptiveStrategy
from .budget import RetryBudget

# shared state (issue 5)
from .backends import RedisBackend
from . import shared
from .exceptions import (
    SharedConfigMismatchError,
    SharedSegmentCorruptedError,
    SharedSegmentNotFoundError,
    SharedSegmentPermissionError,
    SharedSegmentVersionError,
    SharedStateError,
)

# observability (issue 6)
import logging as _logging

_logging.getLogger("zenoo_retry").addHandler(_logging.NullHandler())
from .metrics import CallMetrics, RetryMetrics, async_execute_with_metrics, execute_with_metrics
from .events import RetryEventHandler
from . import logs as _logs

_logs.install()

# operations toolkit (issue 7)
from .classification import ErrorClassifier, ErrorType, classify, register_error_type
from .retry_after import RetryAfter, parse_retry_after
from .dead_letters import DeadLetter, DeadLetterQueue
from .custom import CustomRetryPolicy, RetryDecision
from .bulk import AsyncBulkRetryManager, BulkResult, BulkRetryManager
from .managers import RetryManager, RetryManagerPool


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
    "AdaptiveStrategy",
    "RetryBudget",

    # shared state (issue 5)
    "RedisBackend",
    "shared",
    "SharedConfigMismatchError",
    "SharedSegmentCorruptedError",
    "SharedSegmentNotFoundError",
    "SharedSegmentPermissionError",
    "SharedSegmentVersionError",
    "SharedStateError",

    # observability (issue 6)
    "CallMetrics",
    "RetryMetrics",
    "RetryEventHandler",
    "async_execute_with_metrics",
    "execute_with_metrics",

    # operations toolkit (issue 7)
    "ErrorClassifier",
    "ErrorType",
    "classify",
    "register_error_type",
    "RetryAfter",
    "parse_retry_after",
    "DeadLetter",
    "DeadLetterQueue",
    "CustomRetryPolicy",
    "RetryDecision",
    "AsyncBulkRetryManager",
    "BulkResult",
    "BulkRetryManager",
    "RetryManager",
    "RetryManagerPool",

]

import collections.abc as _abc

_abc.Coroutine.register(_core.RetryAwaitable)
