/*
 * zr_adaptive.h - the adaptive strategy's engine: delays that follow the recent success rate.
 *
 * The state remembers the outcomes (success / failure) of the last `window` attempts in a
 * ring of bits. From it comes a pressure p in [0, 1]:
 *
 *   samples < max(min_samples, 1)   p = 0.5                      (not enough data: cautious)
 *   otherwise, rate = successes / samples,
 *                                   p = clamp((threshold - rate) / threshold, 0, 1)
 *                                   (p = 0 when threshold == 0)
 *
 * and the delay after attempt n (1-based), before jitter:
 *
 *   delay(n) = min(max_delay, base_delay * (1 + 3p) * (1 + p)^(n - 1))
 *
 * so a healthy dependency (rate >= threshold, p = 0) gets base_delay before every retry,
 * and as the rate falls the delay grows continuously up to 4 * base_delay doubling per
 * attempt when everything fails (p = 1). Jitter (the strategy's zr_backoff_config) is
 * applied on top and the result is capped at max_delay; it is never NaN or negative.
 *
 * Config and state are split: zr_adaptive_config is immutable; zr_adaptive_state is plain
 * old data of a fixed size with no pointers (may live in shared memory). The caller
 * serialises access to a state.
 */
#ifndef ZR_ADAPTIVE_H
#define ZR_ADAPTIVE_H

#include <stdint.h>
#include "zr_backoff.h"
#include "zr_common.h"
#include "zr_rng.h"

/* Largest adaptation window (outcomes remembered); fixes the state's size (2 KiB of bits). */
#define ZR_ADAPTIVE_MAX_WINDOW 16384u
/* Pressure used while there are fewer samples than min_samples. */
#define ZR_ADAPTIVE_UNKNOWN_PRESSURE 0.5

typedef struct zr_adaptive_config {
    double base_delay;        /* seconds, finite, >= 0 */
    double max_delay;         /* seconds, finite, >= 0; caps every delay */
    double success_threshold; /* in [0, 1] */
    uint32_t window;          /* outcomes remembered, in [1, ZR_ADAPTIVE_MAX_WINDOW] */
    uint32_t min_samples;     /* samples needed before the rate counts, in [0, window] */
} zr_adaptive_config;

/* Plain old data, fixed size, no pointers. */
typedef struct zr_adaptive_state {
    uint32_t magic;     /* ZR_ADAPTIVE_STATE_MAGIC once initialised */
    uint32_t head;      /* ring index the next outcome is written to, < window */
    uint32_t count;     /* outcomes in the window, <= window */
    uint32_t successes; /* successes among them, <= count */
    uint64_t total_successes; /* lifetime (saturating) */
    uint64_t total_failures;  /* lifetime (saturating) */
    uint64_t bits[ZR_ADAPTIVE_MAX_WINDOW / 64]; /* 1 = success */
} zr_adaptive_state;

#define ZR_ADAPTIVE_STATE_MAGIC 0x7a726164u /* "zrad" */

/* Seed 004's defaults: base 1 s, cap 60 s, threshold 0.8, window 100, min_samples 10. */
void zr_adaptive_config_default(zr_adaptive_config *cfg);

/* Check every field; on ZR_EINVAL *bad_field (if not NULL) names the first bad one
 * ("base_delay", "max_delay", "success_threshold", "adaptation_window", "min_samples"). */
zr_status zr_adaptive_validate(const zr_adaptive_config *cfg, const char **bad_field);

/* Start with an empty window. ZR_EINVAL if cfg does not validate (state untouched). */
zr_status zr_adaptive_init(const zr_adaptive_config *cfg, zr_adaptive_state *state);

/* ZR_OK if an initialised state is consistent with cfg (counts match the bits),
 * ZR_ECORRUPT otherwise. Meant for a state found in shared memory. */
zr_status zr_adaptive_check(const zr_adaptive_config *cfg, const zr_adaptive_state *state);

/* Bring a state back within its invariants (a writer died mid-update, or
 * zr_adaptive_check found it corrupt): an uninitialised state is re-initialised, head and
 * count are clamped to the window and successes recounted from the bits. *changed (if not
 * NULL) is 1 when anything had to be fixed. Afterwards zr_adaptive_check returns ZR_OK. */
zr_status zr_adaptive_repair(const zr_adaptive_config *cfg, zr_adaptive_state *state,
                             int *changed);

/* Remember one outcome (success != 0), forgetting the oldest when the window is full. */
zr_status zr_adaptive_record(const zr_adaptive_config *cfg, zr_adaptive_state *state,
                             int success);

/* The window's success rate (1.0 when empty) and its number of samples (either out-pointer
 * may be NULL). */
zr_status zr_adaptive_rate(const zr_adaptive_config *cfg, const zr_adaptive_state *state,
                           double *rate, uint32_t *samples);

/* The pressure p in [0, 1] defined above. */
zr_status zr_adaptive_pressure(const zr_adaptive_config *cfg, const zr_adaptive_state *state,
                               double *out);

/* The delay after attempt `attempt` (>= 1) without jitter, in [0, max_delay].
 * ZR_EINVAL for attempt 0. */
zr_status zr_adaptive_raw_delay(const zr_adaptive_config *cfg, const zr_adaptive_state *state,
                                uint64_t attempt, double *out);

/* zr_adaptive_raw_delay followed by jitter from `jitter` (its jitter kind, factor and
 * base_delay; the result is capped at min(cfg->max_delay, jitter->max_delay)) drawn from
 * `rng`. prev < 0: no previous delay in this call. */
zr_status zr_adaptive_delay(const zr_adaptive_config *cfg, const zr_adaptive_state *state,
                            const zr_backoff_config *jitter, zr_rng *rng, uint64_t attempt,
                            double prev, double *out);

/* Forget every outcome (window and lifetime totals). */
zr_status zr_adaptive_reset(const zr_adaptive_config *cfg, zr_adaptive_state *state);

#endif /* ZR_ADAPTIVE_H */
