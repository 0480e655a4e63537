"""The decorators: ``@retry`` (sync) and ``@async_retry`` (asyncio), and shorthands.

Each decorator compiles its policy once into a C ``RetrySpec`` and returns a C callable
(``_core.Retrying`` / ``_core.AsyncRetrying``) that runs the retry loop; no Python frame
of ours runs when a call succeeds. The wrapper keeps ``__name__``, ``__doc__``,
``__wrapped__`` and the signature, binds as a method, and works under ``classmethod`` /
``staticmethod`` in either order.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import sys
from typing import Any, Callable, Optional, TypeVar

from . import _core
from .exceptions import RetryTimeoutError
from .policies import (_MISSING, ExceptionTypes, RetryPolicy, _optional_callable, exception_tuple,
                       is_finite_number, preset)
from .strategies import RetryStrategy, replace_strategy

__all__ = [
    "retry",
    "async_retry",
    "network_retry",
    "database_retry",
    "quick_retry",
    "retry_with_fallback",
    "retry_with_timeout",
    "build_policy",
]

F = TypeVar("F", bound=Callable[..., Any])


def build_policy(
    policy: Optional[RetryPolicy] = None,
    *,
    max_attempts: Optional[int] = None,
    delay: Optional[float] = None,
    backoff_multiplier: Optional[float] = None,
    max_delay: Optional[float] = None,
    exceptions: Optional[ExceptionTypes] = None,
    non_retryable_exceptions: Optional[ExceptionTypes] = None,
    timeout: Optional[float] = None,
    retry_condition: Optional[Callable[..., Any]] = None,
    strategy: Optional[RetryStrategy] = None,
    retry_on_result: Optional[Callable[[Any], Any]] = None,
    delay_hint: Optional[Callable[[BaseException], Optional[float]]] = None,
    reraise: Optional[bool] = None,
    circuit_breaker: Any = None,
    budget: Any = None,
    metrics: Any = None,
    **ops: Any,
) -> RetryPolicy:
    """The policy a decorator call describes: ``policy`` (a RetryPolicy or a preset name)
    with the given overrides applied. Without a policy, every ``Exception`` is retried
    with exponential backoff (3 attempts, 1 s, x2, cap 60 s, full jitter)."""
    if isinstance(policy, str):
        policy = preset(policy)
    if policy is None:
        policy = RetryPolicy()
    elif _is_custom_policy(policy):  # seed 003: should_retry(attempt, error)
        from .custom import as_retry_policy

        policy = as_retry_policy(policy)
    elif not isinstance(policy, RetryPolicy):
        raise TypeError(f"policy must be a RetryPolicy, a preset name or None, got {policy!r}")
    changes: dict = {}
    strat = strategy if strategy is not None else policy.strategy
    if strategy is not None and not isinstance(strategy, _core.Backoff):
        raise TypeError(f"strategy must be a retry strategy, got {strategy!r}")
    overrides = {
        k: v
        for k, v in (("max_attempts", max_attempts), ("base_delay", delay),
                     ("multiplier", backoff_multiplier), ("max_delay", max_delay))
        if v is not None
    }
    if overrides:
        strat = replace_strategy(strat, **overrides)
    if strat is not policy.strategy:
        changes["strategy"] = strat
    if exceptions is not None:
        changes["retryable_exceptions"] = exception_tuple("exceptions", exceptions)
    if non_retryable_exceptions is not None:
        changes["non_retryable_exceptions"] = policy.non_retryable_exceptions + exception_tuple(
            "non_retryable_exceptions", non_retryable_exceptions)
    for key, value in (("timeout", timeout), ("retry_condition", retry_condition),
                       ("retry_on_result", retry_on_result), ("delay_hint", delay_hint),
                       ("reraise", reraise), ("circuit_breaker", circuit_breaker), ("budget", budget),
                       ("metrics", metrics)):
        if value is not None:
            changes[key] = value
    # operations toolkit (issue 7): retryable_errors, permanent_errors, classifier,
    # respect_retry_after, rate_limit_strategy, max_hint_delay
    changes.update(_ops_changes(policy, ops))
    return policy.copy(**changes) if changes else policy


def _is_custom_policy(policy: Any) -> bool:
    return not isinstance(policy, (RetryPolicy, type)) and callable(getattr(policy, "should_retry", None))


def _ops_changes(policy: RetryPolicy, ops: dict) -> dict:
    """Validate the operations-toolkit options of a decorator call."""
    from .policies import _OPS_FIELDS

    unknown = set(ops) - set(_OPS_FIELDS)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    return {k: v for k, v in ops.items() if v is not None}


def _mark_coroutine_function(wrapper: Any, func: Any) -> None:
    """Make inspect/asyncio.iscoroutinefunction(wrapper) true."""
    if hasattr(inspect, "markcoroutinefunction"):  # 3.12+
        inspect.markcoroutinefunction(wrapper)
    else:  # 3.10/3.11: inspect looks for a function-like object with a coroutine __code__
        code = getattr(func, "__code__", None)
        if code is not None:
            wrapper.__code__ = code
            wrapper.__defaults__ = getattr(func, "__defaults__", None)
            wrapper.__kwdefaults__ = getattr(func, "__kwdefaults__", None)
        from asyncio import coroutines

        marker = getattr(coroutines, "_is_coroutine", None)
        if marker is not None:
            wrapper._is_coroutine = marker


def _is_async_callable(func: Any) -> bool:
    while isinstance(func, functools.partial):
        func = func.func
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(getattr(func, "__call__", None))


def _make_decorator(is_async: bool, policy: RetryPolicy, hooks: dict, extra: dict) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        if isinstance(func, (classmethod, staticmethod)):
            return type(func)(decorate(func.__func__))  # type: ignore[return-value]
        if not callable(func):
            raise TypeError(f"{'async_retry' if is_async else 'retry'}() can decorate only callables, got {func!r}")
        name = hooks.get("name") or getattr(func, "__qualname__", None) or repr(func)
        spec = policy.compile(**{**hooks, "name": name})
        target: Any = func
        attempt_timeout = extra.get("attempt_timeout")
        if is_async and attempt_timeout is not None:
            target = _with_attempt_timeout(func, attempt_timeout)
        wrapper = (_core.AsyncRetrying if is_async else _core.Retrying)(target, spec)
        try:
            functools.update_wrapper(wrapper, func)
        except AttributeError:
            pass
        if is_async:
            _mark_coroutine_function(wrapper, func)
        if extra.get("async_dead_letter"):  # operations toolkit (issue 7)
            from .dead_letters import with_async_dead_letters

            wrapper = with_async_dead_letters(wrapper, func)
        total_timeout = extra.get("total_timeout")
        if total_timeout is not None and is_async:
            wrapper = _with_total_timeout(wrapper, func, total_timeout)
        wrap = getattr(hooks.get("observer"), "wrap_callable", None)  # e.g. OpenTelemetry spans
        if wrap is not None:
            wrapper = wrap(wrapper, is_async, name)
        return wrapper  # type: ignore[no-any-return]

    return decorate


def _with_attempt_timeout(func: Any, seconds: float) -> Any:
    """Bound each attempt with asyncio.wait_for (its TimeoutError is retryable)."""
    _check_seconds("attempt_timeout", seconds)

    @functools.wraps(func)
    async def attempt(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.wait_for(func(*args, **kwargs), seconds)

    return attempt


def _with_total_timeout(wrapper: Any, func: Any, seconds: float) -> Any:
    """Bound a whole async call, a hanging attempt included (retry_with_timeout)."""

    @functools.wraps(func)
    async def bounded(*args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.wait_for(wrapper(*args, **kwargs), seconds)
        except RetryTimeoutError:
            raise
        except asyncio.TimeoutError as exc:
            raise RetryTimeoutError(timeout=seconds, elapsed=seconds) from exc

    bounded.retry_spec = wrapper.retry_spec  # type: ignore[attr-defined]
    return bounded


def _check_seconds(param: str, value: Any) -> None:
    from .exceptions import InvalidConfigurationError

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{param} must be a number of seconds, got {value!r}")
    if not (is_finite_number(value) and value > 0):
        raise InvalidConfigurationError(f"{param} must be a finite number > 0, got {value!r}",
                                        parameter=param, value=value)


def _decorator(
    is_async: bool,
    policy: Any = None,
    max_attempts: Optional[int] = None,
    delay: Optional[float] = None,
    backoff_multiplier: Optional[float] = None,
    max_delay: Optional[float] = None,
    exceptions: Optional[ExceptionTypes] = None,
    on_retry: Optional[Callable[[Any], Any]] = None,
    timeout: Optional[float] = None,
    retry_condition: Optional[Callable[..., Any]] = None,
    strategy: Optional[RetryStrategy] = None,
    *,
    non_retryable_exceptions: Optional[ExceptionTypes] = None,
    retry_on_result: Optional[Callable[[Any], Any]] = None,
    delay_hint: Optional[Callable[[BaseException], Optional[float]]] = None,
    reraise: Optional[bool] = None,
    sleep: Optional[Callable[[float], Any]] = None,
    clock: Optional[Callable[[], float]] = None,
    circuit_breaker: Any = None,
    budget: Any = None,
    on_give_up: Optional[Callable[[Any, BaseException], Any]] = None,
    fallback: Any = _MISSING,
    fallback_factory: Optional[Callable[[BaseException], Any]] = None,
    name: Optional[str] = None,
    attempt_timeout: Optional[float] = None,
    total_timeout: Optional[float] = None,
    metrics: Any = None,
    event_handler: Any = None,
    **ops: Any,
) -> Any:
    func = None
    if callable(policy) and not isinstance(policy, RetryPolicy) and not _is_custom_policy(policy):
        func, policy = policy, None  # bare @retry
    # operations toolkit (issue 7): dead letters are a per-decoration hook
    dead_letter = ops.pop("dead_letter", None)
    dead_letter_metadata = ops.pop("dead_letter_metadata", None)
    pol = build_policy(
        policy, max_attempts=max_attempts, delay=delay, backoff_multiplier=backoff_multiplier,
        max_delay=max_delay, exceptions=exceptions, non_retryable_exceptions=non_retryable_exceptions,
        timeout=timeout, retry_condition=retry_condition, strategy=strategy,
        retry_on_result=retry_on_result, delay_hint=delay_hint, reraise=reraise,
        circuit_breaker=circuit_breaker, budget=budget, metrics=metrics, **ops,
    )
    hooks = dict(on_retry=on_retry, on_give_up=on_give_up, sleep=sleep, clock=clock,
                 fallback=fallback, fallback_factory=fallback_factory, name=name)
    if pol.circuit_breaker is not None:  # observability (issue 6): log its transitions
        from .logs import watch_breaker

        watch_breaker(pol.circuit_breaker)
    if event_handler is not None:  # observability (issue 6)
        from .events import EventDispatcher

        hooks["observer"] = EventDispatcher.for_handlers(event_handler, breaker=pol.circuit_breaker,
                                                         budget=pol.budget)
    for key in ("on_retry", "on_give_up", "sleep", "clock", "fallback_factory"):
        _optional_callable(key, hooks[key])
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str or None, got {name!r}")
    if total_timeout is not None:
        _check_seconds("total_timeout", total_timeout)
    if attempt_timeout is not None:
        _check_seconds("attempt_timeout", attempt_timeout)
    extra = {"attempt_timeout": attempt_timeout, "total_timeout": total_timeout}
    if dead_letter is not None or dead_letter_metadata is not None:
        from .dead_letters import DeadLetterHook, is_async_handler

        if dead_letter is None:
            raise TypeError("dead_letter_metadata needs a dead_letter handler")
        hooks["on_give_up"] = DeadLetterHook(dead_letter, dead_letter_metadata, on_give_up,
                                             getattr(pol, "metrics", None))
        if is_async_handler(dead_letter):
            if not is_async:
                raise TypeError(f"dead_letter {dead_letter!r} is async: use it with async_retry")
            extra["async_dead_letter"] = True
    deco = _make_decorator(is_async, pol, hooks, extra)
    return deco(func) if func is not None else deco


def retry(policy: Any = None, max_attempts: Optional[int] = None, delay: Optional[float] = None,
          backoff_multiplier: Optional[float] = None, max_delay: Optional[float] = None,
          exceptions: Optional[ExceptionTypes] = None, on_retry: Optional[Callable[[Any], Any]] = None,
          timeout: Optional[float] = None, retry_condition: Optional[Callable[..., Any]] = None,
          strategy: Optional[RetryStrategy] = None, **options: Any) -> Any:
    """Retry a synchronous callable (seed 004's parameters; see README for ``options``).

    ``policy`` (RetryPolicy or preset name), ``max_attempts`` (every call, the first
    included), ``delay`` (base delay), ``backoff_multiplier``, ``max_delay``,
    ``exceptions`` (retryable types), ``on_retry(RetryAttempt)``, ``timeout`` (total
    seconds), ``retry_condition(exc, attempt) -> bool | seconds``, ``strategy``.
    Options: ``non_retryable_exceptions``, ``retry_on_result``, ``delay_hint``, ``reraise``,
    ``sleep``, ``clock``, ``circuit_breaker``, ``budget``, ``on_give_up``, ``fallback``,
    ``fallback_factory``, ``name``, ``metrics`` (RetryMetrics), ``event_handler``
    (RetryEventHandler or a list of them). Usable bare (``@retry``) or called (``@retry(...)``).
    """
    return _decorator(False, policy, max_attempts, delay, backoff_multiplier, max_delay,
                      exceptions, on_retry, timeout, retry_condition, strategy, **options)


def async_retry(policy: Any = None, max_attempts: Optional[int] = None, delay: Optional[float] = None,
                backoff_multiplier: Optional[float] = None, max_delay: Optional[float] = None,
                exceptions: Optional[ExceptionTypes] = None,
                on_retry: Optional[Callable[[Any], Any]] = None, timeout: Optional[float] = None,
                retry_condition: Optional[Callable[..., Any]] = None,
                strategy: Optional[RetryStrategy] = None, **options: Any) -> Any:
    """Retry an async callable; same parameters as :func:`retry`, plus
    ``attempt_timeout`` (bound each attempt) and ``total_timeout`` (bound the whole call,
    a hanging attempt included). ``on_retry`` and ``sleep`` may be async."""
    return _decorator(True, policy, max_attempts, delay, backoff_multiplier, max_delay,
                      exceptions, on_retry, timeout, retry_condition, strategy, **options)


def _auto(policy_name: str, max_attempts: Optional[int], base_delay: Optional[float],
          max_delay: Optional[float], options: dict) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        target = func.__func__ if isinstance(func, (classmethod, staticmethod)) else func
        deco = async_retry if _is_async_callable(target) else retry
        return deco(policy_name, max_attempts=max_attempts, delay=base_delay,  # type: ignore[no-any-return]
                    max_delay=max_delay, **options)(func)

    return decorate


def network_retry(max_attempts: Optional[int] = None, base_delay: Optional[float] = None,
                  max_delay: Optional[float] = None, **options: Any) -> Callable[[F], F]:
    """:class:`NetworkRetryPolicy` for a sync or async function."""
    return _auto("network", max_attempts, base_delay, max_delay, options)


def database_retry(max_attempts: Optional[int] = None, base_delay: Optional[float] = None,
                   max_delay: Optional[float] = None, **options: Any) -> Callable[[F], F]:
    """:class:`DatabaseRetryPolicy` for a sync or async function."""
    return _auto("database", max_attempts, base_delay, max_delay, options)


def quick_retry(max_attempts: Optional[int] = None, base_delay: Optional[float] = None,
                max_delay: Optional[float] = None, **options: Any) -> Callable[[F], F]:
    """:class:`QuickRetryPolicy` for a sync or async function."""
    return _auto("quick", max_attempts, base_delay, max_delay, options)


def retry_with_fallback(fallback_value: Any = None, max_attempts: Optional[int] = None,
                        base_delay: Optional[float] = None, *, policy: Any = None,
                        **options: Any) -> Callable[[F], F]:
    """Return ``fallback_value`` when the call finally fails (any Exception; never
    CancelledError/KeyboardInterrupt). Pass ``fallback_factory=fn(exc)`` for a fresh value
    per failure instead of a shared one."""
    def decorate(func: F) -> F:
        target = func.__func__ if isinstance(func, (classmethod, staticmethod)) else func
        deco = async_retry if _is_async_callable(target) else retry
        opts = dict(options)
        if "fallback_factory" not in opts:
            opts["fallback"] = fallback_value
        return deco(policy, max_attempts=max_attempts, delay=base_delay, **opts)(func)  # type: ignore[no-any-return]

    return decorate


def retry_with_timeout(total_timeout: float, max_attempts: Optional[int] = None,
                       base_delay: Optional[float] = None, *, policy: Any = None,
                       **options: Any) -> Callable[[F], F]:
    """Give up after ``total_timeout`` seconds with :class:`RetryTimeoutError` (also an
    ``asyncio.TimeoutError``). Async calls are bounded as a whole, a hanging attempt
    included; sync calls never start a sleep that would end past the deadline."""
    _check_seconds("total_timeout", total_timeout)

    def decorate(func: F) -> F:
        target = func.__func__ if isinstance(func, (classmethod, staticmethod)) else func
        if _is_async_callable(target):
            return async_retry(policy, max_attempts=max_attempts, delay=base_delay,  # type: ignore[no-any-return]
                               timeout=total_timeout, total_timeout=total_timeout, **options)(func)
        return retry(policy, max_attempts=max_attempts, delay=base_delay,  # type: ignore[no-any-return]
                     timeout=total_timeout, **options)(func)

    return decorate


if sys.version_info < (3, 10):  # pragma: no cover
    raise ImportError("zenoo_retry needs Python 3.10+")
