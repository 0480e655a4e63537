"""Named retry managers (seed 002's ``RetryManagerPool``).

::

    pool = RetryManagerPool()          # breakers: CircuitBreaker(name=...) per manager
    rows = pool.get_manager("database").execute(db.fetch_reviews, hotel_id)
    page = await pool.get_manager("http").execute_async(client.get, url)

    @pool.get_manager("s3").decorate
    def upload(key, data): ...

A :class:`RetryManager` is one name bound to one policy, one circuit breaker, one
budget, one metrics object and one dead-letter handler: every call through it (``execute``,
``execute_async``, functions it decorated) shares them, so a breaker opened by one caller
protects all of them. The pool creates the four seed-002 managers on first use -
``database``, ``http``, ``s3``, ``cache`` (policies ``RetryPolicies.database_config`` ...
``cache_config``; ``http`` and ``s3`` honour ``Retry-After``; a breaker from ``breaker_factory`` - by default
``CircuitBreaker(name=name)``: 5 failures open it for 30 s - for all but ``cache``) - and
holds the ones you :meth:`~RetryManagerPool.register`.

``metrics`` (a :class:`~zenoo_retry.metrics.RetryMetrics`) becomes the policy's metrics, so
every call through the manager is counted under the manager's name (dead letters too).
"""
from __future__ import annotations

import collections
import inspect
import threading
from typing import Any, Callable, Dict, List, Optional

from .exceptions import InvalidConfigurationError

__all__ = ["RetryManager", "RetryManagerPool", "DEFAULT_MANAGERS"]


def _default_policies() -> Dict[str, Callable[[], Any]]:
    from .policies import RetryPolicies

    return {
        "database": RetryPolicies.database_config,
        "http": RetryPolicies.http_config,
        "s3": RetryPolicies.s3_config,
        "cache": RetryPolicies.cache_config,
    }


#: Seed 002's managers: name -> whether it gets a circuit breaker.
DEFAULT_MANAGERS: Dict[str, bool] = {"database": True, "http": True, "s3": True, "cache": False}
#: Managers that talk HTTP honour the server's Retry-After (capped at the policy's max_delay).
_HONOUR_RETRY_AFTER = frozenset({"http", "s3"})

_CACHE_SIZE = 256


def _build_policy_accepts(option: str) -> bool:
    from . import decorators

    return option in inspect.signature(decorators.build_policy).parameters


class RetryManager:
    """One named retry configuration shared by every call made through it.

    ``policy`` (RetryPolicy, preset name or custom policy; default: every ``Exception``,
    exponential backoff), ``circuit_breaker``, ``budget``, ``metrics``, ``dead_letter`` /
    ``dead_letter_metadata``, and any other decorator option (``max_attempts``,
    ``retryable_errors``, ``respect_retry_after``, ``timeout``, ...).
    """

    def __init__(self, name: str, policy: Any = None, *, circuit_breaker: Any = None, budget: Any = None,
                 metrics: Any = None, dead_letter: Optional[Callable[..., Any]] = None,
                 dead_letter_metadata: Optional[Dict[str, Any]] = None, **options: Any) -> None:
        from .decorators import build_policy

        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str, got {name!r}")
        self.name = name
        shared = {k: v for k, v in options.items() if k not in _HOOK_OPTIONS}
        if metrics is not None and _build_policy_accepts("metrics"):
            shared["metrics"] = metrics  # counted in C by the observability layer
        self.policy = build_policy(policy, circuit_breaker=circuit_breaker, budget=budget, **shared)
        self.circuit_breaker = circuit_breaker
        self.budget = budget
        self.metrics = metrics
        hooks = {k: v for k, v in options.items() if k in _HOOK_OPTIONS}
        if dead_letter is not None:
            hooks["dead_letter"] = dead_letter
        if dead_letter_metadata is not None:
            hooks["dead_letter_metadata"] = {"manager": name, **dead_letter_metadata}
        elif dead_letter is not None:
            hooks["dead_letter_metadata"] = {"manager": name}
        self._hooks = hooks
        from .decorators import retry

        retry(self.policy, name=name, **hooks)  # validate the hooks now, not on first call
        self._wrapped: "collections.OrderedDict[Any, Any]" = collections.OrderedDict()
        self._lock = threading.Lock()

    def decorate(self, func: Any = None, *, name: Optional[str] = None) -> Any:
        """Decorate a sync or async function with this manager's configuration
        (``@manager.decorate`` or ``@manager.decorate(name="fetch")``). Calls are reported
        under ``name`` (default: the manager's name)."""
        from .decorators import _is_async_callable, async_retry, retry

        def wrap(f: Any) -> Any:
            target = f.__func__ if isinstance(f, (classmethod, staticmethod)) else f
            deco = async_retry if _is_async_callable(target) else retry
            return deco(self.policy, name=name or self.name, **self._hooks)(f)

        return wrap(func) if func is not None else wrap

    def _for(self, fn: Any, want_async: bool) -> Any:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {fn!r}")
        key = (fn, want_async)
        try:
            hash(key)
        except TypeError:  # an unhashable callable: wrap it for this call only
            key = None
        if key is not None:
            with self._lock:
                wrapped = self._wrapped.get(key)
                if wrapped is not None:
                    self._wrapped.move_to_end(key)
                    return wrapped
        from .decorators import async_retry, retry

        wrapped = (async_retry if want_async else retry)(self.policy, name=self.name, **self._hooks)(fn)
        if key is None:
            return wrapped
        with self._lock:
            self._wrapped[key] = wrapped
            while len(self._wrapped) > _CACHE_SIZE:
                self._wrapped.popitem(last=False)
        return wrapped

    def execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn(*args, **kwargs)`` with retries (sync)."""
        from .decorators import _is_async_callable

        if _is_async_callable(fn):
            raise TypeError(f"{fn!r} is async: use await manager.execute_async(...)")
        return self._for(fn, False)(*args, **kwargs)

    async def execute_async(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Await ``fn(*args, **kwargs)`` with retries (``fn`` returns an awaitable)."""
        return await self._for(fn, True)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"RetryManager(name={self.name!r}, policy={self.policy!r}, breaker={self.circuit_breaker!r})"


#: decorator options that are per-decoration hooks rather than policy fields
_HOOK_OPTIONS = frozenset({"on_retry", "on_give_up", "sleep", "clock", "fallback", "fallback_factory",
                           "attempt_timeout", "total_timeout", "dead_letter", "dead_letter_metadata"})


def _default_breaker(name: str) -> Any:
    """Seed 002's managers have a breaker: seed 004's defaults (5 failures, 30 s)."""
    from .circuit_breaker import CircuitBreaker

    return CircuitBreaker(name=name)


class RetryManagerPool:
    """Managers by name: ``database``, ``http``, ``s3``, ``cache`` on first use, plus the
    ones you register. Thread-safe; each name maps to one manager for the pool's life.

    ``breaker_factory(name)`` makes the breaker of a default manager that has one (and of
    a registered one with ``circuit_breaker=True``); the default makes a
    :class:`~zenoo_retry.circuit_breaker.CircuitBreaker` named after the manager, ``None``
    turns breakers off. ``metrics`` and ``dead_letter`` are given to every manager the pool
    creates.
    """

    def __init__(self, *, breaker_factory: Optional[Callable[[str], Any]] = _default_breaker, metrics: Any = None,
                 dead_letter: Optional[Callable[..., Any]] = None) -> None:
        if breaker_factory is not None and not callable(breaker_factory):
            raise TypeError(f"breaker_factory must be callable(name) or None, got {breaker_factory!r}")
        if dead_letter is not None and not callable(dead_letter):
            raise TypeError(f"dead_letter must be callable or None, got {dead_letter!r}")
        self.breaker_factory = breaker_factory
        self.metrics = metrics
        self.dead_letter = dead_letter
        self._managers: Dict[str, RetryManager] = {}
        self._lock = threading.Lock()

    def _breaker(self, name: str, wanted: Any) -> Any:
        if wanted is True:
            if self.breaker_factory is None:
                raise InvalidConfigurationError(
                    f"circuit_breaker=True for {name!r} needs the pool's breaker_factory",
                    parameter="circuit_breaker", value=True)
            return self.breaker_factory(name)
        if wanted is False:
            return None
        return wanted

    def register(self, name: str, policy: Any = None, *, circuit_breaker: Any = None, replace: bool = False,
                 **options: Any) -> RetryManager:
        """Create the manager ``name`` (``circuit_breaker``: a breaker, True for one from
        ``breaker_factory``, or None); other arguments as :class:`RetryManager`. Raises if
        the name exists, unless ``replace=True``."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str, got {name!r}")
        options.setdefault("metrics", self.metrics)
        options.setdefault("dead_letter", self.dead_letter)
        with self._lock:
            if name in self._managers and not replace:
                raise InvalidConfigurationError(f"a manager named {name!r} already exists (pass replace=True)",
                                                parameter="name", value=name)
            manager = RetryManager(name, policy, circuit_breaker=self._breaker(name, circuit_breaker), **options)
            self._managers[name] = manager
        return manager

    def get_manager(self, name: str) -> RetryManager:
        """The manager ``name``, creating a default one (database/http/s3/cache) on first use."""
        manager = self._managers.get(name)
        if manager is not None:
            return manager
        defaults = _default_policies()
        with self._lock:
            manager = self._managers.get(name)
            if manager is not None:
                return manager
            if name not in defaults:
                known = sorted(set(self._managers) | set(defaults))
                raise InvalidConfigurationError(
                    f"name must be a registered manager or one of the defaults ({', '.join(known)}), got {name!r}",
                    parameter="name", value=name)
            breaker = self.breaker_factory(name) if DEFAULT_MANAGERS[name] and self.breaker_factory else None
            manager = RetryManager(name, defaults[name](), circuit_breaker=breaker, metrics=self.metrics,
                                   dead_letter=self.dead_letter,
                                   respect_retry_after=name in _HONOUR_RETRY_AFTER)
            self._managers[name] = manager
        return manager

    __getitem__ = get_manager

    def __contains__(self, name: object) -> bool:
        return name in self._managers

    def names(self) -> List[str]:
        """Names of the managers created so far."""
        return sorted(self._managers)

    def close(self) -> None:
        """Forget every manager (seed 002's ``Close``; breakers are left to their owners)."""
        with self._lock:
            self._managers.clear()

    def __enter__(self) -> "RetryManagerPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RetryManagerPool(managers={self.names()})"
