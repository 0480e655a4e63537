"""``zenoo-retry demo``: why retries need backoff, jitter, budgets and breakers.

Starts a flaky HTTP service on 127.0.0.1 inside this process (random 500s, a full outage
window, a rate limit answering 429 with Retry-After), then sends it the same open-loop
traffic from many concurrent clients under each policy in turn:

  no retry           every error reaches the caller
  naive retry        5 attempts, immediately (what a hand-written loop does)
  backoff + jitter   5 attempts, exponential 50 ms..1 s with full jitter, honours
                     Retry-After, 3 s deadline (zenoo_retry's @async_retry)
  + retry budget     the same, retries limited by a shared RetryBudget
  + circuit breaker  the same, every attempt through a shared CircuitBreaker

and prints, per policy, what the callers got (success rate, latency, give-ups, time to
recover after the outage) and what the *server* received per logical request - counted
by the server, so retry storms show up as load, not as a client's guess.
"""
from __future__ import annotations

import argparse
import asyncio
import contextvars
import importlib
import json
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, TextIO, Tuple

from ..decorators import async_retry
from ..exceptions import (
    BudgetExhaustedError,
    CircuitBreakerOpenError,
    MaxRetriesExceededError,
    RetryTimeoutError,
)
from ..strategies import ExponentialBackoffStrategy, FixedDelayStrategy
from .flaky_server import BUCKET, Faults, FlakyServer
from .http_client import HTTPStatusError, Pool
from .options import CLIError, non_negative_float, positive_float, positive_int

__all__ = ["add_parser", "execute", "run_demo", "POLICIES"]

#: policy key -> label, in the order they run
POLICIES: Dict[str, str] = {
    "none": "no retry",
    "naive": "naive retry",
    "backoff": "backoff + jitter",
    "budget": "+ retry budget",
    "breaker": "+ circuit breaker",
}
ATTEMPTS = 5
ATTEMPT_TIMEOUT = 1.0  # seconds, each attempt
DEADLINE = 3.0  # seconds, a whole logical request under the backoff policies
DRAIN = DEADLINE + ATTEMPT_TIMEOUT + 1.0  # wait for requests still running at the end
LEGEND: Dict[str, str] = {
    "none": "one attempt, 1 s attempt timeout",
    "naive": "5 attempts, no wait between them",
    "backoff": "5 attempts, waits 50 ms x2 up to 1 s with full jitter, Retry-After honoured, 3 s deadline",
    "budget": "backoff + jitter, retries limited by one RetryBudget.ratio() for all clients (20 % + 10/s)",
    "breaker": "+ retry budget, and every attempt through one CircuitBreaker (5 failures, 0.5 s)",
}
RETRYABLE = (HTTPStatusError, ConnectionError, asyncio.TimeoutError, TimeoutError)
#: attempts of the current logical request (a one-item list, shared with wait_for's inner task)
_ATTEMPTS: contextvars.ContextVar[List[int]] = contextvars.ContextVar("zr_demo_attempts")


# --- the optional building blocks (other parts of zenoo_retry) -------------------------
def _optional(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(f"zenoo_retry.{module}"), name)
    except (ImportError, AttributeError):
        return None


def _budget_class() -> Any:
    return _optional("budget", "RetryBudget")


def _breaker_class() -> Any:
    return _optional("circuit_breaker", "CircuitBreaker")


def make_budget() -> Any:
    """A fresh retry budget for one run: the default ratio mode (retries may add 20 % of
    the requests of the last 10 s, plus 10 retries/s)."""
    return _budget_class().ratio()


def make_breaker() -> Any:
    """A fresh circuit breaker for one run: opens after 5 failures, probes after 0.5 s."""
    return _breaker_class()(failure_threshold=5, recovery_timeout=0.5)


def available_policies() -> Tuple[List[str], List[str]]:
    """(policy keys this build can run, notes about the ones it cannot)."""
    keys, notes = ["none", "naive", "backoff"], []
    if _budget_class() is not None:
        keys.append("budget")
    else:
        notes.append("zenoo_retry.budget.RetryBudget is not in this build yet: "
                     "'+ retry budget' and '+ circuit breaker' are skipped")
    if _breaker_class() is not None and "budget" in keys:
        keys.append("breaker")
    elif _breaker_class() is None:
        notes.append("zenoo_retry.circuit_breaker.CircuitBreaker is not in this build yet: "
                     "'+ circuit breaker' is skipped")
    return keys, notes


def _retry_after(exc: BaseException) -> Optional[float]:
    return getattr(exc, "retry_after", None)


def make_call(key: str, fetch: Callable[[], Awaitable[Any]], seed: int) -> Callable[[], Awaitable[Any]]:
    """One logical request under policy ``key``, built with the real decorators."""
    if key == "none":
        async def call() -> Any:
            return await asyncio.wait_for(fetch(), ATTEMPT_TIMEOUT)
        return call
    if key == "naive":
        return async_retry(strategy=FixedDelayStrategy(max_attempts=ATTEMPTS, delay=0.0),  # type: ignore[no-any-return]
                           exceptions=RETRYABLE, attempt_timeout=ATTEMPT_TIMEOUT)(fetch)
    options: Dict[str, Any] = {}
    if key in ("budget", "breaker"):
        options["budget"] = make_budget()
    if key == "breaker":
        options["circuit_breaker"] = make_breaker()
    strategy = ExponentialBackoffStrategy(max_attempts=ATTEMPTS, base_delay=0.05, max_delay=1.0,
                                          jitter_type="full", seed=seed)
    return async_retry(strategy=strategy, exceptions=RETRYABLE, delay_hint=_retry_after,  # type: ignore[no-any-return]
                       timeout=DEADLINE, attempt_timeout=ATTEMPT_TIMEOUT, **options)(fetch)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, CircuitBreakerOpenError):
        return "breaker open"
    if isinstance(exc, BudgetExhaustedError):
        return "budget exhausted"
    if isinstance(exc, RetryTimeoutError):  # before TimeoutError: it is one
        return "deadline"
    if isinstance(exc, MaxRetriesExceededError):
        return "max attempts"
    return "error"  # no retry: the attempt's own error


# --- one run ---------------------------------------------------------------------------
@dataclass
class Config:
    duration: float = 6.0
    clients: int = 50
    rate: float = 4.0  # logical requests per second per client
    faults: Faults = field(default_factory=lambda: Faults(error_rate=0.1, latency=0.005,
                                                          outage=(2.0, 4.3), rate_limit=600.0))
    seed: int = 7
    connections: int = 100


@dataclass
class Result:
    key: str
    label: str
    records: List[Tuple[float, float, bool, str, int]]  # (start, end, ok, reason, attempts)
    unfinished: int
    server_received: int
    server_by_status: Dict[int, int]
    timeline: List[int]
    client_sent: int
    client_answers: Dict[int, int]
    client_broken: int

    # -- derived numbers ---------------------------------------------------------------
    @property
    def logical(self) -> int:
        return len(self.records) + self.unfinished

    @property
    def succeeded(self) -> int:
        return sum(1 for r in self.records if r[2])

    def give_ups(self) -> Dict[str, int]:
        out: Dict[str, int] = {}
        for r in self.records:
            if not r[2]:
                out[r[3]] = out.get(r[3], 0) + 1
        return out

    def success_rate(self) -> float:
        return self.succeeded / self.logical if self.logical else 0.0

    def success_outside(self, outage: Tuple[float, float]) -> float:
        """Success rate of the requests that began and ended outside the outage window."""
        calm = [r[2] for r in self.records if r[1] < outage[0] or r[0] >= outage[1]]
        return sum(calm) / len(calm) if calm else 0.0

    def amplification(self) -> float:
        return self.server_received / self.logical if self.logical else 0.0

    def window_amplification(self, start: float, end: float) -> float:
        """Requests the server received in [start, end) per logical request started then."""
        lo, hi = int(round(start / BUCKET)), int(round(end / BUCKET))
        received = sum(self.timeline[lo:hi])
        started = sum(1 for r in self.records if start <= r[0] < end)
        return received / started if started else 0.0

    def latency(self, p: float) -> float:
        from .plan import percentile

        lat = sorted(r[1] - r[0] for r in self.records)
        return percentile(lat, p) if lat else 0.0

    def peak_rate(self, window: float = 0.5) -> float:
        """Highest request rate the server saw over ``window`` seconds (whole BUCKETs)."""
        k = max(1, int(round(window / BUCKET)))
        sums = [sum(self.timeline[i:i + k]) for i in range(0, max(1, len(self.timeline) - k + 1))]
        return max(sums) / (k * BUCKET) if sums else 0.0

    def recovery(self, outage: Tuple[float, float], until: float, window: float = 0.5) -> Optional[float]:
        """Seconds after the outage until the callers' success ratio, over the requests
        ending in a sliding ``window``, is back to 90 % of what it was before the outage
        (None: not within ``until``)."""
        before = [r[2] for r in self.records if r[1] < outage[0]]
        if not before:
            return None
        baseline = sum(before) / len(before)
        t = outage[1]
        while t + window <= until + 1e-9:
            ends = [r[2] for r in self.records if t <= r[1] < t + window]
            if len(ends) >= 5 and sum(ends) / len(ends) >= 0.9 * baseline:
                return t - outage[1]
            t += BUCKET
        return None

    def to_json(self, cfg: Config) -> Dict[str, Any]:
        out = cfg.faults.outage
        return {
            "policy": self.key, "label": self.label, "logical_requests": self.logical,
            "succeeded": self.succeeded, "unfinished": self.unfinished, "give_ups": self.give_ups(),
            "success_rate": self.success_rate(), "server_received": self.server_received,
            "server_by_status": {str(k): v for k, v in sorted(self.server_by_status.items())},
            "amplification": self.amplification(),
            "outage_amplification": self.window_amplification(*out) if out else None,
            "peak_requests_per_second": self.peak_rate(),
            "latency_p50": self.latency(50), "latency_p99": self.latency(99),
            "success_outside_outage": self.success_outside(out) if out else None,
            "recovery_seconds": self.recovery(out, cfg.duration) if out else None,
            "client_sent": self.client_sent, "attempts": sum(r[4] for r in self.records),
            "max_attempts_seen": max((r[4] for r in self.records), default=0),
            "client_answers": {str(k): v for k, v in sorted(self.client_answers.items())},
            "client_broken": self.client_broken, "server_timeline": self.timeline,
        }


class Progress:
    """Live progress on stderr: one rewritten line on a terminal, a line a second otherwise."""

    def __init__(self, out: TextIO, quiet: bool) -> None:
        self.out = out
        self.quiet = quiet
        self.tty = hasattr(out, "isatty") and out.isatty()

    def line(self, text: str, final: bool = False) -> None:
        if self.quiet:
            return
        if self.tty:
            self.out.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.out.write(text + "\n")
        self.out.flush()


async def run_policy(key: str, server: FlakyServer, cfg: Config, progress: Progress) -> Result:
    """Drive the server with ``cfg``'s traffic under policy ``key``."""
    label = POLICIES[key]
    pool = Pool("127.0.0.1", server.port, size=cfg.connections)

    async def fetch() -> bytes:
        _ATTEMPTS.get()[0] += 1
        return await pool.get("/")

    call = make_call(key, fetch, cfg.seed)
    records: List[Tuple[float, float, bool, str, int]] = []
    tasks: set = set()
    clock = server.clock
    server.begin_phase()
    t0 = server.phase_start

    async def one() -> None:
        start = clock()
        count = [0]
        _ATTEMPTS.set(count)
        try:
            await call()
            ok, reason = True, "ok"
        except Exception as exc:  # CancelledError/KeyboardInterrupt propagate
            ok, reason = False, _reason(exc)
        records.append((start - t0, clock() - t0, ok, reason, count[0]))

    async def client(i: int) -> None:
        rng = random.Random(cfg.seed * 100003 + i)
        due = t0
        while True:
            due += rng.expovariate(cfg.rate)
            if due - t0 >= cfg.duration:
                return
            await asyncio.sleep(max(0.0, due - clock()))
            task = asyncio.ensure_future(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def report() -> None:
        tick = 1.0 if not progress.tty else 0.25
        while True:
            await asyncio.sleep(tick)
            el = clock() - t0
            started = len(records) + len(tasks)
            ok = sum(1 for r in records if r[2])
            state = "OUTAGE" if server.in_outage(el) else "      "
            progress.line(f"  {label:<18} t={el:4.1f}s  {state}  requests {started:5d}  "
                          f"ok {100.0 * ok / max(1, len(records)):5.1f}%  in flight {len(tasks):4d}  "
                          f"server received {server.stats.received:6d} "
                          f"({server.stats.received / max(1, started):.2f}x)")

    reporter = asyncio.ensure_future(report())
    try:
        await asyncio.gather(*(client(i) for i in range(cfg.clients)))
        if tasks:
            await asyncio.wait(set(tasks), timeout=DRAIN)
        unfinished = len(tasks)
        for task in list(tasks):
            task.cancel()
        if tasks:
            await asyncio.wait(set(tasks))
    finally:
        reporter.cancel()
        await pool.close()
    stats = server.stats
    res = Result(key, label, sorted(records), unfinished, stats.received, dict(stats.by_status),
                 list(stats.timeline), pool.sent, dict(pool.answers), pool.broken)
    progress.line(f"  {label:<18} done: {res.logical} requests, {100 * res.success_rate():.1f}% ok, "
                  f"server received {res.server_received} ({res.amplification():.2f}x)", final=True)
    return res


async def run_demo(cfg: Config, keys: Sequence[str], progress: Progress) -> List[Result]:
    server = FlakyServer(cfg.faults, seed=cfg.seed)
    await server.start()
    try:
        return [await run_policy(k, server, cfg, progress) for k in keys]
    finally:
        await server.close()


# --- output ----------------------------------------------------------------------------
RAMP = " .:-=+*#%@"


STEP = 0.2  # seconds per sparkline character (a whole number of BUCKETs)


def sparkline(timeline: List[int], width_s: float, scale: float) -> str:
    """One character per STEP seconds: the server's request rate on a 10-level ramp."""
    k = max(1, int(round(STEP / BUCKET)))
    step = k * BUCKET
    n = int(round(width_s / step))
    cells = []
    for i in range(n):
        rate = sum(timeline[i * k:(i + 1) * k]) / step
        level = 0 if scale <= 0 else min(len(RAMP) - 1, int(round(rate / scale * (len(RAMP) - 1))))
        cells.append(RAMP[level] if rate > 0 or level else " ")
    return "".join(cells)


def _fmt_recovery(value: Optional[float], horizon: float) -> str:
    return f"> {horizon:.1f}s" if value is None else f"{value:.1f}s"


def render(results: List[Result], cfg: Config, out: TextIO) -> None:
    f = cfg.faults
    outage = f.outage
    print("", file=out)
    print(f"zenoo_retry demo: {cfg.clients} clients x {cfg.rate:g} req/s for {cfg.duration:g}s per policy "
          f"against a service with {100 * f.error_rate:g}% errors, {1000 * f.latency:g} ms latency, "
          + (f"an outage {outage[0]:g}-{outage[1]:g}s" if outage else "no outage")
          + (f", rate limit {f.rate_limit:g} req/s (429 + Retry-After)" if f.rate_limit else ""), file=out)
    print("", file=out)
    hdr = (f"{'policy':<18} {'success':>8} {'server load':>11} {'in outage':>9} {'peak':>7} "
           f"{'p50':>7} {'p99':>7} {'give-ups':>8} {'recovery':>8}")
    print(hdr, file=out)
    print(f"{'':<18} {'':>8} {'per request':>11} {'':>9} {'req/s':>7} {'ms':>7} {'ms':>7} {'':>8} {'':>8}",
          file=out)
    for r in results:
        amp_out = f"{r.window_amplification(*outage):.2f}x" if outage else "-"
        rec = _fmt_recovery(r.recovery(outage, cfg.duration), cfg.duration - outage[1]) if outage else "-"
        print(f"{r.label:<18} {100 * r.success_rate():>7.1f}% {r.amplification():>10.2f}x {amp_out:>9} "
              f"{r.peak_rate():>7.0f} {1000 * r.latency(50):>7.1f} {1000 * r.latency(99):>7.1f} "
              f"{r.logical - r.succeeded:>8d} {rec:>8}", file=out)
    print("", file=out)
    scale = max((r.peak_rate(STEP) for r in results), default=0.0)
    print(f"requests the server received per second (each char {STEP:g} s; '@' = {scale:.0f} req/s)", file=out)
    ruler = ""
    if outage:
        n = int(round(cfg.duration / STEP))
        ruler = "".join("^" if outage[0] <= (i + 0.5) * STEP < outage[1] else " " for i in range(n))
    for r in results:
        print(f"{r.label:<18} |{sparkline(r.timeline, cfg.duration, scale)}|", file=out)
    if outage:
        print(f"{'outage':<18}  {ruler}", file=out)
    print("", file=out)
    for r in results:
        print(f"{r.label:<18} = {LEGEND[r.key]}", file=out)
    print("", file=out)
    for r in results:
        gu = r.give_ups()
        if gu:
            print(f"{r.label:<18} give-ups: " + ", ".join(f"{v} {k}" for k, v in sorted(gu.items())), file=out)
    _verdict(results, cfg, out)


def _verdict(results: List[Result], cfg: Config, out: TextIO) -> None:
    by = {r.key: r for r in results}
    outage = cfg.faults.outage
    print("", file=out)
    if "none" in by and "naive" in by and outage:
        nv = by["naive"]
        print(f"naive retry lifted success from {100 * by['none'].success_rate():.1f}% to "
              f"{100 * nv.success_rate():.1f}% but sent the dead service "
              f"{nv.window_amplification(*outage):.1f}x the requests during the outage.", file=out)
    if "backoff" in by and outage:
        b = by["backoff"]
        print(f"backoff + jitter: {100 * b.success_rate():.1f}% success at "
              f"{b.window_amplification(*outage):.2f}x load during the outage.", file=out)
    for key in ("budget", "breaker"):
        if key in by and outage:
            r = by[key]
            print(f"{r.label[2:]}: {r.window_amplification(*outage):.2f}x load during the outage, "
                  f"{100 * r.success_rate():.1f}% success, recovered "
                  f"{_fmt_recovery(r.recovery(outage, cfg.duration), cfg.duration - outage[1])} "
                  f"after it.", file=out)
    retrying = [r for r in results if r.key != "none"]
    if outage and retrying and "none" in by:
        rates = [100 * r.success_outside(outage) for r in retrying]
        print(f"outside the outage the retrying policies served {min(rates):.1f}-{max(rates):.1f}% of requests, "
              f"no retry {100 * by['none'].success_outside(outage):.1f}%.", file=out)
    print("load = requests counted by the server / logical requests sent by the callers; "
          "latency and success are what the callers saw.", file=out)


def write_plot(results: List[Result], cfg: Config, path: str) -> None:
    import matplotlib  # optional: pip install matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    k = max(1, int(round(STEP / BUCKET)))
    for r in results:
        xs, ys = [], []
        for i in range(0, len(r.timeline), k):
            xs.append((i + k / 2) * BUCKET)
            ys.append(sum(r.timeline[i:i + k]) / (k * BUCKET))
        ax.plot(xs, ys, label=r.label)
    if cfg.faults.outage:
        ax.axvspan(*cfg.faults.outage, color="red", alpha=0.1, label="outage")
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel("requests received by the server per second")
    ax.set_title("zenoo_retry demo: server load per policy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- command line ----------------------------------------------------------------------
def _outage(text: str) -> Optional[Tuple[float, float]]:
    if text.lower() in ("none", "off", "no"):
        return None
    start, sep, end = text.partition(":")
    try:
        s, e = float(start), float(end)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be START:END in seconds (e.g. 2.5:4.5) or none, got {text!r}") from None
    if not sep or not 0 <= s < e:
        raise argparse.ArgumentTypeError(f"must be START:END with 0 <= START < END, got {text!r}")
    return (s, e)


def _fraction(text: str) -> float:
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a fraction in [0, 1], got {text!r}")
    return value


def add_parser(sub: Any) -> argparse.ArgumentParser:
    d = Config()
    p = sub.add_parser(
        "demo", help="a flaky HTTP service driven under five retry policies (< 1 minute)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  zenoo-retry demo\n  zenoo-retry demo --duration 4 --outage 1:2.5 --policies none,backoff\n"
               "  zenoo-retry demo --error-rate 0.3 --plot load.png")
    p.add_argument("--duration", type=positive_float, default=d.duration, metavar="S",
                   help=f"seconds of traffic per policy (default {d.duration:g})")
    p.add_argument("--clients", type=positive_int, default=d.clients, metavar="N",
                   help=f"concurrent clients (default {d.clients})")
    p.add_argument("--rate", type=positive_float, default=d.rate, metavar="R",
                   help=f"requests per second per client, Poisson arrivals (default {d.rate:g})")
    p.add_argument("--error-rate", type=_fraction, default=d.faults.error_rate, metavar="F",
                   help=f"share of requests answered 500 (default {d.faults.error_rate:g})")
    p.add_argument("--latency", type=non_negative_float, default=d.faults.latency, metavar="S",
                   help=f"server latency in seconds (default {d.faults.latency:g})")
    p.add_argument("--outage", type=_outage, default=d.faults.outage, metavar="START:END",
                   help="full outage window, seconds into each run, or 'none' (default 2:4.3)")
    p.add_argument("--rate-limit", type=non_negative_float, default=d.faults.rate_limit, metavar="R",
                   help=f"server capacity in req/s; more gets 429 + Retry-After; 0 = none "
                        f"(default {d.faults.rate_limit:g})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"seed of traffic, errors and jitter (default {d.seed})")
    p.add_argument("--policies", default=",".join(POLICIES), metavar="LIST",
                   help="comma-separated subset of: " + ", ".join(POLICIES))
    p.add_argument("--plot", metavar="PNG", help="also write a plot of server load over time (needs matplotlib)")
    p.add_argument("--json", metavar="PATH", help="also write every number as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no live progress")
    p.set_defaults(execute=execute, subparser=p)
    return p


def execute(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    wanted = [k.strip() for k in args.policies.split(",") if k.strip()]
    bad = [k for k in wanted if k not in POLICIES]
    if bad or not wanted:
        raise CLIError(f"--policies: choose from {', '.join(POLICIES)}, got {args.policies!r}")
    if args.outage is not None and args.outage[0] >= args.duration:
        raise CLIError(f"--outage: starts at {args.outage[0]:g}s, after the {args.duration:g}s --duration")
    if args.plot:
        try:
            importlib.import_module("matplotlib")
        except ImportError:
            raise CLIError("--plot needs matplotlib: pip install matplotlib") from None
    can, notes = available_policies()
    keys = [k for k in wanted if k in can]
    for note in notes:
        print(f"note: {note}", file=err)
    if not keys:
        raise CLIError(f"--policies: none of {args.policies!r} can run in this build")
    cfg = Config(duration=args.duration, clients=args.clients, rate=args.rate, seed=args.seed,
                 faults=Faults(error_rate=args.error_rate, latency=args.latency, outage=args.outage,
                               rate_limit=args.rate_limit))
    progress = Progress(err, args.quiet)
    if not args.quiet:
        print(f"zenoo_retry demo: flaky service on 127.0.0.1, {len(keys)} policies x {cfg.duration:g}s",
              file=err)
    results = asyncio.run(run_demo(cfg, keys, progress))
    render(results, cfg, out)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"config": {"duration": cfg.duration, "clients": cfg.clients, "rate": cfg.rate,
                                  "error_rate": cfg.faults.error_rate, "latency": cfg.faults.latency,
                                  "outage": cfg.faults.outage, "rate_limit": cfg.faults.rate_limit,
                                  "seed": cfg.seed, "skipped": [k for k in wanted if k not in keys]},
                       "policies": [r.to_json(cfg) for r in results]}, fh, indent=1)
    if args.plot:
        write_plot(results, cfg, args.plot)
        print(f"plot written to {args.plot}", file=err)
    return 0
