/* zr_backoff.c - delay schedules and jitter (contracts in zr_backoff.h). */
#include "zr_backoff.h"

#include <string.h>

void zr_backoff_config_default(zr_backoff_config *cfg)
{
    cfg->schedule = ZR_SCHEDULE_EXPONENTIAL;
    cfg->jitter = ZR_JITTER_FULL;
    cfg->max_attempts = 3;
    cfg->base_delay = 1.0;
    cfg->increment = 1.0;
    cfg->multiplier = 2.0;
    cfg->max_delay = 60.0;
    cfg->jitter_factor = 0.3;
}

static zr_status bad(const char **bad_field, const char *name)
{
    if (bad_field) *bad_field = name;
    return ZR_EINVAL;
}

zr_status zr_backoff_validate(const zr_backoff_config *cfg, const char **bad_field)
{
    if ((unsigned)cfg->schedule > ZR_SCHEDULE_CUSTOM) return bad(bad_field, "schedule");
    if ((unsigned)cfg->jitter > ZR_JITTER_ADDITIVE) return bad(bad_field, "jitter_type");
    if (cfg->max_attempts < 1) return bad(bad_field, "max_attempts");
    if (!zr_is_nonneg_finite(cfg->base_delay)) return bad(bad_field, "base_delay");
    if (!zr_is_nonneg_finite(cfg->increment)) return bad(bad_field, "increment");
    if (!(isfinite(cfg->multiplier) && cfg->multiplier >= 1.0)) return bad(bad_field, "multiplier");
    if (!zr_is_nonneg_finite(cfg->max_delay)) return bad(bad_field, "max_delay");
    if (!(cfg->jitter_factor >= 0.0 && cfg->jitter_factor <= 1.0))
        return bad(bad_field, "jitter_factor");
    return ZR_OK;
}

/* base * growth, saturating at cap; growth may be +inf. Requires base >= 0 and cap >= 0,
 * both finite, growth >= 1 (so base * growth is never NaN once base == 0 is excluded). */
static double scaled_capped(double base, double growth, double cap)
{
    if (base == 0.0) return 0.0;
    double r = base * growth;
    return r < cap ? r : cap;
}

static double fibonacci_delay(double base, uint64_t n, double cap)
{
    if (n <= 90) { /* F(90) < 2^63: exact in integers */
        uint64_t a = 1, b = 1; /* F(1), F(2) */
        for (uint64_t i = 3; i <= n; i++) {
            uint64_t c = a + b;
            a = b;
            b = c;
        }
        double f = (double)(n <= 1 ? a : b);
        double r = base * f;
        return r < cap ? r : cap;
    }
    /* Binet: F(n) ~ phi^n / sqrt(5), far beyond any cap worth caring about. */
    const double log_phi = 0.48121182505960344; /* log((1 + sqrt 5) / 2) */
    const double log_sqrt5 = 0.80471895621705019;
    return scaled_capped(base, exp((double)n * log_phi - log_sqrt5), cap);
}

zr_status zr_backoff_raw(const zr_backoff_config *cfg, uint64_t attempt, double *out)
{
    if (attempt < 1) return ZR_EINVAL;
    const double cap = cfg->max_delay;
    const double n1 = (double)(attempt - 1);
    double d;
    switch (cfg->schedule) {
    case ZR_SCHEDULE_FIXED:
        d = cfg->base_delay < cap ? cfg->base_delay : cap;
        break;
    case ZR_SCHEDULE_LINEAR:
        d = cfg->base_delay + cfg->increment * n1; /* may reach +inf: capped below */
        d = d < cap ? d : cap;
        break;
    case ZR_SCHEDULE_EXPONENTIAL:
        d = scaled_capped(cfg->base_delay, pow(cfg->multiplier, n1), cap);
        break;
    case ZR_SCHEDULE_FIBONACCI:
        d = fibonacci_delay(cfg->base_delay, attempt, cap);
        break;
    default:
        return ZR_EINVAL;
    }
    *out = zr_clamp(d, 0.0, cap);
    return ZR_OK;
}

zr_status zr_backoff_jitter(const zr_backoff_config *cfg, zr_rng *rng, double raw, double prev,
                            double *out)
{
    if (isnan(raw) || raw < 0.0) return ZR_EINVAL;
    const double cap = cfg->max_delay;
    double d = raw < cap ? raw : cap;
    double f = cfg->jitter_factor;
    switch (cfg->jitter) {
    case ZR_JITTER_NONE:
        break;
    case ZR_JITTER_FULL:
        d = zr_rng_between(rng, 0.0, d);
        break;
    case ZR_JITTER_EQUAL:
        d = d / 2.0 + zr_rng_between(rng, 0.0, d / 2.0);
        break;
    case ZR_JITTER_DECORRELATED: {
        double lo = cfg->base_delay < cap ? cfg->base_delay : cap;
        double p = (prev >= 0.0 && isfinite(prev)) ? prev : lo;
        d = zr_rng_between(rng, lo, p * 3.0); /* hi may be +inf; the cap below applies */
        break;
    }
    case ZR_JITTER_PROPORTIONAL:
        d = d * (1.0 + zr_rng_between(rng, -f, f));
        break;
    case ZR_JITTER_ADDITIVE:
        d = d + zr_rng_between(rng, 0.0, d * f);
        break;
    default:
        return ZR_EINVAL;
    }
    *out = zr_clamp(d, 0.0, cap);
    return ZR_OK;
}

zr_status zr_backoff_delay(const zr_backoff_config *cfg, zr_rng *rng, uint64_t attempt,
                           double prev, double *out)
{
    double raw;
    zr_status st = zr_backoff_raw(cfg, attempt, &raw);
    if (st != ZR_OK) return st;
    return zr_backoff_jitter(cfg, rng, raw, prev, out);
}

static const char *const schedule_names[] = {"fixed", "linear", "exponential", "fibonacci",
                                             "custom"};
static const char *const jitter_names[] = {"none",         "full",        "equal", "decorrelated",
                                           "proportional", "additive"};

zr_status zr_schedule_from_name(const char *name, zr_schedule_kind *out)
{
    for (unsigned i = 0; i < sizeof schedule_names / sizeof *schedule_names; i++) {
        if (strcmp(name, schedule_names[i]) == 0) {
            *out = (zr_schedule_kind)i;
            return ZR_OK;
        }
    }
    return ZR_EINVAL;
}

zr_status zr_jitter_from_name(const char *name, zr_jitter_kind *out)
{
    if (strcmp(name, "decorr") == 0) { /* seed 004's spelling */
        *out = ZR_JITTER_DECORRELATED;
        return ZR_OK;
    }
    for (unsigned i = 0; i < sizeof jitter_names / sizeof *jitter_names; i++) {
        if (strcmp(name, jitter_names[i]) == 0) {
            *out = (zr_jitter_kind)i;
            return ZR_OK;
        }
    }
    return ZR_EINVAL;
}

const char *zr_schedule_name(zr_schedule_kind k)
{
    return (unsigned)k <= ZR_SCHEDULE_CUSTOM ? schedule_names[k] : "unknown";
}

const char *zr_jitter_name(zr_jitter_kind k)
{
    return (unsigned)k <= ZR_JITTER_ADDITIVE ? jitter_names[k] : "unknown";
}
