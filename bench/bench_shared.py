"""One breaker for every process on the host (shared memory), side by side in one run.

1. Success path (closed breaker, empty function): a direct call, zenoo_retry's in-process
   breaker, the same breaker with ``shared="name"`` (state in a shared-memory segment, every
   call takes the segment's robust mutex twice), pybreaker in memory, and - when a
   redis-server can be started - the Redis-shared breaker rows of bench_redis.redis_rows.
   Target: the shared-memory breaker <= 1.5x the in-process one.
2. The same for ``@retry(budget=...)``: in-process token bucket vs a shared one.
3. Propagation: a process trips the shared breaker; how long until a second process (its
   own interpreter, same segment name) sees it open? Distribution over many trials.
   Target: <= 1 ms.

Run: ``python bench/run.py shared [calls]``. Segments go to a temporary directory.
"""
from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Tuple

from common import measure, table

HERE = os.path.dirname(os.path.abspath(__file__))


def best_of(cands: Dict[str, Callable[[], object]], number: int, batches: int = 40
            ) -> Dict[str, float]:
    """ns/call per candidate: the fastest of `batches` interleaved short batches of
    number // 10 calls (rotating order). On a loaded machine preemption only ever adds
    time, so the fastest batch is the stable estimate of each candidate's own cost."""
    import gc

    names = list(cands)
    size = max(1000, number // 10)
    best = {k: float("inf") for k in names}
    measure(cands, number=size, rounds=1)  # warm-up
    enabled = gc.isenabled()
    gc.disable()
    try:
        for b in range(batches):
            for k in names[b % len(names):] + names[: b % len(names)]:
                fn = cands[k]
                t0 = time.perf_counter_ns()
                for _ in range(size):
                    fn()
                best[k] = min(best[k], (time.perf_counter_ns() - t0) / size)
    finally:
        if enabled:
            gc.enable()
    return best


# --- rows other backends add to the same run ---------------------------------------------

def other_rows(fn: Callable[[], object]
               ) -> Tuple[Dict[str, Callable[[], object]], List[Callable[[], None]], str]:
    """Candidates from other sharing backends for the success-path table, measured in the
    same run as the shared-memory breaker: (candidates, cleanups, note). Today: the
    zenoo_retry breaker shared on Redis (bench_redis.redis_rows, needs redis-server and
    redis-py; pybreaker's Redis storage is left to bench_redis: a round trip per call)."""
    cands: Dict[str, Callable[[], object]] = {}
    cleanups: List[Callable[[], None]] = []
    if os.environ.get("ZR_BENCH_NO_REDIS") == "1":
        return cands, cleanups, "(Redis row skipped: ZR_BENCH_NO_REDIS=1)"
    try:
        sys.path.insert(0, os.path.join(HERE, "..", "tests"))
        import redis  # noqa: F401
        from bench_redis import redis_rows
        from redis_server import REDIS_SERVER, RedisServer
    except ImportError as exc:
        return cands, cleanups, f"(Redis row skipped: {exc})"
    if not os.access(REDIS_SERVER, os.X_OK):
        return cands, cleanups, "(Redis row skipped: redis-server is not installed)"
    server = RedisServer(binary=REDIS_SERVER).start()
    cleanups.append(server.close)
    rows, close = redis_rows(fn, server.port)
    cleanups.insert(0, close)
    for name, cand in rows.items():
        if "pybreaker" not in name:
            cands[name] = cand
    return cands, cleanups, ""


# --- 1 and 2: success paths ---------------------------------------------------------------

def success_path(number: int) -> str:
    import zenoo_retry

    def work():
        return 1

    local = zenoo_retry.CircuitBreaker(failure_threshold=5, recovery_timeout=30.0)
    shm = zenoo_retry.CircuitBreaker(failure_threshold=5, recovery_timeout=30.0,
                                     shared="bench-success")
    cands: Dict[str, Callable[[], object]] = {
        "direct call": work,
        "zenoo_retry breaker, in-process": local(work),
        "zenoo_retry breaker, shared memory": shm(work),
    }
    try:
        import pybreaker

        cands["pybreaker, in memory"] = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)(work)
    except ImportError:  # pragma: no cover
        pass
    extra, cleanups, note = other_rows(work)
    cands.update(extra)
    try:
        res = best_of(cands, number)
    finally:
        for fn in cleanups:
            fn()
    targets = {"zenoo_retry breaker, shared memory": (1.5, "in-process breaker")}
    for name in extra:
        if "Redis" in name:
            targets[name] = (2.0, "in-process breaker")
    out = table("Closed breaker shared by every process (shared memory), success path "
                "(empty function)", res, "zenoo_retry breaker, in-process", targets)
    return out + (f"\n{note}\n" if note else "") + (
        "\nns/call: the fastest of 40 interleaved batches per candidate (the machine is shared; "
        "preemption only adds time). A closed shared breaker's success path takes no lock: "
        "atomic loads of the epoch, the mode and the failure run, and two atomic adds on "
        "counters in the segment (folded into the state under the lock later); any failure, "
        "trip or probe takes the segment's robust mutex.\n")


def budget_path(number: int) -> str:
    import zenoo_retry
    from zenoo_retry.budget import RetryBudget

    def work():
        return 1

    local = RetryBudget(capacity=100, refill_rate=10)
    shm = RetryBudget(capacity=100, refill_rate=10, shared="bench-budget")
    cands = {
        "direct call": work,
        "@retry(budget=in-process bucket)": zenoo_retry.retry(
            max_attempts=3, delay=0, budget=local)(work),
        "@retry(budget=shared-memory bucket)": zenoo_retry.retry(
            max_attempts=3, delay=0, budget=shm)(work),
    }
    res = best_of(cands, number)
    return table("Retry budget shared by every process (shared memory), success path", res,
                 "@retry(budget=in-process bucket)",
                 {"@retry(budget=shared-memory bucket)": (1.5, "in-process bucket")})


# --- 3: propagation -------------------------------------------------------------------------

_PEER = r"""
import sys, time
from zenoo_retry import CircuitBreaker
cb = CircuitBreaker(failure_threshold=1, recovery_timeout=3600.0, shared=sys.argv[1])
for line in sys.stdin:
    while cb.state != "closed":   # the trial starts from a closed breaker
        pass
    print("ready", flush=True)
    while cb.state == "closed":   # the next call after the trip sees it
        pass
    print(repr(time.monotonic()), flush=True)
"""


def propagation(trials: int = 300) -> str:
    from zenoo_retry import CircuitBreaker

    name = f"bench-prop-{os.getpid()}"
    cb = CircuitBreaker(failure_threshold=1, recovery_timeout=3600.0, shared=name)
    env = dict(os.environ)
    peer = subprocess.Popen([sys.executable, "-c", _PEER, name], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    delays: List[float] = []
    rng = random.Random(5)
    try:
        assert peer.stdin is not None and peer.stdout is not None
        for _ in range(trials):
            cb.reset()
            peer.stdin.write("go\n")
            peer.stdin.flush()
            assert peer.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 0.002))  # trip at a random moment of its loop
            t0 = time.monotonic()
            cb.record_failure()  # trips: open for everyone
            seen = float(peer.stdout.readline())
            delays.append(seen - t0)
    finally:
        if peer.stdin:
            peer.stdin.close()
        peer.wait(timeout=10)
    delays.sort()

    def pct(p: float) -> float:
        return delays[min(len(delays) - 1, int(p * len(delays)))]

    us = [d * 1e6 for d in (delays[0], statistics.median(delays), pct(0.9), pct(0.99),
                            delays[-1])]
    verdict = "**met**" if pct(0.99) <= 1e-3 else "**missed**"
    return (
        "### A trip seen by another process (shared memory)\n\n"
        "Process A trips the breaker (`record_failure()`); process B (its own interpreter, "
        "same segment name) polls `breaker.state` in a loop and stamps the moment it reads "
        f"'open' (CLOCK_MONOTONIC in both). {trials} trials.\n\n"
        "| min | p50 | p90 | p99 | max | target |\n|---:|---:|---:|---:|---:|---|\n"
        f"| {us[0]:.1f} µs | {us[1]:.1f} µs | {us[2]:.1f} µs | {us[3]:.1f} µs | {us[4]:.1f} µs "
        f"| p99 ≤ 1 ms: {verdict} |\n\n"
        "The state is one cache line away: B sees the trip on its next call. What the "
        "distribution shows beyond a microsecond is the scheduler (2 cores shared with other "
        "work here), not the sharing.\n")


def main(extra: List[str]) -> str:
    number = int(extra[0]) if extra else 200_000
    with tempfile.TemporaryDirectory(prefix="zr-bench-shm-") as tmp:
        old = os.environ.get("ZENOO_RETRY_SHM_DIR")
        os.environ["ZENOO_RETRY_SHM_DIR"] = os.path.join(tmp, "segments")
        try:
            parts = [success_path(number), budget_path(number), propagation()]
        finally:
            if old is None:
                os.environ.pop("ZENOO_RETRY_SHM_DIR", None)
            else:
                os.environ["ZENOO_RETRY_SHM_DIR"] = old
    return "\n".join(parts)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    print(main(sys.argv[1:]))
