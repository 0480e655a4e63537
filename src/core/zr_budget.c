/* zr_budget.c - token-bucket and ratio retry budgets (see zr_budget.h for the rules). */
#include "zr_budget.h"

#include <string.h>

#define MICRO 1000000u
/* epochs are clamped to +-2^60 so differences never overflow int64 */
#define EPOCH_LIMIT ((int64_t)1 << 60)

/* Saturating unsigned 64-bit multiplication; *overflowed (if not NULL) set to 1 on overflow. */
static uint64_t sat_mul_u64(uint64_t a, uint64_t b, int *overflowed)
{
    if (a != 0 && b > UINT64_MAX / a) {
        if (overflowed) *overflowed = 1;
        return UINT64_MAX;
    }
    return a * b;
}

/* A finite double >= 0 converted to uint64, saturating at UINT64_MAX (rounded to nearest). */
static uint64_t u64_from_double(double x)
{
    if (!(x > 0.0)) return 0;
    double r = floor(x + 0.5);
    if (r >= 18446744073709551616.0) return UINT64_MAX; /* 2^64 */
    return (uint64_t)r;
}

void zr_budget_config_token(zr_budget_config *cfg, double capacity, double refill_rate)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = ZR_BUDGET_TOKEN;
    cfg->capacity = capacity;
    cfg->refill_rate = refill_rate;
    cfg->initial_tokens = capacity;
    cfg->percent = 0.2;
    cfg->min_per_second = 10.0;
    cfg->window = 10.0;
    cfg->buckets = 10;
}

void zr_budget_config_ratio(zr_budget_config *cfg, double percent, double min_per_second,
                            double window, uint32_t buckets)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = ZR_BUDGET_RATIO;
    cfg->capacity = 1.0;
    cfg->refill_rate = 0.0;
    cfg->initial_tokens = 0.0;
    cfg->percent = percent;
    cfg->min_per_second = min_per_second;
    cfg->window = window;
    cfg->buckets = buckets;
}

zr_status zr_budget_validate(const zr_budget_config *cfg, const char **bad_field)
{
    const char *bad = NULL;
    if (cfg == NULL) {
        bad = "config";
    }
    else if (cfg->mode == ZR_BUDGET_TOKEN) {
        if (!(isfinite(cfg->capacity) && cfg->capacity > 0.0 &&
              cfg->capacity <= ZR_BUDGET_MAX_CAPACITY))
            bad = "capacity";
        else if (!zr_is_nonneg_finite(cfg->refill_rate))
            bad = "refill_rate";
        else if (!(zr_is_nonneg_finite(cfg->initial_tokens) &&
                   cfg->initial_tokens <= cfg->capacity))
            bad = "initial_tokens";
    }
    else if (cfg->mode == ZR_BUDGET_RATIO) {
        if (!(zr_is_nonneg_finite(cfg->percent) && cfg->percent <= ZR_BUDGET_MAX_PERCENT))
            bad = "percent";
        else if (!(zr_is_nonneg_finite(cfg->min_per_second) &&
                   cfg->min_per_second <= ZR_BUDGET_MAX_MIN_PER_SECOND))
            bad = "min_per_second";
        else if (!(isfinite(cfg->window) && cfg->window > 0.0 &&
                   cfg->window <= ZR_BUDGET_MAX_WINDOW))
            bad = "window";
        else if (cfg->buckets < 1 || cfg->buckets > ZR_BUDGET_MAX_BUCKETS)
            bad = "buckets";
        /* the slice width must be a positive finite number */
        else if (!(cfg->window / (double)cfg->buckets > 0.0))
            bad = "window";
    }
    else {
        bad = "mode";
    }
    if (bad != NULL) {
        if (bad_field) *bad_field = bad;
        return ZR_EINVAL;
    }
    return ZR_OK;
}

/* ---- ratio helpers ------------------------------------------------------------------- */

/* The slice number that `now` falls in, clamped to +-2^60. */
static int64_t epoch_of(const zr_budget_config *cfg, double now)
{
    double e = floor(now / (cfg->window / (double)cfg->buckets));
    if (!(e > -(double)EPOCH_LIMIT)) return -EPOCH_LIMIT; /* also NaN, never expected */
    if (e > (double)EPOCH_LIMIT) return EPOCH_LIMIT;
    return (int64_t)e;
}

/* Index of slice `epoch` in the ring. */
static uint32_t slot_of(const zr_budget_config *cfg, int64_t epoch)
{
    int64_t b = (int64_t)cfg->buckets;
    int64_t m = epoch % b;
    return (uint32_t)(m < 0 ? m + b : m);
}

/* Move the window so its newest slice is the one of `now` (never backwards): slices that
 * fall out of the window leave it with their counts. */
static void ratio_advance(const zr_budget_config *cfg, zr_budget_state *s, double now)
{
    int64_t e = epoch_of(cfg, now);
    if (e <= s->head_epoch) return;
    int64_t shift = e - s->head_epoch; /* > 0, <= 2^61 */
    int64_t n = shift < (int64_t)cfg->buckets ? shift : (int64_t)cfg->buckets;
    /* the n slices after the old head are recycled for the epochs e-n+1 .. e */
    for (int64_t k = n - 1; k >= 0; k--) {
        int64_t ep = e - k;
        zr_budget_slot *slot = &s->slots[slot_of(cfg, ep)];
        s->window_requests = zr_sat_sub_u64(s->window_requests, slot->requests);
        s->window_retries = zr_sat_sub_u64(s->window_retries, slot->retries);
        slot->epoch = ep;
        slot->requests = 0;
        slot->retries = 0;
    }
    s->head_epoch = e;
}

/* percent * requests + floor over the window, in millionths of a retry (saturating). */
static uint64_t ratio_allowance_micro(const zr_budget_config *cfg, const zr_budget_state *s)
{
    uint64_t ppm = u64_from_double(cfg->percent * (double)MICRO);
    uint64_t floor_micro = u64_from_double(cfg->min_per_second * cfg->window * (double)MICRO);
    return zr_sat_add_u64(sat_mul_u64(s->window_requests, ppm, NULL), floor_micro);
}

/* ---- token helpers ------------------------------------------------------------------- */

/* Refill the bucket for the time elapsed since the last refill (never NaN: every operand
 * is finite and >= 0; an overflowing product becomes +inf and is clamped to capacity). */
static void token_refill(const zr_budget_config *cfg, zr_budget_state *s, double now)
{
    if (!(now > s->last_refill)) return; /* the clock stood still or went backwards */
    double add = (now - s->last_refill) * cfg->refill_rate;
    s->tokens = zr_clamp(s->tokens + add, 0.0, cfg->capacity);
    s->last_refill = now;
}

/* Common argument checks; ZR_EINVAL when an operation cannot run. */
static zr_status usable(const zr_budget_config *cfg, const zr_budget_state *s, double now)
{
    if (cfg == NULL || s == NULL || !isfinite(now)) return ZR_EINVAL;
    if (s->magic != ZR_BUDGET_STATE_MAGIC || s->mode != (uint32_t)cfg->mode) return ZR_EINVAL;
    /* a corrupted head could overflow the epoch arithmetic: refuse it (zr_budget_repair) */
    if (cfg->mode == ZR_BUDGET_RATIO &&
        (s->head_epoch < -EPOCH_LIMIT || s->head_epoch > EPOCH_LIMIT))
        return ZR_EINVAL;
    return ZR_OK;
}

/* Bring the state up to `now` (refill or expire). */
static void advance(const zr_budget_config *cfg, zr_budget_state *s, double now)
{
    if (cfg->mode == ZR_BUDGET_TOKEN)
        token_refill(cfg, s, now);
    else
        ratio_advance(cfg, s, now);
}

/* ---- public API ---------------------------------------------------------------------- */

zr_status zr_budget_init(const zr_budget_config *cfg, zr_budget_state *state, double now)
{
    if (state == NULL || !isfinite(now) || zr_budget_validate(cfg, NULL) != ZR_OK)
        return ZR_EINVAL;
    memset(state, 0, sizeof *state);
    state->magic = ZR_BUDGET_STATE_MAGIC;
    state->mode = (uint32_t)cfg->mode;
    if (cfg->mode == ZR_BUDGET_TOKEN) {
        state->tokens = cfg->initial_tokens;
        state->last_refill = now;
    }
    else {
        int64_t e = epoch_of(cfg, now);
        state->head_epoch = e;
        for (uint32_t k = 0; k < cfg->buckets; k++) {
            int64_t ep = e - (int64_t)k;
            state->slots[slot_of(cfg, ep)].epoch = ep;
        }
    }
    return ZR_OK;
}

zr_status zr_budget_check(const zr_budget_config *cfg, const zr_budget_state *state)
{
    if (cfg == NULL || state == NULL || zr_budget_validate(cfg, NULL) != ZR_OK) return ZR_EINVAL;
    if (state->magic != ZR_BUDGET_STATE_MAGIC || state->mode != (uint32_t)cfg->mode)
        return ZR_ECORRUPT;
    if (cfg->mode == ZR_BUDGET_TOKEN) {
        if (!(state->tokens >= 0.0 && state->tokens <= cfg->capacity)) return ZR_ECORRUPT;
        if (!isfinite(state->last_refill)) return ZR_ECORRUPT;
        return ZR_OK;
    }
    if (state->head_epoch < -EPOCH_LIMIT || state->head_epoch > EPOCH_LIMIT) return ZR_ECORRUPT;
    uint64_t req = 0, ret = 0;
    for (uint32_t i = 0; i < cfg->buckets; i++) {
        const zr_budget_slot *slot = &state->slots[i];
        if (slot->epoch > state->head_epoch ||
            slot->epoch <= state->head_epoch - (int64_t)cfg->buckets ||
            slot_of(cfg, slot->epoch) != i)
            return ZR_ECORRUPT;
        req = zr_sat_add_u64(req, slot->requests);
        ret = zr_sat_add_u64(ret, slot->retries);
    }
    if (req != state->window_requests || ret != state->window_retries) return ZR_ECORRUPT;
    return ZR_OK;
}

zr_status zr_budget_on_request(const zr_budget_config *cfg, zr_budget_state *state, double now)
{
    zr_status rc = usable(cfg, state, now);
    if (rc != ZR_OK) return rc;
    state->total_requests = zr_sat_add_u64(state->total_requests, 1);
    if (cfg->mode == ZR_BUDGET_RATIO) {
        /* a token bucket refills lazily (exactly the same result): it needs no time here */
        ratio_advance(cfg, state, now);
        zr_budget_slot *slot = &state->slots[slot_of(cfg, state->head_epoch)];
        slot->requests = zr_sat_add_u64(slot->requests, 1);
        state->window_requests = zr_sat_add_u64(state->window_requests, 1);
    }
    return ZR_OK;
}

zr_status zr_budget_try_acquire(const zr_budget_config *cfg, zr_budget_state *state, double now,
                                uint64_t n, int *granted)
{
    zr_status rc = usable(cfg, state, now);
    if (rc != ZR_OK || granted == NULL) return ZR_EINVAL;
    advance(cfg, state, now);
    int ok;
    if (n == 0) {
        ok = 1;
    }
    else if (cfg->mode == ZR_BUDGET_TOKEN) {
        double want = (double)n; /* exact up to 2^53; larger n exceeds any capacity */
        ok = state->tokens >= want;
        if (ok) state->tokens = zr_clamp(state->tokens - want, 0.0, cfg->capacity);
    }
    else {
        /* retries + n <= percent * requests + floor, in millionths; a request so large
         * that its count overflows is refused rather than wrapped */
        int overflow = 0;
        uint64_t after = state->window_retries + n;
        if (after < n) overflow = 1;
        uint64_t need = sat_mul_u64(after, MICRO, &overflow);
        ok = !overflow && need <= ratio_allowance_micro(cfg, state);
        if (ok) {
            zr_budget_slot *slot = &state->slots[slot_of(cfg, state->head_epoch)];
            slot->retries = zr_sat_add_u64(slot->retries, n);
            state->window_retries = after;
        }
    }
    if (ok)
        state->total_granted = zr_sat_add_u64(state->total_granted, n);
    else
        state->total_refused = zr_sat_add_u64(state->total_refused, 1);
    *granted = ok;
    return ZR_OK;
}

zr_status zr_budget_return(const zr_budget_config *cfg, zr_budget_state *state, double now,
                           uint64_t n)
{
    zr_status rc = usable(cfg, state, now);
    if (rc != ZR_OK) return rc;
    advance(cfg, state, now);
    state->total_returned = zr_sat_add_u64(state->total_returned, n);
    if (cfg->mode == ZR_BUDGET_TOKEN) {
        state->tokens = zr_clamp(state->tokens + (double)n, 0.0, cfg->capacity);
        return ZR_OK;
    }
    uint64_t left = n;
    for (uint32_t k = 0; k < cfg->buckets && left > 0; k++) {
        zr_budget_slot *slot = &state->slots[slot_of(cfg, state->head_epoch - (int64_t)k)];
        uint64_t take = slot->retries < left ? slot->retries : left;
        slot->retries -= take;
        state->window_retries = zr_sat_sub_u64(state->window_retries, take);
        left -= take;
    }
    return ZR_OK;
}

zr_status zr_budget_available(const zr_budget_config *cfg, zr_budget_state *state, double now,
                              double *out)
{
    zr_status rc = usable(cfg, state, now);
    if (rc != ZR_OK || out == NULL) return ZR_EINVAL;
    advance(cfg, state, now);
    if (cfg->mode == ZR_BUDGET_TOKEN) {
        *out = state->tokens;
        return ZR_OK;
    }
    uint64_t allow = ratio_allowance_micro(cfg, state);
    uint64_t used = sat_mul_u64(state->window_retries, MICRO, NULL);
    *out = allow > used ? (double)(allow - used) / (double)MICRO : 0.0;
    return ZR_OK;
}

zr_status zr_budget_available_whole(const zr_budget_config *cfg, zr_budget_state *state,
                                    double now, uint64_t *out)
{
    zr_status rc = usable(cfg, state, now);
    if (rc != ZR_OK || out == NULL) return ZR_EINVAL;
    advance(cfg, state, now);
    if (cfg->mode == ZR_BUDGET_TOKEN) {
        *out = (uint64_t)floor(state->tokens); /* tokens <= 2^53 */
        return ZR_OK;
    }
    uint64_t allow = ratio_allowance_micro(cfg, state);
    uint64_t used = sat_mul_u64(state->window_retries, MICRO, NULL);
    *out = allow > used ? (allow - used) / MICRO : 0;
    return ZR_OK;
}

/* Clear every slice of a ratio window (the ring keeps its epochs). */
static void ratio_clear(const zr_budget_config *cfg, zr_budget_state *s)
{
    for (uint32_t i = 0; i < cfg->buckets; i++) {
        s->slots[i].requests = 0;
        s->slots[i].retries = 0;
    }
    s->window_requests = 0;
    s->window_retries = 0;
}

zr_status zr_budget_drain(const zr_budget_config *cfg, zr_budget_state *state, double now)
{
    zr_status rc = usable(cfg, state, now);
    if (rc != ZR_OK) return rc;
    advance(cfg, state, now);
    if (cfg->mode == ZR_BUDGET_TOKEN) {
        state->tokens = 0.0;
        return ZR_OK;
    }
    /* spend what the window allows now, so nothing is left until slices expire */
    uint64_t allow = ratio_allowance_micro(cfg, state);
    uint64_t used = sat_mul_u64(state->window_retries, MICRO, NULL);
    if (allow > used) {
        uint64_t take = (allow - used) / MICRO + ((allow - used) % MICRO != 0);
        zr_budget_slot *slot = &state->slots[slot_of(cfg, state->head_epoch)];
        slot->retries = zr_sat_add_u64(slot->retries, take);
        state->window_retries = zr_sat_add_u64(state->window_retries, take);
    }
    return ZR_OK;
}

zr_status zr_budget_reset(const zr_budget_config *cfg, zr_budget_state *state, double now)
{
    zr_status rc = usable(cfg, state, now);
    if (rc != ZR_OK) return rc;
    advance(cfg, state, now);
    if (cfg->mode == ZR_BUDGET_TOKEN)
        state->tokens = cfg->capacity;
    else
        ratio_clear(cfg, state);
    state->total_requests = 0;
    state->total_granted = 0;
    state->total_refused = 0;
    state->total_returned = 0;
    return ZR_OK;
}

zr_status zr_budget_adopt(const zr_budget_config *cfg, zr_budget_state *state, double now,
                          double tokens, uint64_t seen_granted, uint64_t seen_returned,
                          double hold)
{
    zr_status rc = usable(cfg, state, now);
    if (rc != ZR_OK) return rc;
    if (!isfinite(tokens) || !isfinite(hold) || hold < 0.0) return ZR_EINVAL;
    if (cfg->mode != ZR_BUDGET_TOKEN) return ZR_ESTATE;
    double spent = state->total_granted >= seen_granted
                       ? (double)(state->total_granted - seen_granted) : 0.0;
    double back = state->total_returned >= seen_returned
                      ? (double)(state->total_returned - seen_returned) : 0.0;
    state->tokens = zr_clamp(tokens - spent + back, 0.0, cfg->capacity);
    if (now + hold > state->last_refill) state->last_refill = now + hold;
    return ZR_OK;
}

zr_status zr_budget_repair(const zr_budget_config *cfg, zr_budget_state *state, double now,
                           int *changed)
{
    if (state == NULL || !isfinite(now) || zr_budget_validate(cfg, NULL) != ZR_OK)
        return ZR_EINVAL;
    int fixed = 0;
    if (state->magic != ZR_BUDGET_STATE_MAGIC || state->mode != (uint32_t)cfg->mode) {
        if (changed) *changed = 1;
        return zr_budget_init(cfg, state, now);
    }
    if (cfg->mode == ZR_BUDGET_TOKEN) {
        if (!(state->tokens >= 0.0 && state->tokens <= cfg->capacity)) {
            /* an in-range value is written whole (one aligned 8-byte store); anything else
             * is garbage, and the safe side of a retry budget is no retry until it refills */
            state->tokens = 0.0;
            fixed = 1;
        }
        if (!isfinite(state->last_refill)) {
            state->last_refill = now;
            fixed = 1;
        }
    }
    else {
        if (state->head_epoch < -EPOCH_LIMIT || state->head_epoch > EPOCH_LIMIT) {
            state->head_epoch = epoch_of(cfg, now);
            fixed = 1;
        }
        int64_t head = state->head_epoch;
        uint64_t req = 0, ret = 0;
        for (uint32_t k = 0; k < cfg->buckets; k++) {
            int64_t ep = head - (int64_t)k;
            zr_budget_slot *slot = &state->slots[slot_of(cfg, ep)];
            if (slot->epoch != ep) { /* a slice from outside the window: empty it */
                slot->epoch = ep;
                slot->requests = 0;
                slot->retries = 0;
                fixed = 1;
            }
            req = zr_sat_add_u64(req, slot->requests);
            ret = zr_sat_add_u64(ret, slot->retries);
        }
        if (req != state->window_requests || ret != state->window_retries) {
            state->window_requests = req;
            state->window_retries = ret;
            fixed = 1;
        }
    }
    if (changed) *changed = fixed;
    return ZR_OK;
}
