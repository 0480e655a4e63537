"""A simulated full outage: how much load do retries add when a dependency is down?

``simulate_outage`` drives the real objects - ``@retry`` wrappers, :class:`RetryBudget`,
circuit breakers - against a fake server that fails every request, on a simulated clock,
so a run is deterministic and takes well under a second of real time::

    >>> from zenoo_retry.simulation import simulate_outage
    >>> r = simulate_outage(clients=100, seconds=10)
    >>> r.calls, r.attempts, r.amplification
    (1000, 3000, 3.0)

Each of ``clients`` clients makes ``requests_per_second`` logical calls per simulated
second, spread evenly over the second, each through its own ``@retry`` wrapper with a
``max_attempts``-attempt policy. Retry sleeps are skipped (recorded, not slept) and do not
move the simulated clock, so every retry lands in the second of its call. The server
counts every attempt that reaches it. Budgets and breakers are built by factories that
receive the simulated clock (``budget=lambda clock: RetryBudget.ratio(clock=clock)``); by
default one budget / breaker is shared by all clients (one per process, as recommended),
``per_client=True`` gives each client its own.

``python -m zenoo_retry.simulation`` prints the standard table (also in the README).
"""
from __future__ import annotations

import bisect
import contextlib
import functools
import logging
import operator
import sys
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .budget import RetryBudget
from .decorators import retry
from .strategies import ExponentialBackoffStrategy

__all__ = ["OutageResult", "SimulatedClock", "simulate_outage", "standard_scenarios", "format_table"]

Factory = Callable[[Callable[[], float]], Any]


class SimulatedClock:
    """The simulation's clock: seconds that only move when the simulation moves them.

    ``read`` is the cheapest callable to hand to the objects under test (a C-level
    ``partial``, no Python frame per reading); calling the clock itself works too.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._box = [float(start)]
        self.read: Callable[[], float] = functools.partial(operator.getitem, self._box, 0)

    @property
    def now(self) -> float:
        return self._box[0]

    @now.setter
    def now(self, value: float) -> None:
        self._box[0] = float(value)

    def __call__(self) -> float:
        return self._box[0]


class ServerDown(ConnectionError):
    """What the simulated server raises for every request during the outage."""


@dataclass(frozen=True)
class OutageResult:
    """What one simulated outage produced.

    ``calls`` is the base load (logical calls, one first attempt each), ``attempts`` the
    requests that reached the server, ``per_second`` those attempts per simulated second,
    ``outcomes`` how the calls ended (exception class name -> count) and ``sleeps`` the
    retry waits that were skipped.
    """

    label: str
    clients: int
    seconds: int
    max_attempts: int
    calls: int
    attempts: int
    per_second: Tuple[int, ...]
    outcomes: Dict[str, int] = field(default_factory=dict)
    sleeps: int = 0
    #: simulated time of every attempt the server saw, in order
    attempt_times: Tuple[float, ...] = field(default=(), repr=False)
    #: when a circuit breaker first opened (breaker scenarios), else None
    trip_time: Optional[float] = None

    def attempts_after(self, t: float) -> int:
        """Attempts the server saw strictly after simulated time ``t``."""
        return len(self.attempt_times) - bisect.bisect_right(self.attempt_times, t)

    @property
    def amplification(self) -> float:
        """Server load relative to the base load (attempts / calls)."""
        return self.attempts / self.calls if self.calls else 0.0

    def attempts_between(self, start: int, stop: Optional[int] = None) -> int:
        """Attempts the server saw in simulated seconds [start, stop)."""
        return sum(self.per_second[start:stop])

    def amplification_between(self, start: int, stop: Optional[int] = None) -> float:
        """Load relative to the base load over simulated seconds [start, stop)."""
        stop = self.seconds if stop is None else stop
        base = self.calls / self.seconds * max(0, stop - start) if self.seconds else 0.0
        return self.attempts_between(start, stop) / base if base else 0.0


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < low:
        from .exceptions import InvalidConfigurationError

        raise InvalidConfigurationError(f"{name} must be >= {low}, got {value!r}", parameter=name, value=value)
    return value


@contextlib.contextmanager
def _quiet_logs() -> Any:
    """Tens of thousands of give-ups would each build a WARNING record on the
    ``zenoo_retry`` logger: silence it for the run (restored afterwards)."""
    log = logging.getLogger("zenoo_retry")
    was = log.disabled
    log.disabled = True
    try:
        yield
    finally:
        log.disabled = was


def simulate_outage(
    label: str = "no budget",
    *,
    clients: int = 1000,
    seconds: int = 30,
    max_attempts: int = 3,
    requests_per_second: int = 1,
    budget: Optional[Factory] = None,
    breaker: Optional[Factory] = None,
    per_client: bool = False,
) -> OutageResult:
    """Run one full outage and count what the server receives (see the module docs).

    ``budget`` / ``breaker`` are factories ``f(clock) -> object`` (or None); the objects
    are passed to ``@retry(budget=..., circuit_breaker=...)``.
    """
    _check_int("clients", clients, 1)
    _check_int("seconds", seconds, 1)
    _check_int("max_attempts", max_attempts, 1)
    _check_int("requests_per_second", requests_per_second, 1)
    for name, factory in (("budget", budget), ("breaker", breaker)):
        if factory is not None and not callable(factory):
            raise TypeError(f"{name} must be a factory f(clock) -> object, or None; got {factory!r}")

    sim = SimulatedClock()
    clock = sim.read
    box = sim._box
    per_second = [0] * seconds
    times: List[float] = []
    sleeps: List[float] = []

    def server() -> None:
        now = box[0]
        per_second[min(seconds - 1, int(now))] += 1
        times.append(now)
        raise ServerDown("service unavailable")

    shared_budget = budget(clock) if budget is not None and not per_client else None
    shared_breaker = breaker(clock) if breaker is not None and not per_client else None
    wrappers = []
    for i in range(clients):
        options: Dict[str, Any] = {"sleep": sleeps.append, "clock": clock}
        b = shared_budget if not per_client or budget is None else budget(clock)
        br = shared_breaker if not per_client or breaker is None else breaker(clock)
        if b is not None:
            options["budget"] = b
        if br is not None:
            options["circuit_breaker"] = br
        strategy = ExponentialBackoffStrategy(max_attempts=max_attempts, base_delay=0.1, max_delay=1.0, seed=i)
        wrappers.append(retry(strategy=strategy, **options)(server))

    outcomes: Dict[str, int] = {}
    calls = 0
    step = 1.0 / (clients * requests_per_second)
    with _quiet_logs():
        for second in range(seconds):
            for k in range(requests_per_second):
                for i, call in enumerate(wrappers):
                    box[0] = second + (k * clients + i) * step
                    calls += 1
                    try:
                        call()
                    except Exception as exc:  # every call fails: count how
                        name = type(exc).__name__
                        outcomes[name] = outcomes.get(name, 0) + 1
    return OutageResult(
        label=label,
        clients=clients,
        seconds=seconds,
        max_attempts=max_attempts,
        calls=calls,
        attempts=sum(per_second),
        per_second=tuple(per_second),
        outcomes=outcomes,
        sleeps=len(sleeps),
        attempt_times=tuple(times),
    )


def standard_scenarios(clients: int = 1000, seconds: int = 30, max_attempts: int = 3) -> List[OutageResult]:
    """The README's table: no budget, the default ratio budget, a seed-000 token bucket,
    ratio budgets per client (to show why one shared budget matters), and circuit
    breakers (alone and with a budget)."""
    common = dict(clients=clients, seconds=seconds, max_attempts=max_attempts)
    results = [
        simulate_outage("no budget", **common),
        simulate_outage(
            "RetryBudget.ratio() shared (20 % + 10/s over 10 s)",
            budget=lambda clock: RetryBudget.ratio(clock=clock),
            **common,
        ),
        simulate_outage(
            "RetryBudget(100, 10.0) shared (token bucket)",
            budget=lambda clock: RetryBudget(100, 10.0, clock=clock),
            **common,
        ),
        simulate_outage(
            "RetryBudget.ratio() per client",
            budget=lambda clock: RetryBudget.ratio(clock=clock),
            per_client=True,
            **common,
        ),
    ]
    results.extend(_breaker_scenarios(common))
    return results


def simulate_breaker_outage(
    label: str,
    *,
    failure_threshold: int = 5,
    recovery_timeout: float = 30.0,
    budget: Optional[Factory] = None,
    **common: Any,
) -> OutageResult:
    """:func:`simulate_outage` with one shared ``CircuitBreaker(failure_threshold,
    recovery_timeout)`` on the simulated clock; the result's ``trip_time`` is when it first
    opened, so ``attempts_after(trip_time)`` is the load the server still saw."""
    from .circuit_breaker import CircuitBreaker

    trips: List[float] = []

    def make(clock: Callable[[], float]) -> Any:
        def listener(breaker: Any, old: str, new: str) -> None:
            if new == "open" and not trips:
                trips.append(clock())

        return CircuitBreaker(failure_threshold, recovery_timeout, clock=clock, listeners=[listener])

    result = simulate_outage(label, breaker=make, budget=budget, **common)
    return replace(result, trip_time=trips[0] if trips else None)


def _breaker_scenarios(common: Dict[str, int]) -> List[OutageResult]:
    """Breaker rows: seed 004's defaults, a shorter break (probes during the run), and a
    breaker together with the default ratio budget."""
    try:
        from . import circuit_breaker  # noqa: F401
    except ImportError:  # pragma: no cover - breakers not built
        return []
    return [
        simulate_breaker_outage("CircuitBreaker(5, 30.0) shared", **common),
        simulate_breaker_outage("CircuitBreaker(5, 5.0) shared", recovery_timeout=5.0, **common),
        simulate_breaker_outage(
            "CircuitBreaker(5, 5.0) + RetryBudget.ratio()",
            recovery_timeout=5.0,
            budget=lambda clock: RetryBudget.ratio(clock=clock),
            **common,
        ),
    ]


def _ratio(x: float) -> str:
    return f"{x:.3f}x" if x == 0 or x >= 0.01 else f"{x:.5f}x"


def format_table(results: Sequence[OutageResult]) -> str:
    """A markdown table of results."""
    lines = [
        "| retry policy (3 attempts) | calls | server attempts | amplification | last 10 s | after the trip |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        tail = r.amplification_between(max(0, r.seconds - 10))
        trip = "—" if r.trip_time is None else f"{r.attempts_after(r.trip_time):,} (trip at {r.trip_time:.3f} s)"
        lines.append(f"| {r.label} | {r.calls:,} | {r.attempts:,} | {_ratio(r.amplification)} | {_ratio(tail)} | {trip} |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m zenoo_retry.simulation [clients] [seconds]``: print the standard table."""
    args = list(sys.argv[1:] if argv is None else argv)
    clients = int(args[0]) if args else 1000
    seconds = int(args[1]) if len(args) > 1 else 30
    results = standard_scenarios(clients=clients, seconds=seconds)
    print(f"Full outage, {clients} clients x 1 call/s for {seconds} simulated seconds:\n")
    print(format_table(results))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
