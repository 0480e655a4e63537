/*
 * zr_metrics.h - retry counters: plain numbers the retry loops bump as a call runs.
 *
 * One zr_metrics describes one operation (a decorated function, or several sharing a
 * name). It is a POD struct without pointers, so it may live in private memory or in a
 * shared-memory segment; all updates are single increments (the binding calls them with
 * the GIL held). Readers derive rates with zr_metrics_summarize.
 *
 * Accounting of one logical call ("operation"):
 *   zr_metrics_begin                 once, when the call starts
 *   zr_metrics_attempt               before every attempt that runs
 *   zr_metrics_failure               after every failed attempt (error or rejected result)
 *   zr_metrics_retry(delay)          when a failed attempt is followed by another one
 *   then exactly one ending:
 *   zr_metrics_success(n)            the call returned a value after n attempts
 *   zr_metrics_give_up(n, reason)    the call ended with an error after n attempts
 *   zr_metrics_cancel                CancelledError/KeyboardInterrupt/... ended it
 * Counters saturate at UINT64_MAX; total_delay never becomes negative or NaN.
 */
#ifndef ZR_METRICS_H
#define ZR_METRICS_H

#include <stdint.h>

#include "zr_common.h"

/* Delay histogram: upper bounds in seconds (the Prometheus client's defaults extended
 * to a minute); one more bucket counts delays above the last bound (+Inf). */
#define ZR_METRICS_DELAY_BOUNDS 14
/* Per-attempt-number counts for attempts 1..ZR_METRICS_MAX_ATTEMPT; the last slot also
 * holds every higher attempt number. Slot 0 of `finished_at` counts calls that ended
 * before any attempt ran (refused by a breaker). */
#define ZR_METRICS_MAX_ATTEMPT 32

/* Why a call ended with an error (zr_metrics_give_up). */
typedef enum zr_give_up_reason {
    ZR_GIVE_UP_NOT_RETRYABLE = 0, /* the error is not retryable (or a condition said no) */
    ZR_GIVE_UP_EXHAUSTED = 1,     /* max_attempts reached */
    ZR_GIVE_UP_TIMEOUT = 2,       /* the total timeout would have passed */
    ZR_GIVE_UP_BUDGET = 3,        /* the retry budget refused a retry */
    ZR_GIVE_UP_BREAKER = 4,       /* a circuit breaker refused an attempt */
    ZR_GIVE_UP_REASONS = 5
} zr_give_up_reason;

typedef struct zr_metrics {
    uint64_t operations;         /* calls started */
    uint64_t attempts;           /* attempts run */
    uint64_t successes;          /* calls that returned a value */
    uint64_t failures;           /* failed attempts (errors and rejected results) */
    uint64_t give_ups;           /* calls that ended with an error */
    uint64_t cancelled;          /* calls ended by cancellation / interruption */
    uint64_t retries;            /* failed attempts followed by another attempt */
    uint64_t dead_letters;       /* failed calls handed to a dead-letter handler */
    uint64_t give_up_reasons[ZR_GIVE_UP_REASONS]; /* give_ups split by reason */
    double total_delay;          /* seconds of backoff scheduled, summed */
    double max_delay;            /* the longest single delay scheduled */
    uint64_t delay_buckets[ZR_METRICS_DELAY_BOUNDS + 1]; /* per bucket, not cumulative */
    uint64_t finished_at[ZR_METRICS_MAX_ATTEMPT + 1];    /* calls that ended after n attempts */
    uint64_t failures_at[ZR_METRICS_MAX_ATTEMPT + 1];    /* failed attempts numbered n */
} zr_metrics;

/* Rates derived from the counters; every field is finite and >= 0. */
typedef struct zr_metrics_summary {
    uint64_t finished;      /* successes + give_ups (calls that ended normally) */
    double success_rate;    /* successes / finished; 0 when nothing finished */
    double failure_rate;    /* failures / attempts; 0 without attempts */
    double average_retries; /* retries / finished; 0 when nothing finished */
    double average_delay;   /* total_delay / retries; 0 without retries */
    double average_attempts;/* attempts / operations; 0 without operations */
} zr_metrics_summary;

/* The upper bound (seconds) of histogram bucket i, i < ZR_METRICS_DELAY_BOUNDS. Returns
 * ZR_EINVAL and leaves *out untouched for any other i. */
zr_status zr_metrics_delay_bound(unsigned i, double *out);

/* Set every counter to zero. m must not be NULL. */
void zr_metrics_reset(zr_metrics *m);

/* Add every counter of src into dst (saturating); used to aggregate operations. */
void zr_metrics_add(zr_metrics *dst, const zr_metrics *src);

/* A call started. */
static inline void zr_metrics_begin(zr_metrics *m) { m->operations = zr_sat_add_u64(m->operations, 1); }

/* An attempt is about to run. */
static inline void zr_metrics_attempt(zr_metrics *m) { m->attempts = zr_sat_add_u64(m->attempts, 1); }

/* Slot of attempt number n in the per-attempt arrays. */
static inline unsigned zr_metrics_slot(uint64_t n)
{
    return n > ZR_METRICS_MAX_ATTEMPT ? ZR_METRICS_MAX_ATTEMPT : (unsigned)n;
}

/* Attempt number n (>= 1) failed. */
void zr_metrics_failure(zr_metrics *m, uint64_t n);

/* A retry follows, after `delay` seconds (negative or NaN counts as 0, +Inf as the top
 * bucket and adds nothing to total_delay beyond DBL_MAX). */
void zr_metrics_retry(zr_metrics *m, double delay);

/* The call returned a value after n attempts. */
void zr_metrics_success(zr_metrics *m, uint64_t n);

/* The call ended with an error after n attempts (n may be 0: refused before the first).
 * An out-of-range reason is counted as ZR_GIVE_UP_NOT_RETRYABLE. */
void zr_metrics_give_up(zr_metrics *m, uint64_t n, zr_give_up_reason reason);

/* The call was cancelled or interrupted (it is neither a success nor a give-up). */
void zr_metrics_cancel(zr_metrics *m);

/* A whole call that succeeded on its first attempt: begin + attempt + success(1), the
 * retry loops' fast path. */
static inline void zr_metrics_first_try(zr_metrics *m)
{
    m->operations = zr_sat_add_u64(m->operations, 1);
    m->attempts = zr_sat_add_u64(m->attempts, 1);
    m->successes = zr_sat_add_u64(m->successes, 1);
    m->finished_at[1] = zr_sat_add_u64(m->finished_at[1], 1);
}

/* A failed call was handed to a dead-letter handler. */
static inline void zr_metrics_dead_letter(zr_metrics *m)
{
    m->dead_letters = zr_sat_add_u64(m->dead_letters, 1);
}

/* Derive rates from m into *out. */
void zr_metrics_summarize(const zr_metrics *m, zr_metrics_summary *out);

#endif /* ZR_METRICS_H */
