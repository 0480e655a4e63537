/* zr_shared_state.c - engine structs in shared segments (contracts in zr_shared_state.h). */
#include "zr_shared_state.h"

#include <math.h>
#include <string.h>

uint64_t zr_shared_breaker_fingerprint(const zr_breaker_config *cfg)
{
    zr_fingerprint fp;
    zr_fp_begin(&fp, ZR_SHM_KIND_BREAKER, (uint32_t)(ZR_BREAKER_LAYOUT & 0xffffffffu),
                zr_breaker_state_size(cfg));
    zr_fp_u64(&fp, zr_breaker_config_fingerprint(cfg));
    return zr_fp_end(&fp);
}

zr_status zr_shared_breaker_init(void *payload, void *cfg)
{
    const zr_breaker_config *c = cfg;
    return zr_breaker_state_init(c, payload, zr_breaker_state_size(c));
}

uint32_t zr_shared_breaker_reap(const zr_breaker_config *cfg, zr_breaker_state *state)
{
    zr_breaker_slot *sl = zr_breaker_slots(state);
    uint32_t freed = 0;
    for (uint32_t i = 0; i < cfg->half_open_max_calls; i++) {
        if (sl[i].in_use && sl[i].owner != 0 && !zr_pid_alive((int64_t)sl[i].owner))
            freed += zr_breaker_release_owner(cfg, state, sl[i].owner);
    }
    return freed;
}

zr_status zr_shared_breaker_repair(void *payload, void *cfg)
{
    const zr_breaker_config *c = cfg;
    zr_breaker_state *s = payload;
    if (zr_breaker_state_check(c, s) != ZR_OK) return ZR_ECORRUPT;
    zr_breaker_repair(c, s);
    (void)zr_shared_breaker_reap(c, s);
    return ZR_OK;
}

/* ---- retry budget ---------------------------------------------------------------- */

uint64_t zr_shared_budget_fingerprint(const zr_budget_config *cfg)
{
    zr_fingerprint fp;
    zr_fp_begin(&fp, ZR_SHM_KIND_BUDGET, ZR_BUDGET_STATE_MAGIC, sizeof(zr_budget_state));
    zr_fp_u64(&fp, (uint64_t)cfg->mode);
    if (cfg->mode == ZR_BUDGET_TOKEN) {
        zr_fp_f64(&fp, cfg->capacity);
        zr_fp_f64(&fp, cfg->refill_rate);
        zr_fp_f64(&fp, cfg->initial_tokens);
    }
    else {
        zr_fp_f64(&fp, cfg->percent);
        zr_fp_f64(&fp, cfg->min_per_second);
        zr_fp_f64(&fp, cfg->window);
        zr_fp_u64(&fp, cfg->buckets);
    }
    return zr_fp_end(&fp);
}

zr_status zr_shared_budget_init(void *payload, void *arg)
{
    const zr_shared_budget_arg *a = arg;
    return zr_budget_init(a->cfg, payload, a->now);
}

zr_status zr_shared_budget_repair(void *payload, void *arg)
{
    const zr_shared_budget_arg *a = arg;
    zr_budget_state *s = payload;
    if (s->magic != ZR_BUDGET_STATE_MAGIC || s->mode != (uint32_t)a->cfg->mode)
        return ZR_ECORRUPT;
    /* tokens out of range -> 0 (no retry until refill), window sums recomputed, slices
     * outside the window emptied: zr_budget_repair */
    if (zr_budget_repair(a->cfg, s, a->now, NULL) != ZR_OK) return ZR_ECORRUPT;
    return zr_budget_check(a->cfg, s) == ZR_OK ? ZR_OK : ZR_ECORRUPT;
}

/* ---- adaptive strategy ------------------------------------------------------------ */

uint64_t zr_shared_adaptive_fingerprint(const zr_adaptive_config *cfg)
{
    zr_fingerprint fp;
    zr_fp_begin(&fp, ZR_SHM_KIND_ADAPTIVE, ZR_ADAPTIVE_STATE_MAGIC, sizeof(zr_adaptive_state));
    zr_fp_f64(&fp, cfg->base_delay);
    zr_fp_f64(&fp, cfg->max_delay);
    zr_fp_f64(&fp, cfg->success_threshold);
    zr_fp_u64(&fp, cfg->window);
    zr_fp_u64(&fp, cfg->min_samples);
    return zr_fp_end(&fp);
}

zr_status zr_shared_adaptive_init(void *payload, void *cfg)
{
    return zr_adaptive_init(cfg, payload);
}

zr_status zr_shared_adaptive_repair(void *payload, void *cfg)
{
    const zr_adaptive_config *c = cfg;
    zr_adaptive_state *s = payload;
    if (s->magic != ZR_ADAPTIVE_STATE_MAGIC) return ZR_ECORRUPT;
    /* head/count clamped to the window, successes recounted from the bits */
    if (zr_adaptive_repair(c, s, NULL) != ZR_OK) return ZR_ECORRUPT;
    return zr_adaptive_check(c, s) == ZR_OK ? ZR_OK : ZR_ECORRUPT;
}
