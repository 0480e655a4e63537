/* zr_adaptive.c - success-rate window and adaptive delays (see zr_adaptive.h). */
#include "zr_adaptive.h"

#include <string.h>

void zr_adaptive_config_default(zr_adaptive_config *cfg)
{
    cfg->base_delay = 1.0;
    cfg->max_delay = 60.0;
    cfg->success_threshold = 0.8;
    cfg->window = 100;
    cfg->min_samples = 10;
}

zr_status zr_adaptive_validate(const zr_adaptive_config *cfg, const char **bad_field)
{
    const char *bad = NULL;
    if (cfg == NULL)
        bad = "config";
    else if (!zr_is_nonneg_finite(cfg->base_delay))
        bad = "base_delay";
    else if (!zr_is_nonneg_finite(cfg->max_delay))
        bad = "max_delay";
    else if (!(cfg->success_threshold >= 0.0 && cfg->success_threshold <= 1.0))
        bad = "success_threshold";
    else if (cfg->window < 1 || cfg->window > ZR_ADAPTIVE_MAX_WINDOW)
        bad = "adaptation_window";
    else if (cfg->min_samples > cfg->window)
        bad = "min_samples";
    if (bad != NULL) {
        if (bad_field) *bad_field = bad;
        return ZR_EINVAL;
    }
    return ZR_OK;
}

zr_status zr_adaptive_init(const zr_adaptive_config *cfg, zr_adaptive_state *state)
{
    if (state == NULL || zr_adaptive_validate(cfg, NULL) != ZR_OK) return ZR_EINVAL;
    memset(state, 0, sizeof *state);
    state->magic = ZR_ADAPTIVE_STATE_MAGIC;
    return ZR_OK;
}

static int bit_get(const zr_adaptive_state *s, uint32_t i)
{
    return (int)((s->bits[i / 64] >> (i % 64)) & 1u);
}

static void bit_set(zr_adaptive_state *s, uint32_t i, int v)
{
    uint64_t mask = (uint64_t)1 << (i % 64);
    if (v)
        s->bits[i / 64] |= mask;
    else
        s->bits[i / 64] &= ~mask;
}

/* ZR_OK when the state may be used with cfg (cheap checks only). */
static zr_status usable(const zr_adaptive_config *cfg, const zr_adaptive_state *s)
{
    if (cfg == NULL || s == NULL || s->magic != ZR_ADAPTIVE_STATE_MAGIC) return ZR_EINVAL;
    if (s->head >= cfg->window || s->count > cfg->window || s->successes > s->count)
        return ZR_EINVAL;
    return ZR_OK;
}

zr_status zr_adaptive_check(const zr_adaptive_config *cfg, const zr_adaptive_state *state)
{
    if (cfg == NULL || state == NULL || zr_adaptive_validate(cfg, NULL) != ZR_OK)
        return ZR_EINVAL;
    if (usable(cfg, state) != ZR_OK) return ZR_ECORRUPT;
    /* the `count` outcomes before head (cyclically) hold exactly `successes` ones */
    uint32_t ones = 0;
    for (uint32_t k = 1; k <= state->count; k++) {
        uint32_t i = (state->head + cfg->window - k) % cfg->window;
        ones += (uint32_t)bit_get(state, i);
    }
    return ones == state->successes ? ZR_OK : ZR_ECORRUPT;
}

zr_status zr_adaptive_record(const zr_adaptive_config *cfg, zr_adaptive_state *state,
                             int success)
{
    zr_status rc = usable(cfg, state);
    if (rc != ZR_OK) return rc;
    int v = success != 0;
    if (state->count == cfg->window) {
        /* the slot at head holds the oldest outcome: it leaves the window */
        state->successes -= (uint32_t)bit_get(state, state->head);
    }
    else {
        state->count++;
    }
    bit_set(state, state->head, v);
    state->successes += (uint32_t)v;
    state->head = state->head + 1 == cfg->window ? 0 : state->head + 1;
    if (v)
        state->total_successes = zr_sat_add_u64(state->total_successes, 1);
    else
        state->total_failures = zr_sat_add_u64(state->total_failures, 1);
    return ZR_OK;
}

zr_status zr_adaptive_rate(const zr_adaptive_config *cfg, const zr_adaptive_state *state,
                           double *rate, uint32_t *samples)
{
    zr_status rc = usable(cfg, state);
    if (rc != ZR_OK) return rc;
    if (rate) *rate = state->count ? (double)state->successes / (double)state->count : 1.0;
    if (samples) *samples = state->count;
    return ZR_OK;
}

zr_status zr_adaptive_pressure(const zr_adaptive_config *cfg, const zr_adaptive_state *state,
                               double *out)
{
    zr_status rc = usable(cfg, state);
    if (rc != ZR_OK || out == NULL) return ZR_EINVAL;
    uint32_t need = cfg->min_samples ? cfg->min_samples : 1;
    if (state->count < need) {
        *out = ZR_ADAPTIVE_UNKNOWN_PRESSURE;
        return ZR_OK;
    }
    if (!(cfg->success_threshold > 0.0)) {
        *out = 0.0;
        return ZR_OK;
    }
    double rate = (double)state->successes / (double)state->count;
    *out = zr_clamp((cfg->success_threshold - rate) / cfg->success_threshold, 0.0, 1.0);
    return ZR_OK;
}

zr_status zr_adaptive_raw_delay(const zr_adaptive_config *cfg, const zr_adaptive_state *state,
                                uint64_t attempt, double *out)
{
    double p;
    if (attempt == 0 || out == NULL) return ZR_EINVAL;
    zr_status rc = zr_adaptive_pressure(cfg, state, &p);
    if (rc != ZR_OK) return rc;
    if (!(cfg->base_delay > 0.0) || !(cfg->max_delay > 0.0)) {
        *out = 0.0; /* never 0 * inf */
        return ZR_OK;
    }
    double d = cfg->base_delay * (1.0 + 3.0 * p);
    if (p > 0.0 && attempt > 1) {
        /* (1 + p)^(n-1) overflows to +inf for huge n, which the cap absorbs */
        d *= pow(1.0 + p, (double)(attempt - 1));
    }
    *out = zr_clamp(d, 0.0, cfg->max_delay);
    return ZR_OK;
}

zr_status zr_adaptive_delay(const zr_adaptive_config *cfg, const zr_adaptive_state *state,
                            const zr_backoff_config *jitter, zr_rng *rng, uint64_t attempt,
                            double prev, double *out)
{
    double raw, d;
    if (jitter == NULL || rng == NULL || out == NULL) return ZR_EINVAL;
    zr_status rc = zr_adaptive_raw_delay(cfg, state, attempt, &raw);
    if (rc != ZR_OK) return rc;
    rc = zr_backoff_jitter(jitter, rng, raw, prev, &d);
    if (rc != ZR_OK) return rc;
    *out = zr_clamp(d, 0.0, cfg->max_delay);
    return ZR_OK;
}

zr_status zr_adaptive_reset(const zr_adaptive_config *cfg, zr_adaptive_state *state)
{
    zr_status rc = usable(cfg, state);
    if (rc != ZR_OK) return rc;
    return zr_adaptive_init(cfg, state);
}

zr_status zr_adaptive_repair(const zr_adaptive_config *cfg, zr_adaptive_state *state,
                             int *changed)
{
    if (state == NULL || zr_adaptive_validate(cfg, NULL) != ZR_OK) return ZR_EINVAL;
    if (state->magic != ZR_ADAPTIVE_STATE_MAGIC) {
        if (changed) *changed = 1;
        return zr_adaptive_init(cfg, state);
    }
    int fixed = 0;
    if (state->head >= cfg->window) {
        state->head = 0;
        fixed = 1;
    }
    if (state->count > cfg->window) {
        state->count = cfg->window;
        fixed = 1;
    }
    uint32_t ones = 0;
    for (uint32_t k = 1; k <= state->count; k++)
        ones += (uint32_t)bit_get(state, (state->head + cfg->window - k) % cfg->window);
    if (ones != state->successes) {
        state->successes = ones;
        fixed = 1;
    }
    if (changed) *changed = fixed;
    return ZR_OK;
}
