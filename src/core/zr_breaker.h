/*
 * zr_breaker.h - the circuit-breaker state machine.
 *
 * Two structs, on purpose:
 *   zr_breaker_config  immutable settings, validated once (zr_breaker_config_check);
 *   zr_breaker_state   every mutable byte: plain data, no pointers, one contiguous block of
 *                      zr_breaker_state_size(cfg) bytes (header + probe slots + window ring),
 *                      so it can live in private memory or, as is, in a shared-memory segment.
 * The core takes no lock: the caller serialises every call on one state (the GIL or a
 * mutex in-process, the segment's robust mutex across processes). Time is always passed in
 * (`now`, seconds on one monotonic clock), never read here.
 *
 * Modes and transitions (epoch += 1 on each, a permit from an older epoch records nothing):
 *
 *   CLOSED --(trip rule)--> OPEN --(now >= open_until, next acquire)--> HALF_OPEN
 *   HALF_OPEN --(success_threshold successes)--> CLOSED
 *   HALF_OPEN --(a failure, or a slow call when slow calls are on)--> OPEN (break grows)
 *   any --isolate--> ISOLATED (refuses all)   any --disable--> DISABLED (admits all, never trips)
 *   any --reset--> CLOSED (counts and window cleared)
 *
 * Trip rules, checked in CLOSED after every recorded outcome:
 *   consecutive: failure_threshold > 0 and consecutive failures >= failure_threshold;
 *   failure rate: a window is on, calls in the window >= minimum_calls and
 *                 failures >= failure_rate_threshold * calls;
 *   slow rate:    a window is on, slow_call_duration > 0, calls >= minimum_calls and
 *                 slow calls >= slow_call_rate_threshold * calls.
 * Windows: COUNT keeps the last window_calls outcomes; TIME keeps window_buckets buckets
 * covering the last window_duration seconds.
 * Break duration: the first trip from CLOSED opens for recovery_timeout; each re-trip from
 * HALF_OPEN multiplies the previous break by break_multiplier, capped at max_break.
 *
 * Half-open probes: at most half_open_max_calls permits are out at once, each recorded in a
 * slot (owner id + acquisition time + generation). A slot is freed when its permit is
 * released, when its owner is declared dead (zr_breaker_release_owner), or reclaimed by an
 * acquire once it is older than permit_lease. Slots survive mode changes (a probe still
 * running after a re-trip keeps its slot; its outcome is stale). So the number of probe
 * calls in flight never exceeds the limit, not even across re-trips, and a lost permit
 * cannot wedge the breaker.
 */
#ifndef ZR_BREAKER_H
#define ZR_BREAKER_H

#include <stddef.h>
#include <stdint.h>

#include "zr_common.h"

#define ZR_BREAKER_MAX_PROBES 1024u        /* half_open_max_calls upper bound */
#define ZR_BREAKER_MAX_WINDOW_CALLS (1u << 20)
#define ZR_BREAKER_MAX_BUCKETS 3600u
#define ZR_BREAKER_NO_SLOT UINT32_MAX
#define ZR_BREAKER_LAYOUT 0x5a52424b00000001ull /* "ZRBK" v1, stored in every state */

typedef enum zr_breaker_mode {
    ZR_BREAKER_CLOSED = 0,
    ZR_BREAKER_OPEN = 1,
    ZR_BREAKER_HALF_OPEN = 2,
    ZR_BREAKER_ISOLATED = 3, /* forced open by zr_breaker_isolate */
    ZR_BREAKER_DISABLED = 4  /* admits everything, records nothing */
} zr_breaker_mode;

typedef enum zr_breaker_window_kind {
    ZR_WINDOW_NONE = 0,
    ZR_WINDOW_COUNT = 1,
    ZR_WINDOW_TIME = 2
} zr_breaker_window_kind;

typedef enum zr_breaker_outcome {
    ZR_OUTCOME_SUCCESS = 0,
    ZR_OUTCOME_FAILURE = 1,
    ZR_OUTCOME_IGNORED = 2 /* cancelled / interrupted: the permit is returned, nothing counted */
} zr_breaker_outcome;

/* Immutable settings. Plain data (may be hashed into a segment fingerprint). */
typedef struct zr_breaker_config {
    uint32_t failure_threshold;      /* consecutive failures that trip; 0: rule off */
    uint32_t success_threshold;      /* half-open successes that close; >= 1 */
    uint32_t half_open_max_calls;    /* probe permits out at once; 1..ZR_BREAKER_MAX_PROBES */
    uint32_t window_kind;            /* zr_breaker_window_kind */
    uint32_t window_calls;           /* COUNT: outcomes kept; 1..ZR_BREAKER_MAX_WINDOW_CALLS */
    uint32_t window_buckets;         /* TIME: buckets; 1..ZR_BREAKER_MAX_BUCKETS */
    uint32_t minimum_calls;          /* window calls before the rate rules apply; >= 1 */
    uint32_t reserved;               /* 0 */
    double window_duration;          /* TIME: seconds covered; finite > 0 */
    double failure_rate_threshold;   /* in [0, 1]; 0: rule off */
    double slow_call_duration;       /* seconds; a call this long or longer is slow; 0: off */
    double slow_call_rate_threshold; /* in [0, 1]; 0: slow calls never trip */
    double recovery_timeout;         /* first break, seconds; finite >= 0 */
    double break_multiplier;         /* finite >= 1 */
    double max_break;                /* finite >= recovery_timeout */
    double permit_lease;             /* seconds an unreturned probe permit is kept; finite > 0 */
} zr_breaker_config;

/* One half-open probe permit slot. */
typedef struct zr_breaker_slot {
    uint64_t owner;       /* 0 in-process; a pid when the state is shared between processes */
    double acquired_at;   /* `now` of the acquisition */
    uint32_t generation;  /* bumped at each acquisition: a stale permit cannot free it */
    uint32_t in_use;      /* 1 while a permit is out */
} zr_breaker_slot;

/* One bucket of a TIME window. */
typedef struct zr_breaker_bucket {
    int64_t index;        /* floor(now / bucket width) this bucket counts */
    uint64_t calls, failures, slow;
} zr_breaker_bucket;

/* Mutable state: header below, then half_open_max_calls slots, then the window
 * (window_calls bytes for COUNT, window_buckets buckets for TIME). No pointers. */
typedef struct zr_breaker_state {
    uint64_t layout;               /* ZR_BREAKER_LAYOUT once initialised */
    uint64_t size;                 /* zr_breaker_state_size(cfg) at init */
    uint64_t epoch;                /* transitions so far (also bumped by reset) */
    uint32_t mode;                 /* zr_breaker_mode */
    uint32_t probes_in_use;        /* slots with in_use == 1 */
    uint32_t consecutive_failures; /* since the last success (CLOSED/HALF_OPEN) */
    uint32_t consecutive_successes;/* since the last failure */
    uint32_t half_open_successes;  /* successes in the current HALF_OPEN */
    uint32_t consecutive_trips;    /* trips since the breaker last closed */
    uint32_t has_last_failure;
    uint32_t win_pos;              /* COUNT: next ring index */
    uint32_t win_filled;           /* COUNT: ring entries in use */
    uint32_t has_head;             /* TIME: win_head is set */
    int64_t win_head;              /* TIME: newest bucket index */
    uint64_t win_calls, win_failures, win_slow; /* window totals */
    double last_failure_time;
    double opened_at;
    double open_until;
    double break_duration;         /* break of the current/last open period */
    /* lifetime counters (saturating) */
    uint64_t admitted, rejected, successes, failures, slow_calls, ignored, stale;
    uint64_t transitions, trips, reclaimed;
} zr_breaker_state;

/* What an acquire hands out; pass it back unchanged to zr_breaker_release. */
typedef struct zr_breaker_permit {
    uint64_t epoch;
    double start;        /* `now` at acquisition */
    uint32_t slot;       /* probe slot, or ZR_BREAKER_NO_SLOT */
    uint32_t generation; /* the slot's generation when taken */
} zr_breaker_permit;

/* A mode change made by an operation (at most one per operation). */
typedef struct zr_breaker_change {
    uint32_t changed; /* 1 if the mode changed */
    uint32_t from, to;
} zr_breaker_change;

/* A snapshot for reporting. */
typedef struct zr_breaker_stats {
    uint32_t mode;
    uint32_t failure_count;      /* consecutive failures */
    uint32_t success_count;      /* consecutive successes */
    uint32_t half_open_successes;
    uint32_t probes_in_flight;
    uint32_t consecutive_trips;
    int has_last_failure;
    double last_failure_time;
    double opened_at;            /* meaningful when mode is OPEN/HALF_OPEN */
    double retry_after;          /* seconds until OPEN lets a probe in; 0 otherwise; inf isolated */
    double break_duration;
    uint64_t window_calls, window_failures, window_slow;
    uint64_t admitted, rejected, successes, failures, slow_calls, ignored, stale;
    uint64_t transitions, trips, reclaimed, epoch;
} zr_breaker_stats;

/* Fill cfg with seed 004's CircuitBreaker: 5 consecutive failures, 30 s recovery, one probe,
 * one success to close, no window, no slow calls, fixed break, lease = 30 s. */
void zr_breaker_config_default(zr_breaker_config *cfg);

/* ZR_OK if cfg is usable, else ZR_EINVAL and *field (if not NULL) names the first bad field
 * (the config struct's field name). At least one trip rule must be on. */
zr_status zr_breaker_config_check(const zr_breaker_config *cfg, const char **field);

/* Bytes a state for cfg needs (header + slots + window), a multiple of 8; 0 if cfg is
 * invalid. */
size_t zr_breaker_state_size(const zr_breaker_config *cfg);

/* Initialise `size` bytes at state (>= zr_breaker_state_size(cfg), 8-byte aligned) as a
 * CLOSED breaker with zero counters. ZR_EINVAL if cfg is invalid or size too small. */
zr_status zr_breaker_state_init(const zr_breaker_config *cfg, zr_breaker_state *state,
                                size_t size);

/* ZR_OK if state was initialised for a config of this shape (layout and size match), else
 * ZR_ECORRUPT. Cheap; for a shared-memory opener. */
zr_status zr_breaker_state_check(const zr_breaker_config *cfg, const zr_breaker_state *state);

/* FNV-1a fingerprint of cfg (for a shared segment: same name must mean same config). */
uint64_t zr_breaker_config_fingerprint(const zr_breaker_config *cfg);

/* Ask to make a call at `now` on behalf of `owner`.
 *  ZR_OK: admitted, *permit filled (hand it to zr_breaker_release exactly once, or lose it:
 *         a lost probe permit is reclaimed after permit_lease).
 *  ZR_EREJECTED: refused; *retry_after = seconds until an OPEN breaker lets a probe in
 *         (0 when HALF_OPEN has all probes out, +inf when ISOLATED). Never NaN or < 0.
 *  ZR_EINVAL: now is not finite (nothing changed).
 * May move OPEN -> HALF_OPEN (reported in *change; change may be NULL). */
zr_status zr_breaker_acquire(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                             uint64_t owner, zr_breaker_permit *permit, double *retry_after,
                             zr_breaker_change *change);

/* Return a permit with the call's outcome. `duration` is the call's length in seconds (for
 * the slow-call rule); < 0 or NaN means now - permit->start. A permit from an older epoch
 * frees its slot if still its own but records nothing (counted as `stale`).
 * ZR_EINVAL: now not finite or outcome unknown (nothing changed). */
zr_status zr_breaker_release(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                             const zr_breaker_permit *permit, zr_breaker_outcome outcome,
                             double duration, zr_breaker_change *change);

/* Record an outcome without a permit (seed 000's record_success / record_failure after
 * should_allow_request). In HALF_OPEN it also frees the oldest slot held by `owner`. */
zr_status zr_breaker_record(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                            uint64_t owner, zr_breaker_outcome outcome, double duration,
                            zr_breaker_change *change);

/* Apply time-driven transitions (OPEN -> HALF_OPEN once open_until passed) without
 * acquiring. ZR_EINVAL if now is not finite. */
zr_status zr_breaker_poll(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                          zr_breaker_change *change);

/* Manual control. isolate: refuse everything until reset. disable: admit everything and
 * never trip until reset (outcomes still counted in the lifetime counters). reset: CLOSED with counts, window and break cleared (lifetime
 * counters kept). Each bumps the epoch; in-flight permits then record nothing. */
void zr_breaker_isolate(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                        zr_breaker_change *change);
void zr_breaker_disable(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                        zr_breaker_change *change);
void zr_breaker_reset(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                      zr_breaker_change *change);

/* Free every probe slot held by `owner` (a dead process). Returns how many were freed. */
uint32_t zr_breaker_release_owner(const zr_breaker_config *cfg, zr_breaker_state *state,
                                  uint64_t owner);

/* Adopt a mode decided outside this state (the fleet's state kept in Redis, issue 5) at
 * `now`, only if the state is still at epoch `expect_epoch`, i.e. nothing changed since the
 * caller last looked (else ZR_ESTATE and nothing changes: the caller reports the local
 * transition first). ISOLATED and DISABLED (manual overrides) are never changed (ZR_ESTATE).
 *   ZR_BREAKER_CLOSED     close: counts, window and break reset, as after good probes;
 *   ZR_BREAKER_OPEN       open until now + remaining; if already OPEN only the deadline
 *                         moves (same epoch: permits out keep counting);
 *   ZR_BREAKER_HALF_OPEN  half-open (already HALF_OPEN: no-op); probe slots still held by
 *                         calls in flight stay held until those return, as in any transition.
 * An adopted opening is not counted in `trips` (that counts this state's own trips).
 * ZR_EINVAL: now not finite, remaining not finite or < 0, or another mode (nothing changes). */
zr_status zr_breaker_adopt(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                           uint64_t expect_epoch, uint32_t mode, double remaining,
                           zr_breaker_change *change);

/* Restore the invariants of a state whose last writer may have died mid-update (robust
 * mutex reported "recovered"): clamps the mode and ring positions, recounts probes in use
 * and window totals from the slots and the window. Never fails on a checked state. */
void zr_breaker_repair(const zr_breaker_config *cfg, zr_breaker_state *state);

/* Snapshot at `now` (window totals of a TIME window are those still inside it at now;
 * nothing is modified). */
void zr_breaker_stats_get(const zr_breaker_config *cfg, const zr_breaker_state *state,
                          double now, zr_breaker_stats *out);

/* Lower-case mode name: "closed", "open", "half_open", "isolated", "disabled", or "?". */
const char *zr_breaker_mode_name(uint32_t mode);

/* Clock-free fast paths for the common case (same locking rules as the rest).
 *
 * zr_breaker_acquire_fast: in CLOSED or DISABLED with no slow-call rule, admit without
 * reading the clock: returns 1 with *permit filled (start = 0). Returns 0, changing nothing,
 * when the caller must use zr_breaker_acquire with a real `now`.
 * zr_breaker_release_success_fast: a success of a permit of the current epoch in CLOSED
 * with no window and no slow-call rule (nothing there needs the time): returns 1 when
 * recorded. Returns 0, changing nothing, when zr_breaker_release is needed.
 * Both do exactly what the general functions would do in those cases. */
static inline int zr_breaker_acquire_fast(const zr_breaker_config *cfg, zr_breaker_state *s,
                                          zr_breaker_permit *permit)
{
    if ((s->mode != ZR_BREAKER_CLOSED && s->mode != ZR_BREAKER_DISABLED) ||
        cfg->slow_call_duration > 0.0)
        return 0;
    permit->epoch = s->epoch;
    permit->start = 0.0;
    permit->slot = ZR_BREAKER_NO_SLOT;
    permit->generation = 0;
    s->admitted = zr_sat_add_u64(s->admitted, 1);
    return 1;
}

static inline int zr_breaker_release_success_fast(const zr_breaker_config *cfg,
                                                  zr_breaker_state *s,
                                                  const zr_breaker_permit *permit)
{
    if (s->mode != ZR_BREAKER_CLOSED || permit->epoch != s->epoch ||
        permit->slot != ZR_BREAKER_NO_SLOT || cfg->window_kind != ZR_WINDOW_NONE ||
        cfg->slow_call_duration > 0.0)
        return 0;
    s->successes = zr_sat_add_u64(s->successes, 1);
    s->consecutive_successes = zr_sat_inc_u32(s->consecutive_successes);
    s->consecutive_failures = 0;
    return 1;
}

/* The probe slots of a state (for inspection and tests). */
static inline zr_breaker_slot *zr_breaker_slots(zr_breaker_state *state)
{
    return (zr_breaker_slot *)(void *)((unsigned char *)state + sizeof(zr_breaker_state));
}

#endif /* ZR_BREAKER_H */
