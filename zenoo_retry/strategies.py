"""Delay strategies: how long to wait between attempts.

Every strategy is a :class:`zenoo_retry._core.Backoff`, so delays are computed in C with
the strategy's own seedable generator. The classes here only translate seed-004 style
parameters (``jitter=True, jitter_type="full"``) into the engine's configuration.

``max_attempts`` counts every call, the first included; ``get_delay(n)`` is the wait
after attempt ``n`` (1-based) failed.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, Optional

from ._core import Backoff
from .exceptions import InvalidConfigurationError

__all__ = [
    "RetryStrategy",
    "ExponentialBackoffStrategy",
    "LinearBackoffStrategy",
    "FixedDelayStrategy",
    "FibonacciBackoffStrategy",
    "CustomBackoffStrategy",
    "WithJitter",
    "JITTER_TYPES",
    "replace_strategy",
    "AdaptiveStrategy",
]

#: Jitter names accepted by ``jitter_type`` ("decorr" is seed 004's spelling).
JITTER_TYPES = ("none", "full", "equal", "decorrelated", "decorr", "proportional", "additive")


def _jitter_kind(jitter: object, jitter_type: object) -> object:
    if not isinstance(jitter, bool):
        raise TypeError(f"jitter must be a bool, got {jitter!r}")
    # checked even when jitter is off: a typo must not wait until someone turns it on
    if not isinstance(jitter_type, str):
        raise TypeError(f"jitter_type must be a str, got {jitter_type!r}")
    if jitter_type not in JITTER_TYPES:
        raise InvalidConfigurationError(
            f"jitter_type must be one of {', '.join(map(repr, JITTER_TYPES))}, got {jitter_type!r}",
            parameter="jitter_type", value=jitter_type)
    return jitter_type if jitter else "none"


class RetryStrategy(Backoff):
    """Base class of the strategies. Subclasses call ``super().__init__`` with engine
    field names; errors are re-raised under the subclass's own parameter names."""

    #: engine field name -> this class's parameter name, for error messages
    _param_names: Dict[str, str] = {"jitter": "jitter_type"}

    def __init__(self, schedule: str = "exponential", **fields: Any) -> None:
        try:
            super().__init__(schedule, **fields)
        except InvalidConfigurationError as exc:
            name = self._param_names.get(exc.parameter)
            if name is None:
                raise
            msg = str(exc).replace(exc.parameter, name, 1)
            raise InvalidConfigurationError(msg, parameter=name, value=exc.value) from None

    @property
    def jitter(self) -> bool:
        """True when the strategy randomises its delays."""
        return self.jitter_kind != "none"

    def should_retry(self, attempt: int) -> bool:
        """True if another attempt may follow attempt ``attempt`` (1-based)."""
        return attempt < self.max_attempts

    def iter_delays(self) -> Iterator[float]:
        """Yield the waits of one call's retry sequence (``max_attempts - 1`` values)."""
        prev: Optional[float] = None
        for n in range(1, self.max_attempts):
            prev = self.get_delay(n, prev)
            yield prev

    def total_delay(self) -> float:
        """Worst-case total wait of one call (jitter off: the exact sum of raw delays)."""
        return sum(self.raw_delay(n) for n in range(1, self.max_attempts))

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{k}={getattr(self, k)!r}"
            for k in ("max_attempts", "base_delay", "max_delay", "jitter_kind")
        )
        return f"{type(self).__name__}({fields})"


_RENAMED = {"base_delay": "delay", "multiplier": "backoff_multiplier"}


def replace_strategy(strategy: Backoff, **changes: Any) -> RetryStrategy:
    """A copy of ``strategy`` with some fields changed (``max_attempts``, ``base_delay``,
    ``multiplier``, ``max_delay``, ``increment``, ``jitter``, ``jitter_factor``, ``seed``).

    Used by the decorators' ``max_attempts=`` / ``delay=`` / ``backoff_multiplier=`` /
    ``max_delay=`` overrides; errors name those decorator parameters. A stateful strategy
    (one that learns, like :class:`AdaptiveStrategy`) cannot be copied: configure it
    directly instead.
    """
    if not isinstance(strategy, Backoff):
        raise TypeError(f"strategy must be a retry strategy, got {strategy!r}")
    if hasattr(strategy, "_zr_record"):
        raise InvalidConfigurationError(
            f"strategy {strategy!r} keeps state and cannot take overrides "
            f"({', '.join(sorted(changes))}); set them on the strategy itself",
            parameter=next(iter(changes), "strategy"),
            value=strategy,
        )
    fields: Dict[str, Any] = dict(
        max_attempts=strategy.max_attempts,
        base_delay=strategy.base_delay,
        increment=strategy.increment,
        multiplier=strategy.multiplier,
        max_delay=strategy.max_delay,
        jitter=strategy.jitter_kind,
        jitter_factor=strategy.jitter_factor,
        custom=strategy.custom,
    )
    fields.update(changes)
    # a raised max_delay below an unchanged base delay would silently cap it: keep the cap
    # at least the base delay when only the base delay changed
    if "base_delay" in changes and "max_delay" not in changes and isinstance(changes["base_delay"], (int, float)):
        fields["max_delay"] = max(fields["max_delay"], changes["base_delay"])
    try:
        return RetryStrategy(strategy.schedule, **fields)
    except (InvalidConfigurationError, TypeError) as exc:
        param = getattr(exc, "parameter", None) or str(exc).split(" ", 1)[0]
        public = _RENAMED.get(param)
        if public is None:
            raise
        msg = str(exc).replace(param, public, 1)
        if isinstance(exc, InvalidConfigurationError):
            raise InvalidConfigurationError(msg, parameter=public, value=exc.value) from None
        raise TypeError(msg) from None


class ExponentialBackoffStrategy(RetryStrategy):
    """``base_delay * multiplier**(n-1)``, capped at ``max_delay``, with jitter.

    >>> ExponentialBackoffStrategy(max_attempts=6, jitter=False).delays()
    [1.0, 2.0, 4.0, 8.0, 16.0]
    """

    def __init__(
        self,
        max_attempts: int = 3,
        base_delay: float = 1.0,
        multiplier: float = 2.0,
        max_delay: float = 60.0,
        jitter: bool = True,
        jitter_type: str = "full",
        *,
        jitter_factor: float = 0.3,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__(
            "exponential",
            max_attempts=max_attempts,
            base_delay=base_delay,
            multiplier=multiplier,
            max_delay=max_delay,
            jitter=_jitter_kind(jitter, jitter_type),
            jitter_factor=jitter_factor,
            seed=seed,
        )


class LinearBackoffStrategy(RetryStrategy):
    """``base_delay + increment*(n-1)``, capped at ``max_delay``.

    >>> LinearBackoffStrategy(max_attempts=6, base_delay=2, increment=3, jitter=False).delays()
    [2.0, 5.0, 8.0, 11.0, 14.0]
    """

    def __init__(
        self,
        max_attempts: int = 3,
        base_delay: float = 1.0,
        increment: float = 1.0,
        max_delay: float = 60.0,
        jitter: bool = True,
        jitter_type: str = "full",
        *,
        jitter_factor: float = 0.3,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__(
            "linear",
            max_attempts=max_attempts,
            base_delay=base_delay,
            increment=increment,
            max_delay=max_delay,
            jitter=_jitter_kind(jitter, jitter_type),
            jitter_factor=jitter_factor,
            seed=seed,
        )


class FixedDelayStrategy(RetryStrategy):
    """The same ``delay`` before every retry (good for rate-limited APIs).

    ``max_delay`` defaults to ``2 * delay`` so proportional/additive jitter has room.
    """

    _param_names = {"jitter": "jitter_type", "base_delay": "delay"}

    def __init__(
        self,
        max_attempts: int = 3,
        delay: float = 1.0,
        jitter: bool = False,
        jitter_type: str = "full",
        *,
        max_delay: Optional[float] = None,
        jitter_factor: float = 0.3,
        seed: Optional[int] = None,
    ) -> None:
        if max_delay is None:
            max_delay = delay * 2 if isinstance(delay, (int, float)) and delay > 0 else 0.0
        super().__init__(
            "fixed",
            max_attempts=max_attempts,
            base_delay=delay,
            max_delay=max_delay,
            jitter=_jitter_kind(jitter, jitter_type),
            jitter_factor=jitter_factor,
            seed=seed,
        )

    @property
    def delay(self) -> float:
        return self.base_delay


class FibonacciBackoffStrategy(RetryStrategy):
    """``base_delay * F(n)`` with F = 1, 1, 2, 3, 5, 8, ... (seed 002), capped."""

    def __init__(
        self,
        max_attempts: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        jitter: bool = True,
        jitter_type: str = "full",
        *,
        jitter_factor: float = 0.3,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__(
            "fibonacci",
            max_attempts=max_attempts,
            base_delay=base_delay,
            max_delay=max_delay,
            jitter=_jitter_kind(jitter, jitter_type),
            jitter_factor=jitter_factor,
            seed=seed,
        )


class CustomBackoffStrategy(RetryStrategy):
    """Delays from ``func(attempt, base_delay) -> seconds`` (seed 002's ``CustomBackoff``).

    The result is validated (a number >= 0), jittered if asked, and capped at ``max_delay``.
    """

    def __init__(
        self,
        func: Callable[[int, float], float],
        max_attempts: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        jitter: bool = False,
        jitter_type: str = "full",
        *,
        jitter_factor: float = 0.3,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__(
            "custom",
            max_attempts=max_attempts,
            base_delay=base_delay,
            max_delay=max_delay,
            jitter=_jitter_kind(jitter, jitter_type),
            jitter_factor=jitter_factor,
            seed=seed,
            custom=func,
        )

    @property
    def func(self) -> Callable[[int, float], float]:
        return self.custom  # type: ignore[no-any-return]


class WithJitter(RetryStrategy):
    """Add jitter to any strategy (seed 003's ``WithJitter(policy, 0.3)``).

    ``WithJitter(ExponentialBackoffStrategy(jitter=False), 0.3)`` waits
    ``d * (1 ± 0.3)``; ``kind`` may be any jitter name ("proportional" by default).
    The wrapped strategy's schedule and limits are kept; ``inner`` is the original.
    """

    def __init__(
        self,
        inner: Backoff,
        factor: float = 0.3,
        kind: str = "proportional",
        *,
        seed: Optional[int] = None,
    ) -> None:
        if not isinstance(inner, Backoff):
            raise TypeError(f"inner must be a strategy, got {inner!r}")
        super().__init__(
            inner.schedule,
            max_attempts=inner.max_attempts,
            base_delay=inner.base_delay,
            increment=inner.increment,
            multiplier=inner.multiplier,
            max_delay=inner.max_delay,
            jitter=kind,
            jitter_factor=factor,
            seed=seed,
            custom=inner.custom,
        )
        self.inner = inner

    _param_names = {"jitter": "kind", "jitter_factor": "factor"}


# retry budgets and adaptive strategy (issue 4): seed 004 imports AdaptiveStrategy from
# the strategies module; it lives in adaptive.py (imported last: it subclasses RetryStrategy)
from .adaptive import AdaptiveStrategy  # noqa: E402
