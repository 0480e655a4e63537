"""Retry budgets and the adaptive strategy on the success path: a direct call, @retry
without a budget, @retry with a C RetryBudget (token bucket and ratio mode, called through
RetrySpec's C fast path), @retry with a duck-typed Python budget (same protocol, bound
methods) and with a hand-written Python token bucket under a lock, and @retry with the
AdaptiveStrategy. Same run, interleaved. Run: `python bench/run.py budget`."""
from __future__ import annotations

import threading
import time
from typing import List

from common import measure, table


class PythonTokenBucket:
    """What users write by hand: a lock, a refill, a compare (the protocol RetrySpec
    accepts from any object)."""

    def __init__(self, capacity: float, refill_rate: float) -> None:
        self.capacity = capacity
        self.rate = refill_rate
        self.tokens = capacity
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def _zr_on_request(self) -> None:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
            self.last = now

    def _zr_try_retry(self) -> bool:
        with self.lock:
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


def success_path(number: int) -> str:
    import zenoo_retry
    from zenoo_retry import AdaptiveStrategy, RetryBudget

    def work():
        return 1

    def wrap(**kw):
        return zenoo_retry.retry(max_attempts=3, delay=0, exceptions=ConnectionError, **kw)(work)

    adaptive = AdaptiveStrategy(max_attempts=3, base_delay=0.0)
    cands = {
        "direct call": work,
        "@retry, no budget": wrap(),
        "@retry + RetryBudget (token)": wrap(budget=RetryBudget(100, 10.0)),
        "@retry + RetryBudget.ratio()": wrap(budget=RetryBudget.ratio()),
        "@retry + Python token bucket": wrap(budget=PythonTokenBucket(100, 10.0)),
        "@retry + AdaptiveStrategy": zenoo_retry.retry(strategy=adaptive, exceptions=ConnectionError)(work),
    }
    res = measure(cands, number=number, rounds=5)
    out = table("Success path with a retry budget", res, "direct call")
    base = res["@retry, no budget"]
    out += (f"\nA C budget adds {res['@retry + RetryBudget (token)'] - base:,.0f} ns (token) / "
            f"{res['@retry + RetryBudget.ratio()'] - base:,.0f} ns (ratio) per call to @retry; "
            f"the Python token bucket adds {res['@retry + Python token bucket'] - base:,.0f} ns; "
            f"the adaptive strategy adds {res['@retry + AdaptiveStrategy'] - base:,.0f} ns.\n")
    return out


def budget_ops(number: int) -> str:
    from zenoo_retry import RetryBudget

    token = RetryBudget(1e15, 0.0)
    ratio = RetryBudget.ratio(percent=1000.0, min_per_second=1e9)
    py = PythonTokenBucket(1e15, 0.0)
    cands = {
        "RetryBudget.try_acquire() (token)": token.try_acquire,
        "RetryBudget.try_acquire() (ratio)": ratio.try_acquire,
        "RetryBudget.record_request() (ratio)": ratio.record_request,
        "Python bucket try": py._zr_try_retry,
    }
    res = measure(cands, number=number, rounds=5)
    return table("One budget operation", res, "RetryBudget.try_acquire() (token)")


def main(extra: List[str]) -> str:
    number = int(extra[0]) if extra else 100_000
    return "## Retry budgets (issue 4)\n\n" + success_path(number) + "\n" + budget_ops(number)


if __name__ == "__main__":
    import sys

    print(main(sys.argv[1:]))
