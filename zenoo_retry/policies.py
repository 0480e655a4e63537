"""Retry policies: what to retry, how long to wait, when to give up.

A :class:`RetryPolicy` bundles a strategy (the delays and ``max_attempts``), the
exceptions to retry and never to retry, an optional condition, a total timeout and
optionally a circuit breaker and a retry budget. Decorators compile it once into a C
``RetrySpec``; later changes to the policy object do not affect functions already
decorated.

Presets carry the numbers of the documents zenoo_retry follows (see the README table):
seed 004's Default/Network/Database/Quick/Aggressive policies are classes; every preset,
those included, is also available by name through :func:`preset` and :data:`PRESETS`.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, Iterable, Optional, Tuple, Type, Union

from . import _core
from .classification import http_status, is_server_error, is_transient_db_error
from .exceptions import InvalidConfigurationError
from .metrics import RetryMetrics, metrics_cell
from .strategies import (
    ExponentialBackoffStrategy,
    FixedDelayStrategy,
    RetryStrategy,
    WithJitter,
)

__all__ = [
    "RetryPolicy",
    "DefaultRetryPolicy",
    "NetworkRetryPolicy",
    "DatabaseRetryPolicy",
    "QuickRetryPolicy",
    "AggressiveRetryPolicy",
    "GentleRetryPolicy",
    "RetryPolicies",
    "PRESETS",
    "preset",
    "exception_tuple",
]

ExceptionTypes = Union[Type[BaseException], Iterable[Type[BaseException]]]
_MISSING: Any = object()


def exception_tuple(param: str, value: Any) -> Tuple[Type[BaseException], ...]:
    """Normalise an exception class or an iterable of them to a tuple; errors name ``param``."""
    if isinstance(value, type) and issubclass(value, BaseException):
        return (value,)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{param} must be an exception class or an iterable of them, got {value!r}")
    items = tuple(value)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise TypeError(f"{param} must contain exception classes, got {item!r}")
    return items


def is_finite_number(value: Any) -> bool:
    """math.isfinite for an int or float that also answers False (instead of raising
    OverflowError) for an int too large for a float."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _optional_callable(param: str, value: Any) -> Any:
    if value is not None and not callable(value):
        raise TypeError(f"{param} must be callable or None, got {value!r}")
    return value


class RetryPolicy:
    """Everything a retry loop needs to know, as one reusable object.

    ``strategy`` (default: exponential, 3 attempts, 1 s, x2, cap 60 s, full jitter),
    ``retryable_exceptions`` (default: every ``Exception``), ``non_retryable_exceptions``
    (checked first), ``retry_condition(exception, attempt) -> bool | seconds``,
    ``timeout`` (total seconds; no sleep is started that would end past it),
    ``circuit_breaker``, ``budget``, ``retry_on_result(result) -> bool``,
    ``delay_hint(exception) -> seconds | None`` (e.g. Retry-After), ``reraise``,
    ``metrics`` (a :class:`~zenoo_retry.metrics.RetryMetrics`, counted in C).
    """

    def __init__(
        self,
        strategy: Optional[RetryStrategy] = None,
        retryable_exceptions: Optional[ExceptionTypes] = None,
        non_retryable_exceptions: Optional[ExceptionTypes] = None,
        retry_condition: Optional[Callable[[BaseException, Any], Any]] = None,
        timeout: Optional[float] = None,
        circuit_breaker: Any = None,
        budget: Any = None,
        *,
        retry_on_result: Optional[Callable[[Any], Any]] = None,
        delay_hint: Optional[Callable[[BaseException], Optional[float]]] = None,
        reraise: bool = False,
        name: Optional[str] = None,
        metrics: Any = None,
        # operations toolkit (issue 7): error types, Retry-After, rate-limit schedule
        retryable_errors: Any = None,
        permanent_errors: Any = None,
        classifier: Any = None,
        respect_retry_after: Any = False,
        rate_limit_strategy: Optional[RetryStrategy] = None,
        max_hint_delay: Optional[float] = None,
    ) -> None:
        if strategy is None:
            strategy = ExponentialBackoffStrategy()
        if not isinstance(strategy, _core.Backoff):
            raise TypeError(f"strategy must be a retry strategy, got {strategy!r}")
        self.strategy = strategy
        self.retryable_exceptions = exception_tuple(
            "retryable_exceptions", Exception if retryable_exceptions is None else retryable_exceptions
        )
        self.non_retryable_exceptions = exception_tuple(
            "non_retryable_exceptions", () if non_retryable_exceptions is None else non_retryable_exceptions
        )
        self.retry_condition = _optional_callable("retry_condition", retry_condition)
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError(f"timeout must be a number of seconds or None, got {timeout!r}")
            if not (is_finite_number(timeout) and timeout > 0):
                raise InvalidConfigurationError(
                    f"timeout must be a finite number > 0, got {timeout!r}", parameter="timeout", value=timeout
                )
        self.timeout = timeout
        self.circuit_breaker = circuit_breaker
        self.budget = budget
        self.retry_on_result = _optional_callable("retry_on_result", retry_on_result)
        self.delay_hint = _optional_callable("delay_hint", delay_hint)
        if not isinstance(reraise, bool):
            raise TypeError(f"reraise must be a bool, got {reraise!r}")
        self.reraise = reraise
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, got {name!r}")
        self.name = name
        if metrics is not None and not isinstance(metrics, (RetryMetrics, _core.OperationMetrics)):
            raise TypeError(f"metrics must be a RetryMetrics, an OperationMetrics or None, got {metrics!r}")
        self.metrics = metrics  # observability (issue 6): counters kept in C
        _ops_options(self, retryable_errors, permanent_errors, classifier, respect_retry_after,
                     rate_limit_strategy, max_hint_delay)

    @property
    def max_attempts(self) -> int:
        return self.strategy.max_attempts

    def copy(self, **changes: Any) -> "RetryPolicy":
        """A new policy with some of the constructor's arguments changed."""
        args: Dict[str, Any] = dict(
            strategy=self.strategy,
            retryable_exceptions=self.retryable_exceptions,
            non_retryable_exceptions=self.non_retryable_exceptions,
            retry_condition=self.retry_condition,
            timeout=self.timeout,
            circuit_breaker=self.circuit_breaker,
            budget=self.budget,
            retry_on_result=self.retry_on_result,
            delay_hint=self.delay_hint,
            reraise=self.reraise,
            name=self.name,
            metrics=self.metrics,
            **_ops_args(self),
        )
        unknown = set(changes) - set(args)
        if unknown:
            raise TypeError(f"copy() got unknown argument(s): {', '.join(sorted(unknown))}")
        args.update(changes)
        return RetryPolicy(**args)

    def compile(
        self,
        *,
        on_retry: Optional[Callable[[Any], Any]] = None,
        on_give_up: Optional[Callable[[Any, BaseException], Any]] = None,
        sleep: Optional[Callable[[float], Any]] = None,
        clock: Optional[Callable[[], float]] = None,
        fallback: Any = _MISSING,
        fallback_factory: Optional[Callable[[BaseException], Any]] = None,
        name: Optional[str] = None,
        observer: Optional[Callable[[int, Any, Any], Any]] = None,
    ) -> _core.RetrySpec:
        """The C ``RetrySpec`` for this policy plus per-decoration hooks."""
        kwargs: Dict[str, Any] = dict(
            retry_on=self.retryable_exceptions,
            never_retry_on=self.non_retryable_exceptions,
            condition=self.retry_condition,
            retry_on_result=self.retry_on_result,
            delay_hint=self.delay_hint,
            on_retry=_optional_callable("on_retry", on_retry),
            on_give_up=_optional_callable("on_give_up", on_give_up),
            sleep=_optional_callable("sleep", sleep),
            clock=_optional_callable("clock", clock),
            timeout=self.timeout,
            reraise=self.reraise,
            breaker=self.circuit_breaker,
            budget=self.budget,
            fallback_factory=_optional_callable("fallback_factory", fallback_factory),
            name=name if name is not None else self.name,
        )
        kwargs["metrics"] = metrics_cell(self.metrics, kwargs["name"] or "")
        kwargs["observer"] = _optional_callable("observer", observer)
        if fallback is not _MISSING:
            kwargs["fallback"] = fallback
        _ops_compile(self, kwargs)
        return _core.RetrySpec(self.strategy, **kwargs)

    def __repr__(self) -> str:
        exc = ", ".join(e.__name__ for e in self.retryable_exceptions)
        return (
            f"{type(self).__name__}(strategy={self.strategy!r}, retryable=({exc}), "
            f"timeout={self.timeout!r})"
        )


_OPS_FIELDS = ("retryable_errors", "permanent_errors", "classifier", "respect_retry_after",
               "rate_limit_strategy", "max_hint_delay")


def _ops_options(policy: RetryPolicy, retryable: Any, permanent: Any, classifier: Any,
                 respect_retry_after: Any, rate_limit_strategy: Any, max_hint_delay: Any) -> None:
    """Validate and store the operations-toolkit options (see error_rules.py)."""
    from .classification import ErrorClassifier, error_types
    from .error_rules import retry_after_option

    policy.retryable_errors = None if retryable is None else error_types("retryable_errors", retryable)
    policy.permanent_errors = None if permanent is None else error_types("permanent_errors", permanent)
    if classifier is not None and not isinstance(classifier, ErrorClassifier):
        raise TypeError(f"classifier must be an ErrorClassifier or None, got {classifier!r}")
    policy.classifier = classifier
    retry_after_option(respect_retry_after)
    policy.respect_retry_after = respect_retry_after
    if rate_limit_strategy is not None and not isinstance(rate_limit_strategy, _core.Backoff):
        raise TypeError(f"rate_limit_strategy must be a retry strategy or None, got {rate_limit_strategy!r}")
    policy.rate_limit_strategy = rate_limit_strategy
    if max_hint_delay is not None:
        if isinstance(max_hint_delay, bool) or not isinstance(max_hint_delay, (int, float)):
            raise TypeError(f"max_hint_delay must be a number of seconds or None, got {max_hint_delay!r}")
        if not (is_finite_number(max_hint_delay) and max_hint_delay >= 0):
            raise InvalidConfigurationError(f"max_hint_delay must be a finite number >= 0, got {max_hint_delay!r}",
                                            parameter="max_hint_delay", value=max_hint_delay)
    policy.max_hint_delay = max_hint_delay


def _ops_args(policy: RetryPolicy) -> Dict[str, Any]:
    return {key: getattr(policy, key) for key in _OPS_FIELDS}


def _ops_compile(policy: RetryPolicy, kwargs: Dict[str, Any]) -> None:
    """Turn the operations-toolkit options into RetrySpec's condition/delay_hint/cap."""
    from .error_rules import compile_error_rules, retry_after_option

    kwargs["condition"], kwargs["delay_hint"], kwargs["max_hint_delay"] = compile_error_rules(
        condition=kwargs["condition"], delay_hint=kwargs["delay_hint"],
        retryable_errors=policy.retryable_errors, permanent_errors=policy.permanent_errors,
        classifier=policy.classifier, rate_limit_strategy=policy.rate_limit_strategy,
        retry_after=retry_after_option(policy.respect_retry_after),
        max_hint_delay=policy.max_hint_delay, strategy=policy.strategy)


def _retry_db_transient(exc: BaseException, attempt: Any) -> bool:
    """Database condition: connection/timeout errors, and DB-API transient errors."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return is_transient_db_error(exc)


class DefaultRetryPolicy(RetryPolicy):
    """Seed 004: ConnectionError/TimeoutError/OSError; never ValueError/TypeError/
    AttributeError; exponential 3 attempts, 1 s, x2; timeout 60 s."""

    def __init__(self) -> None:
        super().__init__(
            strategy=ExponentialBackoffStrategy(max_attempts=3, base_delay=1.0, multiplier=2.0),
            retryable_exceptions=(ConnectionError, TimeoutError, OSError),
            non_retryable_exceptions=(ValueError, TypeError, AttributeError),
            timeout=60.0,
            name="default",
        )


class NetworkRetryPolicy(RetryPolicy):
    """Seed 004: ConnectionError/TimeoutError/OSError and HTTP 5xx (429 too); exponential
    5 attempts, 2 s, x2; timeout 120 s. Errors with a 4xx status are not retried."""

    def __init__(self) -> None:
        super().__init__(
            strategy=ExponentialBackoffStrategy(max_attempts=5, base_delay=2.0, multiplier=2.0),
            retryable_exceptions=(ConnectionError, TimeoutError, OSError, Exception),
            non_retryable_exceptions=(ValueError, TypeError, AttributeError, LookupError),
            retry_condition=_network_condition,
            timeout=120.0,
            name="network",
        )


def _network_condition(exc: BaseException, attempt: Any) -> bool:
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    if is_server_error(exc):
        return True
    status = http_status(exc)
    if status is not None:
        return status == 429
    return isinstance(exc, OSError)


class DatabaseRetryPolicy(RetryPolicy):
    """Seed 004: ConnectionError/TimeoutError and transient DB-API errors
    (OperationalError, InterfaceError); exponential 3 attempts, 2 s, x1.5; timeout 180 s."""

    def __init__(self) -> None:
        super().__init__(
            strategy=ExponentialBackoffStrategy(max_attempts=3, base_delay=2.0, multiplier=1.5),
            retryable_exceptions=Exception,
            retry_condition=_retry_db_transient,
            timeout=180.0,
            name="database",
        )


class QuickRetryPolicy(RetryPolicy):
    """Seed 004: exponential 2 attempts, 0.1 s, x2, max delay 1 s; timeout 5 s."""

    def __init__(self) -> None:
        super().__init__(
            strategy=ExponentialBackoffStrategy(max_attempts=2, base_delay=0.1, multiplier=2.0, max_delay=1.0),
            timeout=5.0,
            name="quick",
        )


class AggressiveRetryPolicy(RetryPolicy):
    """Seed 004: exponential 10 attempts, 0.5 s, x1.2; timeout 300 s."""

    def __init__(self) -> None:
        super().__init__(
            strategy=ExponentialBackoffStrategy(max_attempts=10, base_delay=0.5, multiplier=1.2),
            timeout=300.0,
            name="aggressive",
        )


class GentleRetryPolicy(RetryPolicy):
    """Seed 001 "gentle": 2 retries (3 attempts), 500 ms doubling, cap 3 s, 0-30 % jitter.
    For analytics, background jobs, cache updates."""

    def __init__(self) -> None:
        super().__init__(strategy=_backoff001(3, 0.5, 3.0), name="gentle")


def _backoff001(attempts: int, base: float, cap: float) -> RetryStrategy:
    """Seed 001's schedule: base * 2^n capped, plus 0-30 % additive jitter."""
    return ExponentialBackoffStrategy(
        max_attempts=attempts, base_delay=base, multiplier=2.0, max_delay=cap,
        jitter=True, jitter_type="additive", jitter_factor=0.3,
    )


def _backoff000(attempts: int, base: float, cap: float, factor: float = 0.3) -> RetryStrategy:
    """Seed 000's schedule: exponential with proportional +-factor jitter."""
    return WithJitter(
        ExponentialBackoffStrategy(max_attempts=attempts, base_delay=base, max_delay=cap, jitter=False), factor
    )


class RetryPolicies:
    """Named presets of seeds 000, 001 and 002 as factory methods (each call returns a new
    policy). See the README's preset table for the numbers."""

    # --- seed 000 ---------------------------------------------------------------
    @staticmethod
    def network_policy() -> RetryPolicy:
        """8 attempts, 500 ms .. 30 s, +-30 % jitter; network errors and 5xx/429."""
        return RetryPolicy(_backoff000(8, 0.5, 30.0), retry_condition=_network_condition,
                           non_retryable_exceptions=(ValueError, TypeError, AttributeError, LookupError),
                           name="network-long")

    @staticmethod
    def database_policy() -> RetryPolicy:
        """5 attempts, 100 ms .. 10 s, +-30 % jitter; transient database errors."""
        return RetryPolicy(_backoff000(5, 0.1, 10.0), retry_condition=_retry_db_transient, name="database-short")

    @staticmethod
    def rate_limit_policy() -> RetryPolicy:
        """10 attempts, a fixed 60 s between them (rate-limited APIs)."""
        return RetryPolicy(FixedDelayStrategy(max_attempts=10, delay=60.0), name="rate-limit")

    @staticmethod
    def filesystem_policy() -> RetryPolicy:
        """3 attempts, 50 ms .. 1 s; OSError only (busy files, NFS hiccups)."""
        return RetryPolicy(_backoff000(3, 0.05, 1.0), retryable_exceptions=OSError,
                           non_retryable_exceptions=(FileNotFoundError, PermissionError, IsADirectoryError,
                                                     NotADirectoryError, FileExistsError),
                           name="filesystem")

    @staticmethod
    def idempotent_policy() -> RetryPolicy:
        """Safe to repeat: 10 attempts, 100 ms .. 30 s, +-30 % jitter, any Exception."""
        return RetryPolicy(_backoff000(10, 0.1, 30.0), name="idempotent")

    @staticmethod
    def non_idempotent_policy() -> RetryPolicy:
        """Not safe to repeat: 2 attempts, and only when the request cannot have reached
        the server (connection refused / reset before sending)."""
        return RetryPolicy(_backoff000(2, 0.2, 2.0),
                           retryable_exceptions=(ConnectionRefusedError, ConnectionAbortedError),
                           name="non-idempotent")

    @staticmethod
    def api_policy() -> RetryPolicy:
        """Seed 000's custom example: 5 attempts, 200 ms .. 30 s, +-20 % jitter, 120 s."""
        return RetryPolicy(_backoff000(5, 0.2, 30.0, 0.2), retry_condition=_network_condition,
                           timeout=120.0, name="api")

    # --- seed 001 ---------------------------------------------------------------
    @staticmethod
    def default_backoff() -> RetryPolicy:
        """3 retries (4 attempts), 100 ms doubling, cap 5 s, 0-30 % jitter."""
        return RetryPolicy(_backoff001(4, 0.1, 5.0), name="backoff")

    @staticmethod
    def aggressive_backoff() -> RetryPolicy:
        """5 retries (6 attempts), 50 ms doubling, cap 5 s, 0-30 % jitter."""
        return RetryPolicy(_backoff001(6, 0.05, 5.0), name="backoff-aggressive")

    @staticmethod
    def gentle_backoff() -> RetryPolicy:
        """2 retries (3 attempts), 500 ms doubling, cap 3 s, 0-30 % jitter."""
        return GentleRetryPolicy()

    # --- seed 002 ---------------------------------------------------------------
    @staticmethod
    def database_config() -> RetryPolicy:
        """3 attempts, 100 ms exponential (cap 30 s, full jitter), transient/timeout/network."""
        return RetryPolicy(ExponentialBackoffStrategy(max_attempts=3, base_delay=0.1, max_delay=30.0),
                           retry_condition=_retry_db_transient, timeout=300.0, name="database-go")

    @staticmethod
    def http_config() -> RetryPolicy:
        """5 attempts, 200 ms exponential with full jitter; server errors and rate limits."""
        return RetryPolicy(ExponentialBackoffStrategy(max_attempts=5, base_delay=0.2, max_delay=30.0),
                           retry_condition=_network_condition,
                           non_retryable_exceptions=(ValueError, TypeError, AttributeError, LookupError),
                           timeout=300.0, name="http")

    @staticmethod
    def s3_config() -> RetryPolicy:
        """4 attempts, 500 ms exponential, longer total timeout (15 min) for large files."""
        return RetryPolicy(ExponentialBackoffStrategy(max_attempts=4, base_delay=0.5, max_delay=30.0),
                           retry_condition=_network_condition, timeout=900.0, name="s3")

    @staticmethod
    def cache_config() -> RetryPolicy:
        """2 attempts, a fixed 50 ms (cache failures are less critical), no breaker."""
        return RetryPolicy(FixedDelayStrategy(max_attempts=2, delay=0.05), name="cache")


#: Every preset by name; values are factories returning a new policy.
PRESETS: Dict[str, Callable[[], RetryPolicy]] = {
    "default": DefaultRetryPolicy,
    "network": NetworkRetryPolicy,
    "database": DatabaseRetryPolicy,
    "quick": QuickRetryPolicy,
    "aggressive": AggressiveRetryPolicy,
    "gentle": GentleRetryPolicy,
    "backoff": RetryPolicies.default_backoff,
    "backoff-aggressive": RetryPolicies.aggressive_backoff,
    "network-long": RetryPolicies.network_policy,
    "database-short": RetryPolicies.database_policy,
    "rate-limit": RetryPolicies.rate_limit_policy,
    "filesystem": RetryPolicies.filesystem_policy,
    "idempotent": RetryPolicies.idempotent_policy,
    "non-idempotent": RetryPolicies.non_idempotent_policy,
    "api": RetryPolicies.api_policy,
    "database-go": RetryPolicies.database_config,
    "http": RetryPolicies.http_config,
    "s3": RetryPolicies.s3_config,
    "cache": RetryPolicies.cache_config,
}


def preset(name: str) -> RetryPolicy:
    """A new policy for a preset name (see :data:`PRESETS`)."""
    try:
        factory = PRESETS[name]
    except (KeyError, TypeError):
        raise InvalidConfigurationError(
            f"policy must be one of {', '.join(sorted(PRESETS))}, got {name!r}", parameter="policy", value=name
        ) from None
    return factory()
