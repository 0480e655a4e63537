"""Bulk retries (seed 004): run many operations, then retry only the failed ones.

::

    bulk = BulkRetryManager(max_attempts=3, base_delay=2.0, partial_success_threshold=0.8)
    results = bulk.execute_bulk([lambda i=i: create_partner(i) for i in range(100)])
    print(len(results.successful), len(results.failed), results.threshold_met)

    results = await bulk.execute_bulk_async([lambda i=i: acreate(i) for i in range(100)])
    # or AsyncBulkRetryManager(...).execute_bulk(...), awaited, as in seed 004

Work goes in rounds: every pending operation runs (at most ``max_concurrency`` at a
time - a thread pool for sync operations, a semaphore for async ones); each failure is
judged by the C engine exactly as a decorated call would be (``RetrySpec.after_failure``:
retryable exceptions, error types, conditions, ``Retry-After``, max attempts, timeout,
budget, breaker); the ones to retry wait for the longest delay any of them was given and
run again in the next round. Successes are never repeated. ``instant_retries`` skips the
waits between rounds like every other sleep.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import time
from typing import Any, Awaitable, Callable, Iterable, List, Optional, Tuple

from . import _core
from .exceptions import InvalidConfigurationError, RetryError

__all__ = ["BulkRetryManager", "AsyncBulkRetryManager", "BulkResult", "BulkItem", "BulkThresholdError"]


class BulkItem:
    """One operation's outcome: ``index`` in the input, ``value`` (success) or ``error``
    (the last attempt's own exception) and ``final_error`` (what a decorated call would
    have raised, e.g. ``MaxRetriesExceededError``), and ``attempts`` made."""

    __slots__ = ("index", "value", "error", "final_error", "attempts")

    def __init__(self, index: int, attempts: int, value: Any = None, error: Optional[BaseException] = None,
                 final_error: Optional[BaseException] = None) -> None:
        self.index = index
        self.attempts = attempts
        self.value = value
        self.error = error
        self.final_error = final_error

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:
        if self.ok:
            return f"BulkItem(index={self.index}, value={self.value!r}, attempts={self.attempts})"
        return f"BulkItem(index={self.index}, error={self.error!r}, attempts={self.attempts})"


class BulkThresholdError(RetryError):
    """Raised by :meth:`BulkResult.raise_for_threshold` when too few operations succeeded."""

    def __init__(self, result: "BulkResult") -> None:
        super().__init__(f"{len(result.successful)} of {result.total} operations succeeded "
                         f"({result.success_ratio:.1%}), below the threshold {result.threshold:.1%}")
        self.result = result


class BulkResult:
    """``successful`` and ``failed`` (lists of :class:`BulkItem`, in input order),
    ``success_ratio``, ``threshold`` and ``threshold_met``, ``rounds`` run."""

    __slots__ = ("successful", "failed", "total", "threshold", "rounds")

    def __init__(self, successful: List[BulkItem], failed: List[BulkItem], total: int, threshold: float,
                 rounds: int) -> None:
        self.successful = successful
        self.failed = failed
        self.total = total
        self.threshold = threshold
        self.rounds = rounds

    @property
    def success_ratio(self) -> float:
        """Share of operations that succeeded (1.0 for an empty bulk)."""
        return len(self.successful) / self.total if self.total else 1.0

    @property
    def threshold_met(self) -> bool:
        return self.success_ratio >= self.threshold

    @property
    def values(self) -> List[Any]:
        """The successful values, in input order."""
        return [item.value for item in self.successful]

    def raise_for_threshold(self) -> "BulkResult":
        """Return self, or raise :class:`BulkThresholdError` below the threshold."""
        if not self.threshold_met:
            raise BulkThresholdError(self)
        return self

    def __repr__(self) -> str:
        return (f"BulkResult(successful={len(self.successful)}, failed={len(self.failed)}, "
                f"ratio={self.success_ratio:.3f}, threshold_met={self.threshold_met}, rounds={self.rounds})")


class _OpState:
    __slots__ = ("has_start", "start", "prev", "total", "attempts")

    def __init__(self, spec: Any) -> None:
        self.has_start, self.start = spec.begin()
        self.prev = -1.0
        self.total = 0.0
        self.attempts = 0


def _check_int(param: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{param} must be an int, got {value!r}")
    if value < low:
        raise InvalidConfigurationError(f"{param} must be >= {low}, got {value!r}", parameter=param, value=value)
    return value


class BulkRetryManager:
    """Run a list of zero-argument operations with retries of the failed ones.

    ``max_attempts`` (per operation, the first included), ``base_delay`` (the strategy's
    first delay), ``partial_success_threshold`` (share in [0, 1] that counts as success,
    default 1.0: all), ``max_concurrency`` (operations in flight at once), ``policy``
    (a RetryPolicy, preset name or custom policy; the three numbers override it), and any
    other decorator option (``exceptions``, ``retryable_errors``, ``respect_retry_after``,
    ``strategy``, ``timeout``, ``budget``, ``circuit_breaker``, ...); ``dead_letter``
    receives each operation that finally fails; ``sleep`` replaces the wait between rounds.
    """

    def __init__(self, max_attempts: Optional[int] = 3, base_delay: Optional[float] = 1.0,
                 partial_success_threshold: float = 1.0, *, max_concurrency: int = 10, policy: Any = None,
                 name: str = "bulk", dead_letter: Optional[Callable[..., Any]] = None,
                 sleep: Optional[Callable[[float], Any]] = None, **options: Any) -> None:
        from .decorators import build_policy

        if isinstance(partial_success_threshold, bool) or not isinstance(partial_success_threshold, (int, float)):
            raise TypeError(f"partial_success_threshold must be a number in [0, 1], got {partial_success_threshold!r}")
        if not 0.0 <= partial_success_threshold <= 1.0:
            raise InvalidConfigurationError(
                f"partial_success_threshold must be in [0, 1], got {partial_success_threshold!r}",
                parameter="partial_success_threshold", value=partial_success_threshold)
        self.max_concurrency = _check_int("max_concurrency", max_concurrency, 1)
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {name!r}")
        if sleep is not None and not callable(sleep):
            raise TypeError(f"sleep must be callable or None, got {sleep!r}")
        self.threshold = float(partial_success_threshold)
        self.policy = build_policy(policy, max_attempts=max_attempts, delay=base_delay, **options)
        on_give_up = None
        self._async_dead_letter = False
        if dead_letter is not None:
            from .dead_letters import DeadLetterHook, is_async_handler

            on_give_up = DeadLetterHook(dead_letter)
            self._async_dead_letter = is_async_handler(dead_letter)
        self.spec = self.policy.compile(name=name, on_give_up=on_give_up)
        if self.spec.has_fallback:  # pragma: no cover - build_policy takes no fallback
            raise InvalidConfigurationError("bulk retries take no fallback", parameter="fallback", value=None)
        self.name = name
        self._sleep = sleep

    @property
    def max_attempts(self) -> int:
        return self.policy.max_attempts

    # --- shared bookkeeping -------------------------------------------------------
    def _judge(self, index: int, state: _OpState, outcome: Tuple[bool, Any], successful: List[BulkItem],
               failed: List[BulkItem]) -> Optional[float]:
        """Record an attempt's outcome; the delay if the operation should run again."""
        ok, value = outcome
        if ok:
            successful.append(BulkItem(index, state.attempts, value=value))
            return None
        try:
            kind, delay = self.spec.after_failure(value, state.attempts, state.has_start, state.start,
                                                  state.prev, state.total)
        except Exception as final:
            failed.append(BulkItem(index, state.attempts, error=value, final_error=final))
            return None
        if kind != "retry":  # pragma: no cover - no fallback possible
            failed.append(BulkItem(index, state.attempts, error=value, final_error=value))
            return None
        state.prev = delay
        state.total += delay
        return float(delay)

    def _attempt_sync(self, op: Callable[[], Any], index: int) -> Tuple[bool, Any]:
        try:
            token = self.spec.enter()
        except Exception as refused:  # an open breaker ends this operation
            return False, refused
        try:
            value = op()
            if inspect.isawaitable(value):
                if inspect.iscoroutine(value):
                    value.close()
                raise TypeError(f"operations[{index}] returned an awaitable: use execute_bulk_async")
        except Exception as exc:
            self.spec.exit(token, exc)
            return False, exc
        self.spec.exit(token, None)
        return True, value

    def _wait(self, delay: float) -> None:
        if delay > 0 and not _core._skip_sleep(delay):
            (self._sleep or time.sleep)(delay)

    @staticmethod
    def _operations(operations: Iterable[Any]) -> List[Any]:
        ops = list(operations)
        for i, op in enumerate(ops):
            if not callable(op):
                raise TypeError(f"operations[{i}] must be a callable taking no arguments, got {op!r}")
        return ops

    @staticmethod
    def _result(successful: List[BulkItem], failed: List[BulkItem], total: int, threshold: float,
                rounds: int) -> BulkResult:
        successful.sort(key=lambda item: item.index)
        failed.sort(key=lambda item: item.index)
        return BulkResult(successful, failed, total, threshold, rounds)

    # --- sync -------------------------------------------------------------------------
    def execute_bulk(self, operations: Iterable[Callable[[], Any]]) -> BulkResult:
        """Run ``operations`` (sync callables) on a thread pool; see the class doc."""
        if self._async_dead_letter:
            raise TypeError("this manager's dead_letter is async: use execute_bulk_async")
        ops = self._operations(operations)
        states = [_OpState(self.spec) for _ in ops]
        successful: List[BulkItem] = []
        failed: List[BulkItem] = []
        pending = list(range(len(ops)))
        rounds = 0
        if not ops:
            return self._result(successful, failed, 0, self.threshold, 0)
        workers = min(self.max_concurrency, len(ops))
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zr-bulk") as pool:
            while pending:
                rounds += 1
                futures = [(i, pool.submit(self._attempt_sync, ops[i], i)) for i in pending]
                delays: List[Tuple[int, float]] = []
                for i, fut in futures:
                    outcome = fut.result()  # BaseException (KeyboardInterrupt...) propagates
                    states[i].attempts += 1
                    delay = self._judge(i, states[i], outcome, successful, failed)
                    if delay is not None:
                        delays.append((i, delay))
                pending = [i for i, _ in delays]
                if pending:
                    self._wait(max(d for _, d in delays))
        return self._result(successful, failed, len(ops), self.threshold, rounds)

    # --- async ------------------------------------------------------------------------
    async def execute_bulk_async(self, operations: Iterable[Callable[[], Awaitable[Any]]]) -> BulkResult:
        """Run ``operations`` (callables returning awaitables, e.g. ``lambda: client.get(u)``)
        with at most ``max_concurrency`` awaiting at once; see the class doc."""
        from .dead_letters import _PENDING

        ops = self._operations(operations)
        for i, op in enumerate(ops):
            if inspect.iscoroutine(op):  # pragma: no cover - not callable anyway
                raise TypeError(f"operations[{i}] is a coroutine; pass a callable that makes one")
        states = [_OpState(self.spec) for _ in ops]
        successful: List[BulkItem] = []
        failed: List[BulkItem] = []
        pending = list(range(len(ops)))
        rounds = 0
        gate = asyncio.Semaphore(self.max_concurrency)
        letters: List[Any] = []
        token = _PENDING.set(letters)
        try:
            while pending:
                rounds += 1
                outcomes = await asyncio.gather(*(self._attempt_async(ops[i], i, gate) for i in pending))
                delays: List[Tuple[int, float]] = []
                for i, outcome in zip(pending, outcomes):
                    states[i].attempts += 1
                    delay = self._judge(i, states[i], outcome, successful, failed)
                    if delay is not None:
                        delays.append((i, delay))
                while letters:
                    await letters.pop(0)
                pending = [i for i, _ in delays]
                if pending:
                    await self._wait_async(max(d for _, d in delays))
        finally:
            _PENDING.reset(token)
        return self._result(successful, failed, len(ops), self.threshold, rounds)

    async def _attempt_async(self, op: Callable[[], Any], index: int, gate: asyncio.Semaphore) -> Tuple[bool, Any]:
        async with gate:
            try:
                token = self.spec.enter()
            except Exception as refused:
                return False, refused
            try:
                value = op()
                if inspect.isawaitable(value):
                    value = await value
            except Exception as exc:
                self.spec.exit(token, exc)
                return False, exc
            self.spec.exit(token, None)
            return True, value

    async def _wait_async(self, delay: float) -> None:
        if delay > 0 and not _core._skip_sleep(delay):
            if self._sleep is not None:
                r = self._sleep(delay)
                if inspect.isawaitable(r):
                    await r
            else:
                await asyncio.sleep(delay)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(max_attempts={self.max_attempts}, threshold={self.threshold}, "
                f"max_concurrency={self.max_concurrency})")


class AsyncBulkRetryManager(BulkRetryManager):
    """Seed 004's shape for asyncio code: ``await manager.execute_bulk(operations)``."""

    async def execute_bulk(self, operations: Iterable[Callable[[], Awaitable[Any]]]) -> BulkResult:  # type: ignore[override]
        return await self.execute_bulk_async(operations)
