"""Run the benchmarks side by side and print Markdown tables (ratios in one run).

    python bench/run.py              # every benchmark
    python bench/run.py retry        # only bench_retry
    python bench/run.py retry 50000  # fewer calls per round
    python bench/run.py --processes 5 retry

Results are also written to bench/results.md.

The headline suites (retry, breaker) run in several fresh processes (3 by default,
--processes N or ZR_BENCH_PROCESSES): a process's memory layout moves its ratios by a few
percent, so each table reports, per candidate, the median over the processes of the
ns/call and of the within-round ratio. The other suites run once.
"""
from __future__ import annotations

import importlib
import json
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SUITES = ["retry", "breaker", "budget", "observability", "shared", "redis", "ops"]
HEADLINE = {"retry", "breaker"}


def run_child(name: str, extra: list) -> dict:
    """One suite in a fresh interpreter: its text and its tables."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", name, *extra],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def merged(runs: list) -> str:
    """The first run's text with each table replaced by the median over every run."""
    import common

    text = runs[0]["text"]
    for i, first in enumerate(runs[0]["tables"]):
        tables = [r["tables"][i] for r in runs]
        ns = {k: statistics.median(t["ns"][k] for t in tables) for k in first["ns"]}
        ratios = {k: statistics.median(t["ratios"][k] for t in tables) for k in first["ns"]}
        targets = {k: tuple(v) for k, v in first["targets"].items()}
        block = common.render(first["title"], ns, ratios, first["baseline"], targets)
        per_run = ", ".join(f"{t['ratios'][k]:.2f}" for k in targets for t in tables)
        note = (f"\n(median of {len(runs)} processes"
                + (f"; {', '.join(targets)} per process: {per_run}" if targets else "") + ")\n")
        text = text.replace(first["text"], block + note, 1)
    return text


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--child":
        import common

        text = importlib.import_module(f"bench_{args[1]}").main(args[2:])
        print(json.dumps({"text": text, "tables": common.TABLES}))
        return
    processes = int(os.environ.get("ZR_BENCH_PROCESSES", "3"))
    if "--processes" in args:
        i = args.index("--processes")
        processes = int(args[i + 1])
        del args[i:i + 2]
    chosen = [a for a in args if not a.isdigit()] or SUITES
    extra = [a for a in args if a.isdigit()]
    out = [f"Python {platform.python_version()} on {platform.machine()}, "
           f"{os.cpu_count()} cores\n"]
    for name in chosen:
        try:
            mod = importlib.import_module(f"bench_{name}")
        except ImportError as exc:
            if name in args:
                raise
            out.append(f"(bench_{name} not available: {exc})\n")
            continue
        print(f"running bench_{name} ...", file=sys.stderr, flush=True)
        if name in HEADLINE and processes > 1:
            out.append(merged([run_child(name, extra) for _ in range(processes)]))
        else:
            out.append(mod.main(extra))
    text = "\n".join(out)
    print(text)
    with open(os.path.join(HERE, "results.md"), "w") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
