"""Circuit breakers on the success path (closed breaker), side by side in one run:
a direct call, zenoo_retry's breaker (decorator, .call(), `with`, inside @retry), pybreaker
and circuitbreaker. Two workloads: an empty function (pure overhead) and a small realistic
handler (~0.2 µs of work: dict building and a string method). Plus the async decorator.
Run: `python bench/run.py breaker [calls]`."""
from __future__ import annotations

import functools
import sys
from typing import Callable, Dict, List

from common import measure, table


def _competitors(fn: Callable[..., object]) -> Dict[str, Callable[..., object]]:
    out: Dict[str, Callable[..., object]] = {}
    try:
        import pybreaker

        out["pybreaker"] = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)(fn)
    except ImportError:  # pragma: no cover
        pass
    try:
        import circuitbreaker

        out["circuitbreaker"] = circuitbreaker.CircuitBreaker(
            failure_threshold=5, recovery_timeout=30)(fn)
    except ImportError:  # pragma: no cover
        pass
    return out


def _sync(title: str, fn: Callable[[], object], number: int) -> str:
    import zenoo_retry

    cb = zenoo_retry.CircuitBreaker(failure_threshold=5, recovery_timeout=30.0)
    cands: Dict[str, Callable[[], object]] = {"direct call": fn}
    # the thinnest C wrapper CPython has: what any C callable around a Python function costs
    cands["functools.partial (C floor)"] = functools.partial(fn)
    cands["zenoo_retry @breaker"] = cb(fn)
    cands["zenoo_retry @retry(circuit_breaker=)"] = zenoo_retry.retry(
        max_attempts=3, delay=0, circuit_breaker=cb)(fn)
    cands.update(_competitors(fn))
    cands["zenoo_retry breaker.call(fn) ¹"] = lambda: cb.call(fn)

    def with_block():
        with cb:
            return fn()

    cands["zenoo_retry `with breaker:` ¹"] = with_block
    res = measure(cands, number=number)
    return table(title, res, "direct call", {"zenoo_retry @breaker": (1.5, "direct call")})


def empty(number: int) -> str:
    def work():
        return 1

    return _sync("Closed breaker, empty function (pure overhead)", work, number)


def realistic(number: int) -> str:
    req = {"path": "/api/v1/partners", "method": "GET"}

    def handler():
        path = req["path"]
        return {"status": 200, "body": path.upper(), "length": len(path), "method": req["method"]}

    return _sync("Closed breaker, small realistic handler (builds a 4-key dict)", handler, number)


def async_path(number: int) -> str:
    import zenoo_retry

    async def work():
        return 1

    cb = zenoo_retry.CircuitBreaker(failure_threshold=5, recovery_timeout=30.0)
    cands: Dict[str, Callable[[], object]] = {"direct await": work, "zenoo_retry @breaker": cb(work)}
    try:
        import circuitbreaker

        cands["circuitbreaker"] = circuitbreaker.CircuitBreaker(
            failure_threshold=5, recovery_timeout=30)(work)
    except ImportError:  # pragma: no cover
        pass
    res = measure(cands, number=number // 2, is_async=True)
    return table("Closed breaker, async def", res, "direct await")


def main(argv: List[str]) -> str:
    number = int(argv[0]) if argv else 200_000
    note = ("Candidates are called directly by the timing loop (no extra layer), except "
            "those marked ¹, which need a Python function around them (`lambda: cb.call(fn)`, "
            "`def f(): with cb: return fn()`), so they include one more Python call.\n")
    return "\n".join([note, empty(number), realistic(number), async_path(number)])


if __name__ == "__main__":
    print(main(sys.argv[1:]))
