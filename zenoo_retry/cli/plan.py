"""``zenoo-retry plan``: what a retry policy will do, before it does it.

For each retry it shows the nominal delay and the p5/p50/p95/max of the delays the C
engine actually draws (``--samples`` schedules from the strategy's own generator,
seeded with ``--seed``), the cumulative waits, and the worst case of a whole call. The
numbers come from the same ``Backoff.get_delay`` the decorators use.
"""
from __future__ import annotations

import argparse
import math
import sys
from typing import Any, List, Sequence, TextIO

from ..policies import PRESETS, RetryPolicy, preset
from ..strategies import replace_strategy
from .options import add_strategy_flags, describe_strategy, fmt_seconds, policy_from_args, positive_int

__all__ = ["add_parser", "execute", "sample_schedules", "percentile"]

BAR_WIDTH = 40


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100) of an ascending sequence."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def sample_schedules(strategy: Any, samples: int, seed: int) -> List[List[float]]:
    """``samples`` retry schedules of one call each, drawn by the engine from a copy of
    ``strategy`` seeded with ``seed`` (column n-1 is the wait after attempt n)."""
    strat = replace_strategy(strategy, seed=seed)
    return [list(strat.iter_delays()) for _ in range(samples)]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "plan",
        help="print what a policy will do: delays per attempt with jitter percentiles",
        description=__doc__,
        epilog="examples:\n"
        "  zenoo-retry plan --policy network\n"
        "  zenoo-retry plan --attempts 6 --delay 0.2 --max-delay 5 --jitter equal\n"
        "  zenoo-retry plan --presets",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_strategy_flags(p, seed_help="seed of the sampled schedules (default 1)")
    p.add_argument("--samples", type=positive_int, default=10000, metavar="N",
                   help="schedules to sample for the percentiles (default 10000)")
    p.add_argument("--presets", action="store_true",
                   help="one line per preset policy instead of one detailed plan")
    p.set_defaults(execute=execute, subparser=p)
    return p


def _bar(p5: float, p50: float, p95: float, scale: float) -> str:
    """'#' up to p50, '-' from p50 to p95, ' ' after; '|' marks p5."""
    def col(v: float) -> int:
        return 0 if scale <= 0 else min(BAR_WIDTH, int(round(v / scale * BAR_WIDTH)))

    c5, c50, c95 = col(p5), col(p50), col(p95)
    cells = ["#" if i < c50 else "-" if i < c95 else " " for i in range(BAR_WIDTH)]
    if 0 < c5 < c50:
        cells[c5 - 1] = "|"
    return "".join(cells)


def render_plan(policy: RetryPolicy, samples: int, seed: int, out: TextIO) -> None:
    strategy = policy.strategy
    n_retries = strategy.max_attempts - 1
    label = f"policy {policy.name}" if policy.name else "policy"
    print(f"{label}: {describe_strategy(strategy, policy.timeout)}", file=out)
    if n_retries == 0:
        print("1 attempt: nothing is retried; worst-case wait 0s", file=out)
        return
    rows = sample_schedules(strategy, samples, seed)
    totals = sorted(sum(r) for r in rows)
    print(f"{samples} schedules sampled from the C engine (seed {seed}); seconds", file=out)
    print("", file=out)
    print("wait after attempt n failed:", file=out)
    header = f"{'n':>3} {'nominal':>9} {'p5':>9} {'p50':>9} {'p95':>9} {'max':>9} {'sum p50':>9} {'sum max':>9}"
    print(header, file=out)
    cols = [sorted(r[i] for r in rows) for i in range(n_retries)]
    stats = []
    cum50 = cummax = 0.0
    for i, col in enumerate(cols):
        p5, p50, p95, mx = percentile(col, 5), percentile(col, 50), percentile(col, 95), col[-1]
        cum50 += p50
        cummax += mx
        stats.append((p5, p50, p95))
        print(f"{i + 1:>3} {strategy.raw_delay(i + 1):>9.3f} {p5:>9.3f} "
              f"{p50:>9.3f} {p95:>9.3f} {mx:>9.3f} {cum50:>9.3f} {cummax:>9.3f}", file=out)
    print("", file=out)
    scale = max(s[2] for s in stats) or 1.0
    print(f"wait after attempt n  (# up to p50, - up to p95, | at p5; full width = {fmt_seconds(scale)})", file=out)
    for i, (p5, p50, p95) in enumerate(stats):
        print(f"{i + 1:>3} [{_bar(p5, p50, p95, scale)}] {fmt_seconds(p50)}", file=out)
    print("", file=out)
    print(f"total wait of one call: p50 {percentile(totals, 50):.3f}s, p95 {percentile(totals, 95):.3f}s, "
          f"max {totals[-1]:.3f}s of {samples} samples (nominal {strategy.total_delay():.3f}s)", file=out)
    # each wait's largest value (nominal, or the largest drawn when jitter can exceed it)
    worst = max(strategy.total_delay(), cummax)
    if policy.timeout is not None and policy.timeout < worst:
        print(f"worst case: the {fmt_seconds(policy.timeout)} timeout ends the call first "
              f"(the waits alone can reach {worst:.3f}s)", file=out)
    elif policy.timeout is not None:
        print(f"worst case: {worst:.3f}s of waiting + {strategy.max_attempts} attempts' own time, "
              f"never more than the {fmt_seconds(policy.timeout)} timeout", file=out)
    else:
        print(f"worst case: {worst:.3f}s of waiting + {strategy.max_attempts} attempts' own time (no timeout)",
              file=out)


def render_presets(samples: int, seed: int, out: TextIO) -> None:
    print(f"{'preset':<20} {'att.':>4} {'wait p50':>9} {'wait max':>9} {'timeout':>8}  schedule", file=out)
    for name in sorted(PRESETS):
        pol = preset(name)
        totals = sorted(sum(r) for r in sample_schedules(pol.strategy, samples, seed))
        print(f"{name:<20} {pol.max_attempts:>4} {percentile(totals, 50):>9.3f} {totals[-1]:>9.3f} "
              f"{fmt_seconds(pol.timeout) if pol.timeout else '-':>8}  {describe_strategy(pol.strategy)}", file=out)


def execute(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    seed = 1 if args.seed is None else args.seed
    if args.presets:
        render_presets(min(args.samples, 2000), seed, out)
        return 0
    policy = policy_from_args(args)
    render_plan(policy, args.samples, seed, out)
    return 0
