"""What observability costs: a direct call, @retry, @retry(metrics=...) and
@retry(event_handler=...) side by side (sync, async, and the retry path).

The target (issue 6): with metrics attached, at most 1.2x the cost of @retry without
them; with nothing attached the success path is the engine's (see bench_retry).
Run: `python bench/run.py observability [calls]`.
"""
from __future__ import annotations

import sys
from typing import List

from common import measure, table


class _CountSuccess:
    """An event handler doing the least possible work (one Python call per event)."""

    def __init__(self) -> None:
        self.n = 0

    def on_retry_success(self, attempt: object) -> None:
        self.n += 1


def sync_success(number: int) -> str:
    from zenoo_retry import RetryMetrics, retry

    def work():
        return 1

    metrics = RetryMetrics()
    cands = {
        "direct call": work,
        "@retry": retry(max_attempts=3, delay=0, exceptions=ConnectionError)(work),
        "@retry(metrics=…)": retry(max_attempts=3, delay=0, exceptions=ConnectionError, metrics=metrics)(work),
        "@retry(event_handler=…)": retry(max_attempts=3, delay=0, exceptions=ConnectionError,
                                         event_handler=_CountSuccess())(work),
    }
    res = measure(cands, number=number)
    return table("Sync success path (ratios to @retry without metrics)", res, "@retry",
                 {"@retry(metrics=…)": (1.2, "@retry")})


def async_success(number: int) -> str:
    from zenoo_retry import RetryMetrics, async_retry

    async def work():
        return 1

    metrics = RetryMetrics()
    cands = {
        "direct await": work,
        "@async_retry": async_retry(max_attempts=3, delay=0, exceptions=ConnectionError)(work),
        "@async_retry(metrics=…)": async_retry(max_attempts=3, delay=0, exceptions=ConnectionError,
                                               metrics=metrics)(work),
        "@async_retry(event_handler=…)": async_retry(max_attempts=3, delay=0, exceptions=ConnectionError,
                                                     event_handler=_CountSuccess())(work),
    }
    res = measure(cands, number=number // 2, is_async=True)
    return table("Async success path (ratios to @async_retry without metrics)", res, "@async_retry",
                 {"@async_retry(metrics=…)": (1.2, "@async_retry")})


def retry_path(number: int) -> str:
    from zenoo_retry import RetryMetrics, logs, retry

    class TwoFailures:
        def __init__(self) -> None:
            self.n = 0

        def __call__(self) -> int:
            self.n += 1
            if self.n % 3:
                raise ConnectionError
            return 1

    metrics = RetryMetrics()
    cands = {
        "@retry": retry(max_attempts=3, delay=0, exceptions=ConnectionError)(TwoFailures()),
        "@retry(metrics=…)": retry(max_attempts=3, delay=0, exceptions=ConnectionError,
                                   metrics=metrics)(TwoFailures()),
    }
    logs.uninstall()  # the logger hook is measured separately below
    try:
        res = measure(cands, number=max(1, number // 10))
    finally:
        logs.install()
    text = table("Retry path: two failures then success, zero delay (log hook off)", res, "@retry",
                 {"@retry(metrics=…)": (1.2, "@retry")})
    with_log = measure({"@retry, log hook on (logger disabled)": cands["@retry"]}, number=max(1, number // 10))
    (k, v), = with_log.items()
    return text + f"\n{k}: {v:,.0f} ns/call ({v / res['@retry']:.2f}× @retry with the hook off)\n"


def main(argv: List[str]) -> str:
    number = int(argv[0]) if argv else 200_000
    return "\n".join(["## Observability cost", sync_success(number), async_success(number), retry_path(number)])


if __name__ == "__main__":
    print(main(sys.argv[1:]))
