"""Side-by-side timing: every candidate is measured in the same run, interleaved, and
reported as a ratio to a baseline, so machine noise affects all of them alike."""
from __future__ import annotations

import asyncio
import gc
import statistics
import time
from typing import Callable, Dict, List, Optional, Tuple


def _time_sync(fn: Callable[[], object], n: int) -> float:
    loop = range(n)
    t0 = time.perf_counter_ns()
    for _ in loop:
        fn()
    return (time.perf_counter_ns() - t0) / n


def _time_async(loop: asyncio.AbstractEventLoop, make: Callable[[], object], n: int) -> float:
    async def batch() -> float:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            await make()
        return (time.perf_counter_ns() - t0) / n

    return loop.run_until_complete(batch())


class Results(dict):
    """Median ns/call per candidate (the dict), plus every round's sample (`samples`), so
    that ratios can be taken within a round, where both candidates ran back to back."""

    def __init__(self, medians: Dict[str, float], samples: Dict[str, List[float]]) -> None:
        super().__init__(medians)
        self.samples = samples

    def ratio(self, name: str, baseline: str) -> float:
        """Median over rounds of (candidate / baseline) in the same round; a slow spell
        of the machine during one round then affects both sides of that round's ratio."""
        a, b = self.samples.get(name), self.samples.get(baseline)
        if not a or not b or len(a) != len(b):
            return self[name] / self[baseline]
        return statistics.median(x / y for x, y in zip(a, b))


def measure(
    candidates: Dict[str, Callable[[], object]],
    *,
    number: int = 200_000,
    rounds: int = 9,
    is_async: bool = False,
) -> Results:
    """Nanoseconds per call for each candidate: the median of `rounds` interleaved rounds
    (each round times every candidate once, in a rotating order). Tables report ratios
    as the median of the per-round ratios (Results.ratio)."""
    names = list(candidates)
    samples: Dict[str, List[float]] = {k: [] for k in names}
    loop = asyncio.new_event_loop() if is_async else None
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for k in names:  # warm-up
            if loop:
                _time_async(loop, candidates[k], max(1, number // 20))
            else:
                _time_sync(candidates[k], max(1, number // 20))
        for r in range(rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            for k in order:
                if loop:
                    samples[k].append(_time_async(loop, candidates[k], number))
                else:
                    samples[k].append(_time_sync(candidates[k], number))
    finally:
        if gc_was:
            gc.enable()
        if loop:
            loop.close()
    return Results({k: statistics.median(v) for k, v in samples.items()}, samples)


#: every table built in this process: title, baseline, targets, medians, ratios and its
#: Markdown (run.py --processes merges the tables of several processes from these)
TABLES: List[dict] = []


def render(title: str, ns: Dict[str, float], ratios: Dict[str, float], baseline: str,
           targets: Optional[Dict[str, Tuple[float, str]]] = None) -> str:
    """A Markdown table of ns/call and ratio to `baseline`; `targets` marks pass/fail."""
    lines = [f"### {title}", "", "| candidate | ns/call | × " + baseline + " | target |",
             "|---|---:|---:|---|"]
    for k, v in ns.items():
        r = ratios[k]
        target = ""
        if targets and k in targets:
            limit, label = targets[k]
            target = f"≤ {limit}× {label}: " + ("**met**" if r <= limit else "**missed**")
        lines.append(f"| {k} | {v:,.0f} | {r:.2f} | {target} |")
    return "\n".join(lines) + "\n"


def table(title: str, results: Dict[str, float], baseline: str,
          targets: Optional[Dict[str, Tuple[float, str]]] = None) -> str:
    """Render `results` (ratios within rounds when they are Results) and record the table."""
    ratio = (results.ratio if isinstance(results, Results)
             else lambda k, b: results[k] / results[b])
    ns = dict(results)
    ratios = {k: ratio(k, baseline) for k in ns}
    text = render(title, ns, ratios, baseline, targets)
    TABLES.append({"title": title, "baseline": baseline, "targets": targets or {}, "ns": ns,
                   "ratios": ratios, "text": text})
    return text
