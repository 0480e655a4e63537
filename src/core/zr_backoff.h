/*
 * zr_backoff.h - delay schedules and jitter: how long to wait after a failed attempt.
 *
 * Attempt numbers start at 1: zr_backoff_delay(cfg, rng, n, ...) is the wait after the
 * n-th attempt failed, before attempt n+1 starts. Every result is finite, >= 0 and
 * <= cfg->max_delay, for any attempt number and any configuration that validates;
 * intermediate arithmetic saturates at max_delay instead of overflowing.
 *
 * Schedules (the "raw" delay, before jitter):
 *   FIXED        base_delay
 *   LINEAR       base_delay + increment * (n - 1)
 *   EXPONENTIAL  base_delay * multiplier^(n - 1)
 *   FIBONACCI    base_delay * F(n), F = 1, 1, 2, 3, 5, 8, ...
 *   CUSTOM       supplied by the caller (zr_backoff_jitter takes it directly)
 * Jitter (d = raw delay, prev = the previous delay of this call's sequence):
 *   NONE          d
 *   FULL          U(0, d)
 *   EQUAL         d/2 + U(0, d/2)
 *   DECORRELATED  min(max_delay, U(base_delay, 3 * prev)), prev = base_delay at first
 *   PROPORTIONAL  d * (1 + U(-factor, +factor))
 *   ADDITIVE      d + U(0, d * factor)
 */
#ifndef ZR_BACKOFF_H
#define ZR_BACKOFF_H

#include <stdint.h>
#include "zr_common.h"
#include "zr_rng.h"

typedef enum zr_schedule_kind {
    ZR_SCHEDULE_FIXED = 0,
    ZR_SCHEDULE_LINEAR = 1,
    ZR_SCHEDULE_EXPONENTIAL = 2,
    ZR_SCHEDULE_FIBONACCI = 3,
    ZR_SCHEDULE_CUSTOM = 4
} zr_schedule_kind;

typedef enum zr_jitter_kind {
    ZR_JITTER_NONE = 0,
    ZR_JITTER_FULL = 1,
    ZR_JITTER_EQUAL = 2,
    ZR_JITTER_DECORRELATED = 3,
    ZR_JITTER_PROPORTIONAL = 4,
    ZR_JITTER_ADDITIVE = 5
} zr_jitter_kind;

/* Plain data: no pointers, so it may be copied, hashed or placed in shared memory. */
typedef struct zr_backoff_config {
    zr_schedule_kind schedule;
    zr_jitter_kind jitter;
    uint32_t max_attempts; /* every call, the first included; >= 1 */
    double base_delay;     /* seconds, finite, >= 0 */
    double increment;      /* seconds, finite, >= 0 (LINEAR) */
    double multiplier;     /* finite, >= 1 (EXPONENTIAL) */
    double max_delay;      /* seconds, finite, >= 0; caps every delay */
    double jitter_factor;  /* in [0, 1] (PROPORTIONAL, ADDITIVE) */
} zr_backoff_config;

/* Fill cfg with the defaults (exponential, base 1 s, x2, cap 60 s, full jitter, 3 attempts). */
void zr_backoff_config_default(zr_backoff_config *cfg);

/* Check every field. On ZR_EINVAL, *bad_field (if not NULL) names the first bad field
 * using the public parameter name ("max_attempts", "base_delay", ...). */
zr_status zr_backoff_validate(const zr_backoff_config *cfg, const char **bad_field);

/* The schedule's delay after attempt `attempt` (>= 1), capped at max_delay, no jitter.
 * ZR_EINVAL for attempt 0 or a CUSTOM schedule (whose raw delay the caller computes). */
zr_status zr_backoff_raw(const zr_backoff_config *cfg, uint64_t attempt, double *out);

/* Apply cfg's jitter to a raw delay and cap the result at max_delay.
 * raw may be +inf (treated as max_delay); NaN or a negative raw is ZR_EINVAL.
 * prev < 0 means "no previous delay in this sequence". */
zr_status zr_backoff_jitter(const zr_backoff_config *cfg, zr_rng *rng, double raw, double prev,
                            double *out);

/* zr_backoff_raw followed by zr_backoff_jitter. */
zr_status zr_backoff_delay(const zr_backoff_config *cfg, zr_rng *rng, uint64_t attempt,
                           double prev, double *out);

/* Parse/format kind names ("fixed", "full", "decorrelated" or "decorr", ...).
 * The parsers return ZR_EINVAL for an unknown name. */
zr_status zr_schedule_from_name(const char *name, zr_schedule_kind *out);
zr_status zr_jitter_from_name(const char *name, zr_jitter_kind *out);
const char *zr_schedule_name(zr_schedule_kind k);
const char *zr_jitter_name(zr_jitter_kind k);

#endif /* ZR_BACKOFF_H */
