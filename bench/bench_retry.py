"""The retry engine against a direct call, a hand-written loop, tenacity, backoff and
stamina: sync success path, async success path, retry path (two failures, then success,
zero delay). Run: `make bench` (or `python bench/run.py retry`)."""
from __future__ import annotations

import functools
import sys
from typing import Dict, List

from common import measure, table


def _libs():
    libs = {}
    for name in ("tenacity", "backoff", "stamina"):
        try:
            libs[name] = __import__(name)
        except ImportError:
            libs[name] = None
    if libs["stamina"] is not None:  # no per-retry log lines in the benchmark
        libs["stamina"].instrumentation.set_on_retry_hooks([])
    import logging

    logging.getLogger("backoff").disabled = True
    return libs


def sync_success(number: int) -> str:
    import zenoo_retry

    libs = _libs()

    def work():
        return 1

    cands = {"direct call": work}

    def handwritten():
        for attempt in range(3):
            try:
                return work()
            except ConnectionError:
                if attempt == 2:
                    raise

    cands["hand-written loop"] = handwritten
    # the thinnest C wrapper CPython has: what any C callable around a Python function costs
    cands["functools.partial (C floor)"] = functools.partial(work)
    cands["zenoo_retry"] = zenoo_retry.retry(max_attempts=3, delay=0, exceptions=ConnectionError)(work)
    if libs["tenacity"]:
        t = libs["tenacity"]
        cands["tenacity"] = t.retry(stop=t.stop_after_attempt(3), retry=t.retry_if_exception_type(ConnectionError))(work)
    if libs["backoff"]:
        b = libs["backoff"]
        cands["backoff"] = b.on_exception(b.constant, ConnectionError, max_tries=3, interval=0)(work)
    if libs["stamina"]:
        s = libs["stamina"]
        cands["stamina"] = s.retry(on=ConnectionError, attempts=3, wait_initial=0, wait_max=0, wait_jitter=0)(work)
    res = measure(cands, number=number)
    return table("Sync success path", res, "direct call", {"zenoo_retry": (1.5, "direct call")})


def async_success(number: int) -> str:
    import zenoo_retry

    libs = _libs()

    async def work():
        return 1

    cands = {"direct await": work}
    cands["zenoo_retry"] = zenoo_retry.async_retry(max_attempts=3, delay=0, exceptions=ConnectionError)(work)
    if libs["tenacity"]:
        t = libs["tenacity"]
        cands["tenacity"] = t.retry(stop=t.stop_after_attempt(3), retry=t.retry_if_exception_type(ConnectionError))(work)
    if libs["backoff"]:
        b = libs["backoff"]
        cands["backoff"] = b.on_exception(b.constant, ConnectionError, max_tries=3, interval=0)(work)
    if libs["stamina"]:
        s = libs["stamina"]
        cands["stamina"] = s.retry(on=ConnectionError, attempts=3, wait_initial=0, wait_max=0, wait_jitter=0)(work)
    res = measure(cands, number=number // 2, is_async=True)
    return table("Async success path", res, "direct await", {"zenoo_retry": (1.3, "direct await")})


def retry_path(number: int) -> str:
    import zenoo_retry

    libs = _libs()
    state = [0]
    err = ConnectionError("flaky")

    def flaky():
        state[0] += 1
        if state[0] % 3:
            raise err
        return 1

    def handwritten():
        for attempt in range(3):
            try:
                return flaky()
            except ConnectionError:
                if attempt == 2:
                    raise

    cands = {"hand-written loop": handwritten}
    cands["zenoo_retry"] = zenoo_retry.retry(max_attempts=3, delay=0, exceptions=ConnectionError)(flaky)
    if libs["tenacity"]:
        t = libs["tenacity"]
        cands["tenacity"] = t.retry(stop=t.stop_after_attempt(3), retry=t.retry_if_exception_type(ConnectionError))(flaky)
    if libs["backoff"]:
        b = libs["backoff"]
        cands["backoff"] = b.on_exception(b.constant, ConnectionError, max_tries=3, interval=0, jitter=None)(flaky)
    if libs["stamina"]:
        s = libs["stamina"]
        cands["stamina"] = s.retry(on=ConnectionError, attempts=3, wait_initial=0, wait_max=0, wait_jitter=0)(flaky)
    res = measure(cands, number=number // 10)
    return table("Retry path (two failures, then success; zero delay)", res, "hand-written loop",
                 {"zenoo_retry": (1.2, "hand-written loop")})


def main(argv: List[str]) -> str:
    number = int(argv[0]) if argv else 200_000
    return "\n".join([sync_success(number), async_success(number), retry_path(number)])


if __name__ == "__main__":
    print(main(sys.argv[1:]))
