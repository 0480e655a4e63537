"""A breaker and a budget shared across hosts on Redis, side by side in one run.

1. Success path (closed breaker, empty function): a direct call, zenoo_retry's in-process
   breaker, the same breaker shared through RedisBackend (its background sync running),
   pybreaker in memory and pybreaker with its Redis storage (CircuitRedisStorage: a Redis
   round trip per call). Target: the Redis-shared breaker <= 2x the in-process one.
2. Success path of @retry(budget=...): in-process token bucket vs the Redis-shared one.
3. Propagation: a breaker trips in this process; how long until a second process (its own
   client and backend, same name) refuses calls? Target: <= the configured staleness.

A redis-server is started on 127.0.0.1 (a free port) for the run.
Run: `python bench/run.py redis [calls]`.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Tuple

from common import measure, table

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

STALENESS = 0.1  # the backend's default


def redis_rows(fn: Callable[[], object], port: int, staleness: float = STALENESS
               ) -> Tuple[Dict[str, Callable[[], object]], Callable[[], None]]:
    """Candidates for a success-path table, to measure in the caller's own `measure` run:
    ``fn`` through a zenoo_retry breaker shared on the Redis at 127.0.0.1:``port`` (sync
    running in the background) and through pybreaker with CircuitRedisStorage. Returns
    (candidates, close) - call close() after measuring."""
    import redis

    from zenoo_retry.backends import RedisBackend

    backend = RedisBackend(redis.Redis(host="127.0.0.1", port=port), staleness=staleness,
                           prefix="bench")
    shared = backend.circuit_breaker("bench-success", failure_threshold=5, recovery_timeout=30)
    cands: Dict[str, Callable[[], object]] = {
        f"zenoo_retry breaker on Redis (staleness {staleness * 1000:g} ms)": shared(fn)}
    try:
        import pybreaker

        client = redis.Redis(host="127.0.0.1", port=port)
        storage = pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, client,
                                                namespace="bench-pybreaker")
        cands["pybreaker + CircuitRedisStorage"] = pybreaker.CircuitBreaker(
            fail_max=5, reset_timeout=30, state_storage=storage)(fn)
    except ImportError:  # pragma: no cover
        pass
    wait_rounds(backend, 1)

    def close() -> None:
        backend.close()

    return cands, close


def best_of(cands: Dict[str, Callable[[], object]], number: int, repeats: int = 3,
            rounds: int = 7) -> Dict[str, float]:
    """Per candidate, the lowest of `repeats` interleaved `measure` medians: on a loaded
    machine noise only ever adds time, so the minimum is the steadier estimate."""
    runs = [measure(cands, number=number, rounds=rounds) for _ in range(repeats)]
    return {k: min(r[k] for r in runs) for k in cands}


def wait_rounds(backend, n: int, timeout: float = 10.0) -> None:
    start, deadline = backend.rounds, time.monotonic() + timeout
    while backend.rounds < start + n and time.monotonic() < deadline:
        time.sleep(0.001)


def success_path(port: int, number: int) -> str:
    import zenoo_retry

    def work():
        return 1

    local = zenoo_retry.CircuitBreaker(failure_threshold=5, recovery_timeout=30.0)
    cands: Dict[str, Callable[[], object]] = {"direct call": work,
                                              "zenoo_retry breaker, in-process": local(work)}
    extra, close = redis_rows(work, port)
    name_redis = next(iter(extra))
    cands[name_redis] = extra.pop(name_redis)
    try:
        import pybreaker

        cands["pybreaker, in memory"] = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)(work)
    except ImportError:  # pragma: no cover
        pass
    pyb = dict(extra)
    try:
        fast = best_of(cands, number)
        # a Redis round trip per call: far fewer calls are enough
        slow = measure({**pyb, "direct call": work}, number=max(200, number // 100), rounds=3)
    finally:
        close()
    res = dict(fast)
    for k, v in slow.items():
        if k != "direct call":
            res[k] = v
    out = table("Closed breaker shared on Redis, success path (empty function)", res,
                "zenoo_retry breaker, in-process",
                {name_redis: (2.0, "in-process breaker")})
    return out + ("\nns/call: lowest of 3 interleaved medians of 7 rounds. pybreaker with "
                  "Redis storage is timed over fewer calls (each one is a Redis round trip). "
                  "The Redis-shared breaker runs the in-process breaker's C path: any gap "
                  "between those two rows is the background sync thread and machine noise.\n")


def budget_path(port: int, number: int) -> str:
    import redis

    import zenoo_retry
    from zenoo_retry.backends import RedisBackend
    from zenoo_retry.budget import RetryBudget

    def work():
        return 1

    backend = RedisBackend(redis.Redis(host="127.0.0.1", port=port), prefix="bench")
    shared = backend.retry_budget("bench-budget", capacity=100, refill_rate=10)
    local = RetryBudget(capacity=100, refill_rate=10)
    cands = {
        "direct call": work,
        "@retry(budget=in-process bucket)": zenoo_retry.retry(
            max_attempts=3, delay=0, budget=local)(work),
        "@retry(budget=bucket on Redis)": zenoo_retry.retry(
            max_attempts=3, delay=0, budget=shared)(work),
    }
    wait_rounds(backend, 1)
    try:
        res = best_of(cands, number)
    finally:
        backend.close()
    return table("Retry budget shared on Redis, success path", res,
                 "@retry(budget=in-process bucket)",
                 {"@retry(budget=bucket on Redis)": (2.0, "in-process bucket")})


_PEER = r"""
import sys, time, redis
from zenoo_retry.backends import RedisBackend
port, staleness = int(sys.argv[1]), float(sys.argv[2])
b = RedisBackend(redis.Redis(host="127.0.0.1", port=port), staleness=staleness, prefix="bench")
for line in sys.stdin:
    cb = b.circuit_breaker(line.strip(), failure_threshold=1, recovery_timeout=60)
    n = b.rounds
    while b.rounds < n + 2:
        time.sleep(0.001)
    print("ready", flush=True)
    while cb.state == "closed":
        time.sleep(0.0001)
    print(repr(time.monotonic()), flush=True)
"""


def propagation(port: int, trials: int = 30, staleness: float = STALENESS) -> str:
    import redis

    from zenoo_retry.backends import RedisBackend

    peer = subprocess.Popen([sys.executable, "-c", _PEER, str(port), str(staleness)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    backend = RedisBackend(redis.Redis(host="127.0.0.1", port=port), staleness=staleness,
                           prefix="bench")
    delays: List[float] = []
    try:
        for i in range(trials):
            name = f"prop-{os.getpid()}-{i}"
            cb = backend.circuit_breaker(name, failure_threshold=1, recovery_timeout=60)
            assert peer.stdin is not None and peer.stdout is not None
            peer.stdin.write(name + "\n")
            peer.stdin.flush()
            assert peer.stdout.readline().strip() == "ready"
            wait_rounds(backend, 1)
            time.sleep((i % 10) * staleness / 20)  # trip at varied points of the sync cycle
            t0 = time.monotonic()
            try:
                cb.call(_boom)
            except ConnectionError:
                pass
            seen = float(peer.stdout.readline())
            delays.append(seen - t0)
    finally:
        backend.close()
        if peer.stdin:
            peer.stdin.close()
        peer.wait(timeout=10)
    delays.sort()
    med, worst = statistics.median(delays), delays[-1]
    p95 = delays[min(len(delays) - 1, int(0.95 * len(delays)))]
    verdict = "**met**" if worst <= staleness else "**missed**"
    return (
        "### A trip seen by another process (own client and backend, same Redis)\n\n"
        f"| staleness | trials | median | p95 | worst | target: worst ≤ staleness |\n"
        f"|---:|---:|---:|---:|---:|---|\n"
        f"| {staleness * 1000:g} ms | {len(delays)} | {med * 1000:.1f} ms | {p95 * 1000:.1f} ms "
        f"| {worst * 1000:.1f} ms | {verdict} |\n"
    )


def _boom():
    raise ConnectionError("down")


def main(extra: List[str]) -> str:
    number = int(extra[0]) if extra else 200_000
    try:
        from redis_server import RedisServer
        import redis  # noqa: F401
    except ImportError as exc:  # pragma: no cover
        return f"(bench_redis skipped: {exc})\n"
    from redis_server import REDIS_SERVER

    if not os.access(REDIS_SERVER, os.X_OK):
        return "(bench_redis skipped: redis-server is not installed; run scripts/bootstrap.sh)\n"
    server = RedisServer(binary=REDIS_SERVER).start()
    try:
        parts = [success_path(server.port, number), budget_path(server.port, number),
                 propagation(server.port)]
    finally:
        server.close()
    return "\n".join(parts)


if __name__ == "__main__":
    print(main(sys.argv[1:]))
