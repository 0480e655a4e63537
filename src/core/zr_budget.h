/*
 * zr_budget.h - retry budgets: how many retries a client may send, whatever its callers do.
 *
 * Two modes share one API:
 *
 *   TOKEN  a token bucket (seed 000's RetryBudget(capacity, refill_rate)). Tokens are a
 *          real number in [0, capacity]; they refill continuously at refill_rate per
 *          second of the clock passed in. A retry takes one token.
 *
 *   RATIO  retries limited to a share of recent requests plus a floor, as Finagle's
 *          RetryBudget and Linkerd's retry budgets do (default: 20 % of requests plus 10
 *          retries per second, over a 10 s window). The window is a ring of `buckets` time
 *          slices of window/buckets seconds; each slice counts its requests and its
 *          retries, and a slice leaves the window (with both counts) when it is older than
 *          the window. A retry is allowed when
 *              retries_in_window + 1 <= percent * requests_in_window
 *                                       + min_per_second * window
 *          The arithmetic is exact: percent is held in millionths (ppm) and the floor in
 *          millionths of a retry, both as saturating 64-bit integers.
 *
 * Config and state are split: zr_budget_config is immutable after validation; the mutable
 * zr_budget_state is plain old data of a fixed size with no pointers, so it can live in
 * private memory or, as is, in a shared-memory segment (issue 5). The caller serialises
 * access to a state (a mutex, the GIL, or the segment's robust lock); these functions
 * never lock, allocate or read a clock: `now` (seconds, any finite origin) is passed in.
 * A clock that goes backwards is treated as standing still (never refunds, never
 * expires early).
 *
 * Every function validates its arguments and returns a zr_status; none aborts.
 */
#ifndef ZR_BUDGET_H
#define ZR_BUDGET_H

#include <stdint.h>
#include "zr_common.h"

/* Most time slices a ratio budget's window may have (fixes the state's size). */
#define ZR_BUDGET_MAX_BUCKETS 64u
/* Largest capacity of a token bucket: 2^53, so integer token counts stay exact. */
#define ZR_BUDGET_MAX_CAPACITY 9007199254740992.0
/* Largest ratio percent (1000.0 = 100000 %), as in Finagle. */
#define ZR_BUDGET_MAX_PERCENT 1000.0
/* Bounds of the ratio window in seconds and of min_per_second. */
#define ZR_BUDGET_MAX_WINDOW 1e9
#define ZR_BUDGET_MAX_MIN_PER_SECOND 1e9

typedef enum zr_budget_mode {
    ZR_BUDGET_TOKEN = 0, /* token bucket */
    ZR_BUDGET_RATIO = 1  /* percent of recent requests + floor per second */
} zr_budget_mode;

/* Immutable configuration. Plain data (no pointers). */
typedef struct zr_budget_config {
    zr_budget_mode mode;
    /* TOKEN */
    double capacity;       /* tokens, finite, in (0, ZR_BUDGET_MAX_CAPACITY] */
    double refill_rate;    /* tokens per second, finite, >= 0 */
    double initial_tokens; /* tokens at creation, finite, in [0, capacity] */
    /* RATIO */
    double percent;        /* retries per request, finite, in [0, ZR_BUDGET_MAX_PERCENT] */
    double min_per_second; /* floor, retries per second, finite, in [0, 1e9] */
    double window;         /* seconds, finite, in (0, 1e9] */
    uint32_t buckets;      /* time slices of the window, in [1, ZR_BUDGET_MAX_BUCKETS] */
} zr_budget_config;

/* One time slice of a ratio window. */
typedef struct zr_budget_slot {
    int64_t epoch;     /* which slice of time it counts (floor(now / slice width)) */
    uint64_t requests; /* requests counted in that slice (saturating) */
    uint64_t retries;  /* retries granted in that slice (saturating) */
} zr_budget_slot;

/* Mutable state. Plain old data of a fixed size, no pointers: may live in shared memory.
 * Only the zr_budget_* functions should write it. */
typedef struct zr_budget_state {
    uint32_t magic;      /* ZR_BUDGET_STATE_MAGIC once initialised */
    uint32_t mode;       /* the zr_budget_mode it was initialised for */
    /* TOKEN */
    double tokens;       /* in [0, capacity] */
    double last_refill;  /* clock reading of the last refill (never moves backwards) */
    /* RATIO */
    int64_t head_epoch;  /* newest slice seen (never moves backwards) */
    uint64_t window_requests; /* sum of slots[].requests inside the window */
    uint64_t window_retries;  /* sum of slots[].retries inside the window */
    zr_budget_slot slots[ZR_BUDGET_MAX_BUCKETS];
    /* lifetime totals, both modes (saturating) */
    uint64_t total_requests; /* on_request calls */
    uint64_t total_granted;  /* tokens / retries granted */
    uint64_t total_refused;  /* acquisitions refused */
    uint64_t total_returned; /* tokens given back (as requested, before capping) */
} zr_budget_state;

#define ZR_BUDGET_STATE_MAGIC 0x7a726275u /* "zrbu" */

/* Fill cfg with a token bucket of `capacity` tokens refilled at `refill_rate` per second,
 * starting full. Does not validate (call zr_budget_validate). */
void zr_budget_config_token(zr_budget_config *cfg, double capacity, double refill_rate);

/* Fill cfg with a ratio budget (defaults: percent 0.2, min_per_second 10, window 10 s,
 * 10 buckets when called with those numbers). Does not validate. */
void zr_budget_config_ratio(zr_budget_config *cfg, double percent, double min_per_second,
                            double window, uint32_t buckets);

/* Check every field of cfg for its mode (NaN, infinities, negatives, zero window or
 * bucket count, out-of-range values are ZR_EINVAL). On ZR_EINVAL, *bad_field (if not
 * NULL) is the public parameter name of the first bad field ("capacity", "refill_rate",
 * "initial_tokens", "percent", "min_per_second", "window", "buckets", "mode"). */
zr_status zr_budget_validate(const zr_budget_config *cfg, const char **bad_field);

/* Initialise `state` for a validated cfg at time `now` (finite): a token bucket starts
 * with initial_tokens, a ratio window starts empty. ZR_EINVAL if cfg does not validate or
 * now is not finite (state untouched). */
zr_status zr_budget_init(const zr_budget_config *cfg, zr_budget_state *state, double now);

/* ZR_OK if `state` was initialised for cfg's mode and its fields are within their
 * bounds (tokens in [0, capacity], window sums equal to the slots' sums); ZR_ECORRUPT
 * otherwise. Meant for a state found in shared memory. */
zr_status zr_budget_check(const zr_budget_config *cfg, const zr_budget_state *state);

/* Bring a state back within its invariants after a writer died mid-update (a robust
 * shared-memory lock reported a dead holder) or after zr_budget_check found it corrupt:
 * a state not initialised for cfg's mode is re-initialised at `now`; tokens outside
 * [0, capacity] (or NaN) become 0 - the safe side: no retry until the bucket refills; a
 * non-finite refill mark becomes `now`; ratio slices
 * outside the window are emptied and the window sums recomputed from the slices.
 * *changed (if not NULL) is 1 when anything had to be fixed. Afterwards zr_budget_check
 * returns ZR_OK. ZR_EINVAL for a bad cfg, a NULL state or a non-finite now. */
zr_status zr_budget_repair(const zr_budget_config *cfg, zr_budget_state *state, double now,
                           int *changed);

/* A logical call starts (its first attempt). RATIO: counts one request in the slice of
 * `now`. TOKEN: only counts it in total_requests; `now` is not used (refill is lazy, and
 * refilling later gives exactly the same tokens), so a caller may skip reading a clock.
 * Never spends budget. */
zr_status zr_budget_on_request(const zr_budget_config *cfg, zr_budget_state *state, double now);

/* Take `n` tokens (retries), all or nothing. *granted is 1 when taken, 0 when refused
 * (not enough budget). n == 0 always succeeds. ZR_EINVAL for a non-finite now or an
 * uninitialised state. */
zr_status zr_budget_try_acquire(const zr_budget_config *cfg, zr_budget_state *state, double now,
                                uint64_t n, int *granted);

/* Give back `n` tokens (e.g. retries that were not needed). TOKEN: tokens become
 * min(capacity, tokens + n). RATIO: removes up to n granted retries from the window,
 * newest slice first. Any n saturates (UINT64_MAX is fine). */
zr_status zr_budget_return(const zr_budget_config *cfg, zr_budget_state *state, double now,
                           uint64_t n);

/* Tokens available now: TOKEN the bucket's level in [0, capacity]; RATIO
 * max(0, percent*requests + floor - retries) over the window. Refills / expires as
 * of `now` first (so it writes the state). */
zr_status zr_budget_available(const zr_budget_config *cfg, zr_budget_state *state, double now,
                              double *out);

/* Number of whole retries (tokens) that can be taken now (floor of available). */
zr_status zr_budget_available_whole(const zr_budget_config *cfg, zr_budget_state *state,
                                    double now, uint64_t *out);

/* Leave nothing to spend now: a token bucket drops to 0 tokens; a ratio window counts the
 * retries it still allowed as spent (they leave with the current slice). Keeps totals. */
zr_status zr_budget_drain(const zr_budget_config *cfg, zr_budget_state *state, double now);

/* Refill a token bucket to capacity or clear a ratio window, and zero the totals. */
zr_status zr_budget_reset(const zr_budget_config *cfg, zr_budget_state *state, double now);

/* TOKEN mode: set the bucket to a level decided outside this state (the host's share of
 * the fleet's bucket in Redis, issue 5), minus what was spent here since the caller read
 * the totals: level = tokens - (total_granted - seen_granted) + (total_returned -
 * seen_returned), clamped to [0, capacity]. The local refill then pauses for `hold`
 * seconds (until the next adoption, which brings the fleet's refill; if none comes, the
 * bucket refills on its own again). Totals are kept. ZR_ESTATE in RATIO mode; ZR_EINVAL
 * for a non-finite now or tokens, a hold not finite or < 0, or an uninitialised state
 * (nothing changes then). */
zr_status zr_budget_adopt(const zr_budget_config *cfg, zr_budget_state *state, double now,
                          double tokens, uint64_t seen_granted, uint64_t seen_returned,
                          double hold);

#endif /* ZR_BUDGET_H */
