"""AdaptiveStrategy: delays that follow the recent success rate (seed 004).

The strategy remembers the outcomes of the last ``adaptation_window`` attempts (retry
policies record every attempt for you) and derives a pressure ``p`` in [0, 1]::

    fewer than min_samples outcomes      p = 0.5                 (not enough data: cautious)
    otherwise, rate = successes / samples
                                         p = clamp((success_threshold - rate)
                                                   / success_threshold, 0, 1)

    delay(n) = min(max_delay, base_delay * (1 + 3p) * (1 + p) ** (n - 1))

``n`` is the attempt that failed (1-based). A healthy dependency (rate >= threshold) gets
``base_delay`` before every retry; as the rate falls delays grow continuously, up to
``4 * base_delay`` doubling per attempt when everything fails; they return to
``base_delay`` as soon as the window is healthy again. Optional jitter is applied on top
(seedable). The window and the formula live in C (``src/core/zr_adaptive.c``).

Share one strategy among the calls to one dependency so it learns from all of them; it is
thread-safe. It keeps state, so decorator overrides (``max_attempts=``, ``delay=`` ...)
cannot copy it: configure it directly.
"""
from __future__ import annotations

from typing import Optional

from . import _core
from .exceptions import InvalidConfigurationError
from .strategies import RetryStrategy, _jitter_kind

__all__ = ["AdaptiveStrategy"]


class AdaptiveStrategy(RetryStrategy, _core.AdaptiveBackoff):
    """Adaptive retry strategy based on success rate (seed 004's parameters and defaults).

    >>> s = AdaptiveStrategy(max_attempts=4, base_delay=1.0, min_samples=10)
    >>> s.delays()                       # no data yet: p = 0.5
    [2.5, 3.75, 5.625]
    >>> for _ in range(10): s.record_success()
    >>> s.delays()                       # healthy: base delay
    [1.0, 1.0, 1.0]
    >>> for _ in range(40): s.record_failure()
    >>> s.success_rate, [round(d, 4) for d in s.delays()]   # 10/50 = 0.2 < 0.8: p = 0.75
    (0.2, [3.25, 5.6875, 9.9531])

    ``shared="name"`` keeps the outcome window in a named shared-memory segment, so every
    process on the host adapts to the outcomes all of them saw (:mod:`zenoo_retry.shared`).
    """

    def __init__(
        self,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        success_threshold: float = 0.8,
        adaptation_window: int = 100,
        min_samples: int = 10,
        *,
        jitter: bool = False,
        jitter_type: str = "full",
        jitter_factor: float = 0.3,
        seed: Optional[int] = None,
        shared: Optional[str] = None,
    ) -> None:
        try:
            _core.AdaptiveBackoff.__init__(
                self,
                max_attempts,
                base_delay,
                max_delay,
                success_threshold,
                adaptation_window,
                min_samples,
                jitter=_jitter_kind(jitter, jitter_type),
                jitter_factor=jitter_factor,
                seed=seed,
                shared=shared,
            )
        except InvalidConfigurationError as exc:
            if exc.parameter != "jitter":
                raise
            msg = str(exc).replace("jitter", "jitter_type", 1)
            raise InvalidConfigurationError(msg, parameter="jitter_type", value=exc.value) from None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(max_attempts={self.max_attempts!r}, "
            f"base_delay={self.base_delay!r}, max_delay={self.max_delay!r}, "
            f"success_threshold={self.success_threshold!r}, "
            f"adaptation_window={self.adaptation_window!r}, min_samples={self.min_samples!r}, "
            f"success_rate={self.success_rate!r}, samples={self.samples!r})"
        )
