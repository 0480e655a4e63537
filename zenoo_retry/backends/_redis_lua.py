"""Server-side Lua scripts of the Redis backend: every fleet-wide transition, done atomically.

Each script runs in one ``EVALSHA`` (Redis executes a script alone, so a read-modify-write is
atomic across every host), reads the time from the server (``TIME``: one clock for the
fleet, hosts' clocks never matter) and returns the authoritative state for the caller's
local cache. ``ARGV`` ``now_ms`` > 0 replaces the server clock: the tests use it to drive
time exactly; the backend always passes 0.

Key layout, per name (the ``{...}`` hash tag keeps a name's keys in one cluster slot)::

    <prefix>:{<name>}:breaker   hash  state failures until gen holder lease trips brk
    <prefix>:{<name>}:budget    hash  pool ts held spent
    <prefix>:{<name>}:hosts     zset  host id -> last sync (ms): the budget's live hosts
    <prefix>:{<name>}:alloc     hash  host id -> tokens allocated to that host

Breaker states: 0 closed, 1 open, 2 half-open (the C breaker's numbering). ``gen`` counts
transitions (and probe-lease grants), so a host's report about "the half-open period I was
granted" can never apply to a later one. In half-open, exactly one host at a time holds the
probe lease (``holder``, until ``lease``): only that host lets probe calls through, so the
fleet probes as gently as one process would; a holder that vanishes loses the lease when it
expires and another host takes over.
"""
from __future__ import annotations

import hashlib
from typing import Dict

__all__ = ["BREAKER_SYNC", "BUDGET_SYNC", "SCRIPTS", "sha1", "EVENT_NONE", "EVENT_TRIPPED",
           "EVENT_PROBE_CLOSED", "EVENT_PROBE_FAILED", "CLOSED", "OPEN", "HALF_OPEN"]

CLOSED, OPEN, HALF_OPEN = 0, 1, 2

#: what the host's local breaker did since its last sync (ARGV[5] of BREAKER_SYNC)
EVENT_NONE = 0
EVENT_TRIPPED = 1       # closed -> open on this host's own failures
EVENT_PROBE_CLOSED = 2  # this host's probes succeeded: half-open -> closed
EVENT_PROBE_FAILED = 3  # this host's probe failed: half-open -> open

_NOW = """
local now = tonumber(ARGV[#ARGV])
if now <= 0 then
  if redis.replicate_commands then pcall(redis.replicate_commands) end
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

#: BREAKER_SYNC: apply one host's batch of outcomes, then the time-driven transitions.
#: KEYS[1] breaker hash.
#: ARGV: 1 host id, 2 successes, 3 failures, 4 tail (failures after the batch's last
#: success), 5 event (EVENT_*), 6 gen the event refers to, 7 failure_threshold (fleet-wide
#: consecutive failures that trip; 0: rule off), 8 recovery_ms (first break),
#: 9 break multiplier (each re-trip from half-open), 10 max_break_ms, 11 lease_ms,
#: 12 want_probe (1: this host has traffic to probe with), 13 key ttl_ms,
#: 14 now_ms (0: server TIME).
#: Returns {state, remaining_ms (open: until reopening; half-open: lease left), gen,
#: failures, 1 if this host holds the probe lease else 0, trips}.
BREAKER_SYNC = _NOW + """
local key, host = KEYS[1], ARGV[1]
local n_ok, n_fail, tail = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local event, base_gen = tonumber(ARGV[5]), tonumber(ARGV[6])
local threshold, recovery = tonumber(ARGV[7]), tonumber(ARGV[8])
local mult, max_break = tonumber(ARGV[9]), tonumber(ARGV[10])
local lease_ms, want_probe, ttl = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])

local f = redis.call('HMGET', key, 'state', 'failures', 'until', 'gen', 'holder', 'lease',
                     'trips', 'brk')
local state, failures = tonumber(f[1]) or 0, tonumber(f[2]) or 0
local until_ms, gen = tonumber(f[3]) or 0, tonumber(f[4]) or 0
local holder, lease, trips = f[5] or '', tonumber(f[6]) or 0, tonumber(f[7]) or 0
local brk = tonumber(f[8]) or recovery

local function trip()
  if state == 2 then brk = math.min(max_break, math.floor(brk * mult)) else brk = recovery end
  state, until_ms, failures, holder, lease = 1, now + brk, 0, '', 0
  gen, trips = gen + 1, trips + 1
end

if state == 0 then
  if n_ok > 0 then failures = tail else failures = failures + n_fail end
  if event == 1 or (threshold > 0 and failures >= threshold) then trip() end
elseif state == 2 and holder == host and gen == base_gen then
  if event == 1 or event == 3 then trip()
  elseif event == 2 then
    state, failures, holder, lease, gen = 0, 0, '', 0, gen + 1
  end
end

if state == 1 and now >= until_ms then
  state, holder, lease, gen = 2, '', 0, gen + 1
end
if state == 2 and want_probe == 1 then
  if holder == host then
    lease = now + lease_ms
  elseif holder == '' or now >= lease then
    holder, lease, gen = host, now + lease_ms, gen + 1
  end
end

redis.call('HSET', key, 'state', state, 'failures', failures, 'until', until_ms, 'gen', gen,
           'holder', holder, 'lease', lease, 'trips', trips, 'brk', brk)
redis.call('PEXPIRE', key, ttl)
local remaining = 0
if state == 1 then remaining = until_ms - now elseif state == 2 then remaining = lease - now end
if remaining < 0 then remaining = 0 end
local mine = 0
if state == 2 and holder == host and lease > now then mine = 1 end
return {state, remaining, gen, failures, mine, trips}
"""

#: BUDGET_SYNC: a token bucket shared by the fleet, refilled by server time, handed out to
#: the hosts as allocations. Each host spends only its allocation locally; at each sync its
#: unspent allocation comes back to the pool and it gets a new one: min(pool, its fair
#: share (pool + all allocations) / live hosts). So what the fleet spends never exceeds
#: what the bucket held. A host that stops syncing for the liveness window is dropped and
#: its allocation returns to the pool.
#: KEYS[1] bucket hash (pool, ts, held, spent), KEYS[2] live-hosts zset (host -> last sync
#: ms), KEYS[3] allocations hash (host -> tokens).
#: ARGV: 1 capacity, 2 refill per second, 3 tokens this host spent since its last sync
#: (granted - returned: may be negative), 4 host id, 5 liveness window ms, 6 key ttl_ms,
#: 7 now_ms (0: server TIME).
#: Returns {allocation (string), live hosts, pool left (string), total spent (string)}.
BUDGET_SYNC = _NOW + """
local cap, rate, spent = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local host, live, ttl = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local bucket, hosts, alloc = KEYS[1], KEYS[2], KEYS[3]

local f = redis.call('HMGET', bucket, 'pool', 'ts', 'held', 'spent')
local pool, ts = tonumber(f[1]) or cap, tonumber(f[2]) or now
local held, total = tonumber(f[3]) or 0, tonumber(f[4]) or 0

-- hosts silent for the liveness window: their allocations come back
local dead = redis.call('ZRANGEBYSCORE', hosts, '-inf', '(' .. (now - live))
for _, d in ipairs(dead) do
  if d ~= host then
    local a = tonumber(redis.call('HGET', alloc, d)) or 0
    pool, held = pool + a, held - a
    redis.call('HDEL', alloc, d)
    redis.call('ZREM', hosts, d)
  end
end
if now > ts then
  pool = pool + rate * (now - ts) / 1000
  ts = now
end
-- this host's allocation comes back, minus what it spent
local mine = tonumber(redis.call('HGET', alloc, host)) or 0
held = held - mine
if held < 0 then held = 0 end
pool = math.min(pool + mine - spent, cap - held)
if pool < -cap then pool = -cap end
total = total + spent

redis.call('ZADD', hosts, now, host)
local n = redis.call('ZCARD', hosts)
local give = 0
if pool > 0 then give = math.min(pool, (pool + held) / n) end
pool, held = pool - give, held + give

local sgive = string.format('%.17g', give)
redis.call('HSET', alloc, host, sgive)
redis.call('HSET', bucket, 'pool', string.format('%.17g', pool), 'ts', ts,
           'held', string.format('%.17g', held), 'spent', string.format('%.17g', total))
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ttl) end
return {sgive, n, string.format('%.17g', pool), string.format('%.17g', total)}
"""

#: every script the backend loads, by name
SCRIPTS: Dict[str, str] = {"breaker_sync": BREAKER_SYNC, "budget_sync": BUDGET_SYNC}


def sha1(script: str) -> str:
    """The SHA1 Redis names a script by (EVALSHA), computed locally: no load needed first."""
    return hashlib.sha1(script.encode("utf-8")).hexdigest()
