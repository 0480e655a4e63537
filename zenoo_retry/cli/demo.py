"""``zenoo-retry demo`` (interim): the delay schedules of every built-in strategy.

The live demo (a flaky HTTP service driven under five policies) replaces this shortly.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, List, TextIO

from ..strategies import (
    ExponentialBackoffStrategy,
    FibonacciBackoffStrategy,
    FixedDelayStrategy,
    LinearBackoffStrategy,
    RetryStrategy,
    WithJitter,
)


def showcase(seed: int, out: TextIO) -> None:
    rows: List[tuple] = [
        ("fixed 1s", FixedDelayStrategy(max_attempts=7, delay=1.0)),
        ("linear 2s +3s", LinearBackoffStrategy(max_attempts=7, base_delay=2, increment=3, jitter=False)),
        ("exponential 1s x2", ExponentialBackoffStrategy(max_attempts=7, jitter=False)),
        ("fibonacci 0.5s", FibonacciBackoffStrategy(max_attempts=7, base_delay=0.5, jitter=False)),
        ("exponential + full jitter", ExponentialBackoffStrategy(max_attempts=7, jitter_type="full", seed=seed)),
        ("exponential + decorrelated", ExponentialBackoffStrategy(max_attempts=7, jitter_type="decorr", seed=seed)),
        ("exponential ±30%", WithJitter(ExponentialBackoffStrategy(max_attempts=7, jitter=False), 0.3, seed=seed)),
    ]
    print("zenoo_retry: delay schedules from the C engine (seconds after attempt 1, 2, ...)", file=out)
    for name, s in rows:
        strat: RetryStrategy = s
        print(f"  {name:<28} " + "  ".join(f"{d:7.3f}" for d in strat.delays()), file=out)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("demo", help="show what zenoo_retry does", description=__doc__)
    p.add_argument("--seed", type=int, default=2024, help="seed for the jittered rows")
    p.set_defaults(execute=execute, subparser=p)
    return p


def execute(args: argparse.Namespace) -> int:
    showcase(args.seed, sys.stdout)
    return 0
