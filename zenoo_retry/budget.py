"""Retry budgets: a limit on retries shared by every call that uses the budget.

Retries without a limit turn a short outage into a retry storm: with 3 attempts per call a
dependency that fails completely receives 3x its normal load exactly when it can least
afford it. A :class:`RetryBudget` caps the extra load. Two modes, both computed in C
(``src/core/zr_budget.c``):

* **token bucket** - ``RetryBudget(capacity=100, refill_rate=10.0)`` (seed 000): each retry
  takes a token; tokens refill continuously, never above ``capacity``.
* **ratio** - ``RetryBudget.ratio(percent=0.2, min_per_second=10, window=10.0)`` (as Finagle
  and Linkerd): retries may add at most ``percent`` of the requests seen in the last
  ``window`` seconds, plus ``min_per_second`` retries per second so a quiet client can
  still retry. The window is a ring of ``buckets`` time slices.

Inside a retry policy (``@retry(budget=...)``, ``@async_retry(budget=...)``,
``RetryPolicy(budget=...)``) first attempts never spend budget, each retry spends one
token, and an empty budget ends the call with :class:`~zenoo_retry.BudgetExhaustedError`
(``__cause__`` is the last error) - or re-raises that error with ``reraise=True``.

Share one budget among all the calls to one dependency (in a process): the floor is per
budget, so one budget per call site or per client object weakens it. All methods are
thread-safe. ``clock`` (a callable returning seconds) makes tests exact and instant.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, TypeVar

from . import _core

__all__ = ["RetryBudget"]

_B = TypeVar("_B", bound="RetryBudget")


class RetryBudget(_core.RetryBudget):
    """A retry budget; the constructor makes a token bucket, :meth:`ratio` a ratio budget.

    >>> budget = RetryBudget(capacity=2, refill_rate=0.0)
    >>> budget.try_acquire(), budget.try_acquire(), budget.try_acquire()
    (True, True, False)
    >>> budget.return_tokens(1); budget.available_tokens()
    1.0

    Errors name the parameter and the value (``InvalidConfigurationError``, also a
    ``ValueError``): ``capacity`` must be a finite number in (0, 2**53], ``refill_rate`` and
    ``initial_tokens`` (default: ``capacity``) finite numbers >= 0.

    ``shared="name"`` keeps the budget in a named shared-memory segment: every process on
    the host that opens the same name with the same settings spends from one bucket (see
    :mod:`zenoo_retry.shared`).
    """

    def __init__(
        self,
        capacity: float = 100.0,
        refill_rate: float = 10.0,
        *,
        initial_tokens: Optional[float] = None,
        clock: Optional[Callable[[], float]] = None,
        shared: Optional[str] = None,
    ) -> None:
        super().__init__(
            "token",
            capacity=capacity,
            refill_rate=refill_rate,
            initial_tokens=initial_tokens,
            clock=clock,
            shared=shared,
        )

    @classmethod
    def token_bucket(
        cls: "type[_B]",
        capacity: float = 100.0,
        refill_rate: float = 10.0,
        *,
        initial_tokens: Optional[float] = None,
        clock: Optional[Callable[[], float]] = None,
        shared: Optional[str] = None,
    ) -> _B:
        """Same as the constructor, named for symmetry with :meth:`ratio`."""
        return cls(capacity, refill_rate, initial_tokens=initial_tokens, clock=clock,
                   shared=shared)

    @classmethod
    def ratio(
        cls: "type[_B]",
        percent: float = 0.2,
        min_per_second: float = 10.0,
        window: float = 10.0,
        *,
        buckets: int = 10,
        clock: Optional[Callable[[], float]] = None,
        shared: Optional[str] = None,
    ) -> _B:
        """A ratio budget: over the last ``window`` seconds, retries may number at most
        ``percent * requests + min_per_second * window``.

        ``percent`` is a fraction (0.2 = 20 %, up to 1000), ``min_per_second`` >= 0,
        ``window`` seconds in (0, 1e9], ``buckets`` time slices in [1, 64] (a slice leaves
        the window with its requests and retries once it is ``window`` seconds old).

        >>> budget = RetryBudget.ratio(percent=0.2, min_per_second=0.0, clock=lambda: 0.0)
        >>> for _ in range(10): budget.record_request()
        >>> budget.available_tokens()
        2.0
        """
        self = cls.__new__(cls)
        _core.RetryBudget.__init__(
            self,
            "ratio",
            percent=percent,
            min_per_second=min_per_second,
            window=window,
            buckets=buckets,
            clock=clock,
            shared=shared,
        )
        return self

    @property
    def tokens(self) -> float:
        """Same as :meth:`available_tokens`."""
        return self.available_tokens()

    def __reduce__(self) -> Any:  # pragma: no cover - budgets hold live state
        raise TypeError(f"cannot pickle {type(self).__name__}: it holds live counters")

    def describe(self) -> Dict[str, Any]:
        """The configuration only (no counters), e.g. for logs."""
        if self.mode == "token":
            return {"mode": "token", "capacity": self.capacity, "refill_rate": self.refill_rate}
        return {
            "mode": "ratio",
            "percent": self.percent,
            "min_per_second": self.min_per_second,
            "window": self.window,
            "buckets": self.buckets,
        }
