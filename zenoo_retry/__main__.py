"""``python -m zenoo_retry`` / ``zenoo-retry``: the command-line entry point.

``demo`` (the default) prints real delay schedules computed by the C engine for every
built-in strategy, with and without jitter.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from .strategies import (
    ExponentialBackoffStrategy,
    FibonacciBackoffStrategy,
    FixedDelayStrategy,
    LinearBackoffStrategy,
    RetryStrategy,
    WithJitter,
)


def _fmt(delays: List[float]) -> str:
    return "  ".join(f"{d:7.3f}" for d in delays)


def showcase(seed: int = 2024, out=sys.stdout) -> None:
    rows: List[tuple[str, RetryStrategy]] = [
        ("fixed 1s", FixedDelayStrategy(max_attempts=7, delay=1.0)),
        ("linear 2s +3s (seed 004)", LinearBackoffStrategy(max_attempts=7, base_delay=2, increment=3, jitter=False)),
        ("exponential 1s x2 (seed 004)", ExponentialBackoffStrategy(max_attempts=7, jitter=False)),
        ("exponential 100ms cap 5s (seed 001)", ExponentialBackoffStrategy(max_attempts=9, base_delay=0.1, max_delay=5, jitter=False)),
        ("fibonacci 0.5s", FibonacciBackoffStrategy(max_attempts=7, base_delay=0.5, jitter=False)),
        ("exponential + full jitter", ExponentialBackoffStrategy(max_attempts=7, jitter_type="full", seed=seed)),
        ("exponential + equal jitter", ExponentialBackoffStrategy(max_attempts=7, jitter_type="equal", seed=seed)),
        ("exponential + decorrelated", ExponentialBackoffStrategy(max_attempts=7, jitter_type="decorr", seed=seed)),
        ("exponential ±30% (seed 000/003)", WithJitter(ExponentialBackoffStrategy(max_attempts=7, jitter=False), 0.3, seed=seed)),
    ]
    print("zenoo_retry: delay schedules from the C engine (seconds after attempt 1, 2, ...)", file=out)
    for name, s in rows:
        print(f"  {name:<36} {_fmt(s.delays())}", file=out)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="zenoo-retry", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="show what zenoo_retry does")
    demo.add_argument("--seed", type=int, default=2024, help="seed for the jittered rows")
    args = parser.parse_args(argv)
    showcase(seed=getattr(args, "seed", 2024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
