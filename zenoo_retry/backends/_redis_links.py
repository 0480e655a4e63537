"""The links between one local C object and its fleet state in Redis (used by RedisBackend).

A link does no breaker or budget logic of its own: each sync round it reads the C object's
counters (``_zr_sync_view`` / ``stats``), sends what changed since the last round to a Lua
script (``_redis_lua``), and hands the fleet's answer back to C (``_zr_adopt``). Between
rounds the C object decides alone, on its local state: that is the bounded staleness.
"""
from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, List, Optional, Tuple

from . import _redis_lua as lua

if TYPE_CHECKING:  # pragma: no cover
    from .redis_backend import RedisBackend, SyncRequest

__all__ = ["BreakerLink", "BudgetLink"]

#: keys of names nobody syncs any more expire after a day
KEY_TTL_MS = 86_400_000

_CLOSED, _OPEN, _HALF = lua.CLOSED, lua.OPEN, lua.HALF_OPEN


class _Link:
    backend: "RedisBackend"
    index: int

    @property
    def host(self) -> str:
        """This object's id in the fleet (the backend's host id, and a per-object number:
        two objects on one name in one process are two participants)."""
        return f"{self.backend.host_id}#{self.index}"


class BreakerLink(_Link):
    """Syncs one CircuitBreaker with ``<prefix>:{name}:breaker``.

    Local transitions are reported as events (a trip, a probe's verdict); fleet counters
    get the batch of successes/failures since the last round; the fleet's mode is adopted
    back, guarded by the breaker's epoch so a local transition made meanwhile is never
    overwritten (it is reported in the next round instead).
    """

    def __init__(self, backend: "RedisBackend", breaker: Any, name: str, index: int) -> None:
        cfg = breaker.config
        self.backend, self.name, self.index = backend, name, index
        self._ref = weakref.ref(breaker)
        self._key = backend.key(name, "breaker")
        self._static = [
            int(cfg["failure_threshold"]),
            int(round(float(cfg["recovery_timeout"]) * 1000)),
            float(cfg["break_multiplier"]),
            int(round(float(cfg["max_break_duration"]) * 1000)),
        ]
        view = breaker._zr_sync_view()
        self._sent = view  # counters already reported (at most once)
        self._view: Optional[Tuple[int, ...]] = None
        #: the fleet as last adopted: (mode, this host holds the probe lease, generation)
        self.fleet: Tuple[int, bool, int] = (_CLOSED, False, 0)
        self.fleet_failures = 0
        self.fleet_trips = 0
        self._adopting = False
        breaker.add_listener(self._on_transition)

    def _redis_alive(self) -> bool:
        return self._ref() is not None

    def _on_transition(self, breaker: Any, old: str, new: str) -> None:
        if not self._adopting:  # a local transition: tell the fleet now, not in a round
            self.backend.wake()

    def _event(self, mode: int) -> int:
        fmode, mine, _gen = self.fleet
        if fmode == _CLOSED and mode == _OPEN:
            return lua.EVENT_TRIPPED
        if fmode == _HALF and mine:
            if mode == _CLOSED:
                return lua.EVENT_PROBE_CLOSED
            if mode == _OPEN:
                return lua.EVENT_PROBE_FAILED
        return lua.EVENT_NONE

    def _redis_request(self) -> Optional["SyncRequest"]:
        breaker = self._ref()
        if breaker is None:
            return None
        view = breaker._zr_sync_view()
        mode, _epoch, ok, fail, consecutive, admitted, rejected, probes = view
        _, _, ok0, fail0, _, adm0, rej0, _ = self._sent
        if ok < ok0 or fail < fail0 or admitted < adm0 or rejected < rej0:
            ok0, fail0, adm0, rej0 = ok, fail, admitted, rejected  # counters went back
        n_ok, n_fail = ok - ok0, fail - fail0
        tail = min(consecutive, n_fail) if n_ok else n_fail
        want = 1 if (admitted - adm0 + rejected - rej0 > 0 or probes > 0) else 0
        self._sent = view
        self._view = view
        args: List[Any] = [self.host, n_ok, n_fail, tail, self._event(mode), self.fleet[2]]
        args += self._static
        args += [int(self._lease() * 1000), want, KEY_TTL_MS, 0]
        return ("breaker_sync", [self._key], args)

    def _lease(self) -> float:
        return max(1.0, 4 * self.backend.interval)

    def _redis_apply(self, reply: Any) -> None:
        breaker, view = self._ref(), self._view
        if breaker is None or view is None:
            return
        state, remaining_ms, gen, failures, mine, trips = (int(x) for x in reply)
        self.fleet = (state, bool(mine), gen)
        self.fleet_failures, self.fleet_trips = failures, trips
        # hosts that do not hold the probe lease stay open a little past the fleet's
        # deadline: the next round brings the fleet's decision before their own timer fires
        slack = 2 * self.backend.interval
        if state == _HALF and mine:
            mode, remaining = _HALF, 0.0
        elif state == _CLOSED:
            mode, remaining = _CLOSED, 0.0
        else:
            mode, remaining = _OPEN, remaining_ms / 1000.0 + slack
        self._adopting = True
        try:
            breaker._zr_adopt(mode, remaining, view[1])
        finally:
            self._adopting = False

    def _redis_failed(self) -> None:
        self._view = None  # keep going on local state; nothing to adopt

    def __repr__(self) -> str:
        return f"<BreakerLink {self.name!r} host={self.host!r} fleet={self.fleet}>"


class BudgetLink(_Link):
    """Syncs one token-bucket RetryBudget with ``<prefix>:{name}:budget``.

    The fleet's bucket refills on the server's clock and is handed out in allocations: each
    round a host sends the tokens it spent (granted - returned), its unspent allocation goes
    back to the pool, and it takes its new allocation as its local level, with its local
    refill paused until the next round (N hosts never refill N times). Spending is sent
    again after a failed round (at least once: a lost reply can only make the fleet
    stricter).
    """

    def __init__(self, backend: "RedisBackend", budget: Any, name: str, index: int) -> None:
        st = budget.stats()
        if st["mode"] != "token":
            raise TypeError(
                "only token-bucket budgets (RetryBudget(capacity, refill_rate)) can be shared "
                f"on Redis; {budget!r} is a ratio budget (share it in shared memory instead)")
        self.backend, self.name, self.index = backend, name, index
        self._ref = weakref.ref(budget)
        self._keys = [backend.key(name, k) for k in ("budget", "hosts", "alloc")]
        self._static = [float(st["capacity"]), float(st["refill_rate"])]
        self._sent = self._prev = (int(st["granted"]), int(st["returned"]))
        self._seen: Optional[Tuple[int, int]] = None
        #: as of the last round: this host's allocation, the unallocated pool, live hosts
        self.allocation: Optional[float] = None
        self.pool: Optional[float] = None
        self.live_hosts = 0

    def _redis_alive(self) -> bool:
        return self._ref() is not None

    def _redis_request(self) -> Optional["SyncRequest"]:
        budget = self._ref()
        if budget is None:
            return None
        st = budget.stats()
        g, r = int(st["granted"]), int(st["returned"])
        g0, r0 = self._sent
        if g < g0 or r < r0:  # reset() zeroed the totals
            g0, r0 = g, r
        spent = (g - g0) - (r - r0)
        self._prev, self._sent = (g0, r0), (g, r)
        self._seen = (g, r)
        live_ms = int(max(1.0, 8 * self.backend.interval) * 1000)
        args = self._static + [spent, self.host, live_ms, KEY_TTL_MS, 0]
        return ("budget_sync", self._keys, args)

    def _redis_apply(self, reply: Any) -> None:
        budget, seen = self._ref(), self._seen
        if budget is None or seen is None:
            return
        give, hosts, pool = float(reply[0]), int(reply[1]), float(reply[2])
        self.allocation, self.live_hosts, self.pool = give, hosts, pool
        budget._zr_adopt(give, seen[0], seen[1], 1.5 * self.backend.interval)

    def _redis_failed(self) -> None:
        self._seen = None
        self._sent = self._prev  # send this round's spending again next time

    def __repr__(self) -> str:
        return f"<BudgetLink {self.name!r} host={self.host!r} allocation={self.allocation}>"
