"""Run the benchmarks side by side and print Markdown tables (ratios in one run).

    python bench/run.py              # every benchmark
    python bench/run.py retry        # only bench_retry
    python bench/run.py retry 50000  # fewer calls per round
Results are also written to bench/results.md.
"""
from __future__ import annotations

import importlib
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SUITES = ["retry", "breaker", "budget", "observability", "shared", "redis", "ops"]


def main() -> None:
    args = sys.argv[1:]
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
        out.append(mod.main(extra))
    text = "\n".join(out)
    print(text)
    with open(os.path.join(HERE, "results.md"), "w") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
