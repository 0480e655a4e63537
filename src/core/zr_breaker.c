/* zr_breaker.c - the circuit-breaker state machine (see zr_breaker.h for the rules). */
#include "zr_breaker.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "zr_shm.h" /* zr_fnv1a */

/* ---- layout of the variable part ------------------------------------------------- */

/* Bytes of the probe slots that follow the header. */
static size_t slots_bytes(const zr_breaker_config *cfg)
{
    return (size_t)cfg->half_open_max_calls * sizeof(zr_breaker_slot);
}

/* Bytes of the window after the slots (a multiple of 8; 0 without a window). */
static size_t window_bytes(const zr_breaker_config *cfg)
{
    if (cfg->window_kind == ZR_WINDOW_COUNT) return ((size_t)cfg->window_calls + 7u) & ~(size_t)7u;
    if (cfg->window_kind == ZR_WINDOW_TIME)
        return (size_t)cfg->window_buckets * sizeof(zr_breaker_bucket);
    return 0;
}

/* The COUNT ring: one byte per outcome, bit 0 failure, bit 1 slow. */
static unsigned char *ring_of(const zr_breaker_config *cfg, zr_breaker_state *s)
{
    return (unsigned char *)s + sizeof(zr_breaker_state) + slots_bytes(cfg);
}

/* The TIME window's buckets (same place as the COUNT ring). */
static zr_breaker_bucket *buckets_of(const zr_breaker_config *cfg, zr_breaker_state *s)
{
    return (zr_breaker_bucket *)(void *)ring_of(cfg, s);
}

/* Read-only view of the buckets, for stats. */
static const zr_breaker_bucket *cbuckets_of(const zr_breaker_config *cfg,
                                            const zr_breaker_state *s)
{
    return (const zr_breaker_bucket *)(const void *)((const unsigned char *)s +
                                                     sizeof(zr_breaker_state) + slots_bytes(cfg));
}

/* ---- configuration ------------------------------------------------------------------ */

void zr_breaker_config_default(zr_breaker_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->failure_threshold = 5;
    cfg->success_threshold = 1;
    cfg->half_open_max_calls = 1;
    cfg->window_kind = ZR_WINDOW_NONE;
    cfg->window_calls = 100;
    cfg->window_buckets = 10;
    cfg->minimum_calls = 10;
    cfg->window_duration = 60.0;
    cfg->failure_rate_threshold = 0.5;
    cfg->slow_call_duration = 0.0;
    cfg->slow_call_rate_threshold = 1.0;
    cfg->recovery_timeout = 30.0;
    cfg->break_multiplier = 1.0;
    cfg->max_break = 30.0;
    cfg->permit_lease = 30.0;
}

/* 1 if x is a finite number in [0, 1]. */
static int unit_interval(double x) { return isfinite(x) && x >= 0.0 && x <= 1.0; }

zr_status zr_breaker_config_check(const zr_breaker_config *cfg, const char **field)
{
    const char *bad = NULL;
    int window = cfg->window_kind != ZR_WINDOW_NONE;
    if (cfg->window_kind > ZR_WINDOW_TIME) bad = "window_kind";
    else if (cfg->success_threshold < 1) bad = "success_threshold";
    else if (cfg->half_open_max_calls < 1 || cfg->half_open_max_calls > ZR_BREAKER_MAX_PROBES)
        bad = "half_open_max_calls";
    else if (cfg->window_kind == ZR_WINDOW_COUNT &&
             (cfg->window_calls < 1 || cfg->window_calls > ZR_BREAKER_MAX_WINDOW_CALLS))
        bad = "window_calls";
    else if (cfg->window_kind == ZR_WINDOW_TIME &&
             (cfg->window_buckets < 1 || cfg->window_buckets > ZR_BREAKER_MAX_BUCKETS))
        bad = "window_buckets";
    else if (cfg->window_kind == ZR_WINDOW_TIME &&
             !(isfinite(cfg->window_duration) && cfg->window_duration > 0.0))
        bad = "window_duration";
    else if (window && cfg->minimum_calls < 1) bad = "minimum_calls";
    else if (!unit_interval(cfg->failure_rate_threshold)) bad = "failure_rate_threshold";
    else if (!zr_is_nonneg_finite(cfg->slow_call_duration)) bad = "slow_call_duration";
    else if (!unit_interval(cfg->slow_call_rate_threshold)) bad = "slow_call_rate_threshold";
    else if (cfg->slow_call_duration > 0.0 && !window) bad = "slow_call_duration";
    else if (!zr_is_nonneg_finite(cfg->recovery_timeout)) bad = "recovery_timeout";
    else if (!(isfinite(cfg->break_multiplier) && cfg->break_multiplier >= 1.0))
        bad = "break_multiplier";
    else if (!(isfinite(cfg->max_break) && cfg->max_break >= cfg->recovery_timeout))
        bad = "max_break";
    else if (!(isfinite(cfg->permit_lease) && cfg->permit_lease > 0.0)) bad = "permit_lease";
    else if (cfg->failure_threshold == 0 &&
             !(window && (cfg->failure_rate_threshold > 0.0 ||
                          (cfg->slow_call_duration > 0.0 && cfg->slow_call_rate_threshold > 0.0))))
        bad = "failure_threshold"; /* no rule could ever trip */
    if (bad != NULL) {
        if (field != NULL) *field = bad;
        return ZR_EINVAL;
    }
    return ZR_OK;
}

size_t zr_breaker_state_size(const zr_breaker_config *cfg)
{
    if (zr_breaker_config_check(cfg, NULL) != ZR_OK) return 0;
    return sizeof(zr_breaker_state) + slots_bytes(cfg) + window_bytes(cfg);
}

uint64_t zr_breaker_config_fingerprint(const zr_breaker_config *cfg)
{
    /* field by field: no padding bytes in the hash */
    uint64_t h = ZR_FNV_OFFSET;
    const uint32_t u[] = {cfg->failure_threshold, cfg->success_threshold,
                          cfg->half_open_max_calls, cfg->window_kind, cfg->window_calls,
                          cfg->window_buckets, cfg->minimum_calls};
    const double d[] = {cfg->window_duration,  cfg->failure_rate_threshold,
                        cfg->slow_call_duration, cfg->slow_call_rate_threshold,
                        cfg->recovery_timeout, cfg->break_multiplier,
                        cfg->max_break,        cfg->permit_lease};
    h = zr_fnv1a(u, sizeof u, h);
    h = zr_fnv1a(d, sizeof d, h);
    return h;
}

/* ---- window ------------------------------------------------------------------------- */

/* Empty the window (ring or buckets) and its totals. */
static void window_clear(const zr_breaker_config *cfg, zr_breaker_state *s)
{
    size_t n = window_bytes(cfg);
    if (n) memset(ring_of(cfg, s), 0, n);
    s->win_pos = 0;
    s->win_filled = 0;
    s->has_head = 0;
    s->win_head = 0;
    s->win_calls = s->win_failures = s->win_slow = 0;
}

/* Bucket index of time `now` (saturated into int64). */
static int64_t bucket_index(const zr_breaker_config *cfg, double now)
{
    double q = floor(now / (cfg->window_duration / (double)cfg->window_buckets));
    if (!(q > -9.0e18)) return (int64_t)-9000000000000000000LL;
    if (q > 9.0e18) return (int64_t)9000000000000000000LL;
    return (int64_t)q;
}

/* Position of bucket `index` in the ring of window_buckets buckets (index may be < 0). */
static uint32_t bucket_slot(const zr_breaker_config *cfg, int64_t index)
{
    int64_t m = index % (int64_t)cfg->window_buckets;
    if (m < 0) m += cfg->window_buckets;
    return (uint32_t)m;
}

/* Move a TIME window's head to bucket index k (k > head), evicting what falls out. */
static void window_advance(const zr_breaker_config *cfg, zr_breaker_state *s, int64_t k)
{
    zr_breaker_bucket *b = buckets_of(cfg, s);
    int64_t nb = cfg->window_buckets;
    /* (compared as win_head < k - nb: k - from could overflow int64 when the head and k
     * sit at opposite ends of the saturated index range - found by fuzz_breaker) */
    int64_t from = (s->has_head && s->win_head >= k - nb) ? s->win_head + 1 : k - nb + 1;
    for (int64_t i = from; i <= k; i++) {
        zr_breaker_bucket *x = &b[bucket_slot(cfg, i)];
        s->win_calls = zr_sat_sub_u64(s->win_calls, x->calls);
        s->win_failures = zr_sat_sub_u64(s->win_failures, x->failures);
        s->win_slow = zr_sat_sub_u64(s->win_slow, x->slow);
        x->index = i;
        x->calls = x->failures = x->slow = 0;
    }
    s->win_head = k;
    s->has_head = 1;
}

/* Count one outcome in the window (COUNT: evict the oldest when full; TIME: into the
 * bucket of `now`, advancing the window first). No-op without a window. */
static void window_record(const zr_breaker_config *cfg, zr_breaker_state *s, double now,
                          int failed, int slow)
{
    if (cfg->window_kind == ZR_WINDOW_COUNT) {
        unsigned char *ring = ring_of(cfg, s);
        if (s->win_filled >= cfg->window_calls) {
            unsigned char old = ring[s->win_pos];
            s->win_calls = zr_sat_sub_u64(s->win_calls, 1);
            s->win_failures = zr_sat_sub_u64(s->win_failures, old & 1u);
            s->win_slow = zr_sat_sub_u64(s->win_slow, (old >> 1) & 1u);
        }
        else {
            s->win_filled++;
        }
        ring[s->win_pos] = (unsigned char)((failed ? 1u : 0u) | (slow ? 2u : 0u));
        s->win_pos = s->win_pos + 1 >= cfg->window_calls ? 0 : s->win_pos + 1;
    }
    else if (cfg->window_kind == ZR_WINDOW_TIME) {
        int64_t k = bucket_index(cfg, now);
        if (!s->has_head || k > s->win_head) window_advance(cfg, s, k);
        /* an outcome stamped before the head (clock skew between processes) goes into the
         * newest bucket */
        zr_breaker_bucket *x = &buckets_of(cfg, s)[bucket_slot(cfg, s->win_head)];
        x->calls = zr_sat_add_u64(x->calls, 1);
        if (failed) x->failures = zr_sat_add_u64(x->failures, 1);
        if (slow) x->slow = zr_sat_add_u64(x->slow, 1);
    }
    else {
        return;
    }
    s->win_calls = zr_sat_add_u64(s->win_calls, 1);
    if (failed) s->win_failures = zr_sat_add_u64(s->win_failures, 1);
    if (slow) s->win_slow = zr_sat_add_u64(s->win_slow, 1);
}

/* ---- transitions ---------------------------------------------------------------------- */

/* Enter mode `to` (a new epoch even when the mode stays, e.g. reset of a closed breaker);
 * reports a change in *ch when the mode differs. */
static void set_mode(const zr_breaker_config *cfg, zr_breaker_state *s, uint32_t to,
                     zr_breaker_change *ch)
{
    uint32_t from = s->mode;
    (void)cfg;
    s->epoch = zr_sat_add_u64(s->epoch, 1);
    /* probe slots are kept: a probe still running holds its slot until it returns (its
     * outcome is stale), so probes in flight never exceed half_open_max_calls */
    s->half_open_successes = 0;
    if (from != to) {
        s->mode = to;
        s->transitions = zr_sat_add_u64(s->transitions, 1);
        if (ch != NULL) {
            ch->changed = 1;
            ch->from = from;
            ch->to = to;
        }
    }
}

/* Open at `now`: the first trip since closing breaks for recovery_timeout, each re-trip from
 * HALF_OPEN for the previous break x break_multiplier, capped at max_break. */
static void trip(const zr_breaker_config *cfg, zr_breaker_state *s, double now,
                 zr_breaker_change *ch)
{
    double brk;
    if (s->mode == ZR_BREAKER_HALF_OPEN && s->consecutive_trips > 0) {
        brk = s->break_duration * cfg->break_multiplier; /* may be inf: capped below */
        if (!(brk <= cfg->max_break)) brk = cfg->max_break;
        if (brk < cfg->recovery_timeout) brk = cfg->recovery_timeout;
    }
    else {
        brk = cfg->recovery_timeout;
    }
    s->consecutive_trips = zr_sat_inc_u32(s->consecutive_trips);
    s->trips = zr_sat_add_u64(s->trips, 1);
    s->break_duration = brk;
    s->opened_at = now;
    s->open_until = now + brk;
    if (!isfinite(s->open_until)) s->open_until = DBL_MAX; /* saturate (now near DBL_MAX) */
    set_mode(cfg, s, ZR_BREAKER_OPEN, ch);
}

/* Close: failure run, trip streak, break and window reset. */
static void close_breaker(const zr_breaker_config *cfg, zr_breaker_state *s,
                          zr_breaker_change *ch)
{
    s->consecutive_trips = 0;
    s->consecutive_failures = 0;
    s->break_duration = cfg->recovery_timeout;
    window_clear(cfg, s);
    set_mode(cfg, s, ZR_BREAKER_CLOSED, ch);
}

/* Start probing: success/failure runs reset, probe slots kept (see the header). */
static void to_half_open(const zr_breaker_config *cfg, zr_breaker_state *s,
                         zr_breaker_change *ch)
{
    s->consecutive_successes = 0;
    s->consecutive_failures = 0;
    set_mode(cfg, s, ZR_BREAKER_HALF_OPEN, ch);
}

/* 1 if a CLOSED breaker with these counts must trip (the rules in the header). */
static int should_trip(const zr_breaker_config *cfg, const zr_breaker_state *s)
{
    if (cfg->failure_threshold > 0 && s->consecutive_failures >= cfg->failure_threshold)
        return 1;
    if (cfg->window_kind == ZR_WINDOW_NONE || s->win_calls < cfg->minimum_calls) return 0;
    double calls = (double)s->win_calls;
    if (cfg->failure_rate_threshold > 0.0 &&
        (double)s->win_failures >= cfg->failure_rate_threshold * calls)
        return 1;
    if (cfg->slow_call_duration > 0.0 && cfg->slow_call_rate_threshold > 0.0 &&
        (double)s->win_slow >= cfg->slow_call_rate_threshold * calls)
        return 1;
    return 0;
}

/* No change yet (ch may be NULL). */
static void clear_change(zr_breaker_change *ch)
{
    if (ch != NULL) ch->changed = 0, ch->from = ch->to = 0;
}

/* OPEN whose break is over becomes HALF_OPEN. */
static void poll(const zr_breaker_config *cfg, zr_breaker_state *s, double now,
                 zr_breaker_change *ch)
{
    if (s->mode == ZR_BREAKER_OPEN && now >= s->open_until) to_half_open(cfg, s, ch);
}

/* Count one outcome in the current epoch and apply the mode's rules. */
static void apply_outcome(const zr_breaker_config *cfg, zr_breaker_state *s, double now,
                          zr_breaker_outcome outcome, double duration, zr_breaker_change *ch)
{
    if (outcome == ZR_OUTCOME_IGNORED) {
        s->ignored = zr_sat_add_u64(s->ignored, 1);
        return;
    }
    int failed = outcome == ZR_OUTCOME_FAILURE;
    int slow = cfg->slow_call_duration > 0.0 && duration >= cfg->slow_call_duration;
    if (failed) {
        s->failures = zr_sat_add_u64(s->failures, 1);
        s->consecutive_failures = zr_sat_inc_u32(s->consecutive_failures);
        s->consecutive_successes = 0;
        s->last_failure_time = now;
        s->has_last_failure = 1;
    }
    else {
        s->successes = zr_sat_add_u64(s->successes, 1);
        s->consecutive_successes = zr_sat_inc_u32(s->consecutive_successes);
        s->consecutive_failures = 0;
    }
    if (slow) s->slow_calls = zr_sat_add_u64(s->slow_calls, 1);
    switch (s->mode) {
    case ZR_BREAKER_CLOSED:
        window_record(cfg, s, now, failed, slow);
        if (should_trip(cfg, s)) trip(cfg, s, now, ch);
        break;
    case ZR_BREAKER_HALF_OPEN:
        if (failed || (slow && cfg->slow_call_rate_threshold > 0.0)) {
            trip(cfg, s, now, ch);
        }
        else {
            s->half_open_successes = zr_sat_inc_u32(s->half_open_successes);
            if (s->half_open_successes >= cfg->success_threshold) close_breaker(cfg, s, ch);
        }
        break;
    default: /* OPEN, ISOLATED, DISABLED: counted above, no rule applies */
        break;
    }
}

/* ---- operations ----------------------------------------------------------------------- */

zr_status zr_breaker_state_init(const zr_breaker_config *cfg, zr_breaker_state *state,
                                size_t size)
{
    size_t need = zr_breaker_state_size(cfg);
    if (need == 0 || state == NULL || size < need) return ZR_EINVAL;
    memset(state, 0, need);
    state->layout = ZR_BREAKER_LAYOUT;
    state->size = need;
    state->mode = ZR_BREAKER_CLOSED;
    state->break_duration = cfg->recovery_timeout;
    return ZR_OK;
}

zr_status zr_breaker_state_check(const zr_breaker_config *cfg, const zr_breaker_state *state)
{
    size_t need = zr_breaker_state_size(cfg);
    if (need == 0 || state->layout != ZR_BREAKER_LAYOUT || state->size != need)
        return ZR_ECORRUPT;
    return ZR_OK;
}

zr_status zr_breaker_acquire(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                             uint64_t owner, zr_breaker_permit *permit, double *retry_after,
                             zr_breaker_change *change)
{
    clear_change(change);
    if (!isfinite(now)) return ZR_EINVAL;
    zr_breaker_state *s = state;
    switch (s->mode) {
    case ZR_BREAKER_CLOSED:
    case ZR_BREAKER_DISABLED:
        permit->epoch = s->epoch;
        permit->start = now;
        permit->slot = ZR_BREAKER_NO_SLOT;
        permit->generation = 0;
        s->admitted = zr_sat_add_u64(s->admitted, 1);
        return ZR_OK;
    case ZR_BREAKER_ISOLATED:
        s->rejected = zr_sat_add_u64(s->rejected, 1);
        *retry_after = INFINITY;
        return ZR_EREJECTED;
    case ZR_BREAKER_OPEN:
        poll(cfg, s, now, change);
        if (s->mode == ZR_BREAKER_OPEN) {
            s->rejected = zr_sat_add_u64(s->rejected, 1);
            double wait = s->open_until - now;
            *retry_after = wait > 0.0 ? wait : 0.0;
            return ZR_EREJECTED;
        }
        break; /* now HALF_OPEN */
    case ZR_BREAKER_HALF_OPEN:
        break;
    default: /* corrupt mode: refuse rather than guess (repair fixes it) */
        s->rejected = zr_sat_add_u64(s->rejected, 1);
        *retry_after = 0.0;
        return ZR_EREJECTED;
    }
    /* HALF_OPEN: take a free slot, or reclaim one whose lease ran out */
    zr_breaker_slot *sl = zr_breaker_slots(s);
    uint32_t n = cfg->half_open_max_calls, pick = ZR_BREAKER_NO_SLOT;
    for (uint32_t i = 0; i < n; i++) {
        if (!sl[i].in_use) {
            pick = i;
            break;
        }
    }
    if (pick == ZR_BREAKER_NO_SLOT) {
        uint32_t oldest = 0; /* the permit out longest, if its lease ran out */
        for (uint32_t i = 1; i < n; i++)
            if (sl[i].acquired_at < sl[oldest].acquired_at) oldest = i;
        if (now - sl[oldest].acquired_at >= cfg->permit_lease) {
            sl[oldest].in_use = 0;
            s->probes_in_use = s->probes_in_use ? s->probes_in_use - 1 : 0;
            s->reclaimed = zr_sat_add_u64(s->reclaimed, 1);
            pick = oldest;
        }
    }
    if (pick == ZR_BREAKER_NO_SLOT) {
        s->rejected = zr_sat_add_u64(s->rejected, 1);
        *retry_after = 0.0;
        return ZR_EREJECTED;
    }
    sl[pick].in_use = 1;
    sl[pick].owner = owner;
    sl[pick].acquired_at = now;
    sl[pick].generation++;
    s->probes_in_use++;
    s->admitted = zr_sat_add_u64(s->admitted, 1);
    permit->epoch = s->epoch;
    permit->start = now;
    permit->slot = pick;
    permit->generation = sl[pick].generation;
    return ZR_OK;
}

zr_status zr_breaker_release(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                             const zr_breaker_permit *permit, zr_breaker_outcome outcome,
                             double duration, zr_breaker_change *change)
{
    clear_change(change);
    if (!isfinite(now) || (unsigned)outcome > ZR_OUTCOME_IGNORED) return ZR_EINVAL;
    zr_breaker_state *s = state;
    if (permit->slot < cfg->half_open_max_calls) {
        zr_breaker_slot *sl = &zr_breaker_slots(s)[permit->slot];
        if (sl->in_use && sl->generation == permit->generation) {
            sl->in_use = 0;
            s->probes_in_use = s->probes_in_use ? s->probes_in_use - 1 : 0;
        }
    }
    if (permit->epoch != s->epoch) {
        s->stale = zr_sat_add_u64(s->stale, 1);
        return ZR_OK;
    }
    if (outcome == ZR_OUTCOME_SUCCESS && zr_breaker_release_success_fast(cfg, s, permit))
        return ZR_OK;
    if (!(duration >= 0.0)) duration = now - permit->start;
    apply_outcome(cfg, s, now, outcome, duration, change);
    return ZR_OK;
}

zr_status zr_breaker_record(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                            uint64_t owner, zr_breaker_outcome outcome, double duration,
                            zr_breaker_change *change)
{
    clear_change(change);
    if (!isfinite(now) || (unsigned)outcome > ZR_OUTCOME_IGNORED) return ZR_EINVAL;
    zr_breaker_state *s = state;
    poll(cfg, s, now, change);
    if (s->mode == ZR_BREAKER_HALF_OPEN) {
        zr_breaker_slot *sl = zr_breaker_slots(s);
        uint32_t pick = ZR_BREAKER_NO_SLOT;
        for (uint32_t i = 0; i < cfg->half_open_max_calls; i++) {
            if (sl[i].in_use && sl[i].owner == owner &&
                (pick == ZR_BREAKER_NO_SLOT || sl[i].acquired_at < sl[pick].acquired_at))
                pick = i;
        }
        if (pick != ZR_BREAKER_NO_SLOT) {
            sl[pick].in_use = 0;
            s->probes_in_use = s->probes_in_use ? s->probes_in_use - 1 : 0;
        }
    }
    zr_breaker_change second;
    clear_change(&second);
    apply_outcome(cfg, s, now, outcome, duration >= 0.0 ? duration : 0.0, &second);
    if (second.changed && change != NULL) {
        /* report the net change of this operation */
        uint32_t from = change->changed ? change->from : second.from;
        change->changed = from != second.to;
        change->from = from;
        change->to = second.to;
    }
    return ZR_OK;
}

zr_status zr_breaker_poll(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                          zr_breaker_change *change)
{
    clear_change(change);
    if (!isfinite(now)) return ZR_EINVAL;
    poll(cfg, state, now, change);
    return ZR_OK;
}

void zr_breaker_isolate(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                        zr_breaker_change *change)
{
    (void)now;
    clear_change(change);
    set_mode(cfg, state, ZR_BREAKER_ISOLATED, change);
}

void zr_breaker_disable(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                        zr_breaker_change *change)
{
    (void)now;
    clear_change(change);
    set_mode(cfg, state, ZR_BREAKER_DISABLED, change);
}

void zr_breaker_reset(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                      zr_breaker_change *change)
{
    (void)now;
    clear_change(change);
    state->has_last_failure = 0;
    state->last_failure_time = 0.0;
    state->consecutive_successes = 0;
    close_breaker(cfg, state, change);
}

uint32_t zr_breaker_release_owner(const zr_breaker_config *cfg, zr_breaker_state *state,
                                  uint64_t owner)
{
    zr_breaker_slot *sl = zr_breaker_slots(state);
    uint32_t freed = 0;
    for (uint32_t i = 0; i < cfg->half_open_max_calls; i++) {
        if (sl[i].in_use && sl[i].owner == owner) {
            sl[i].in_use = 0;
            freed++;
        }
    }
    state->probes_in_use = state->probes_in_use >= freed ? state->probes_in_use - freed : 0;
    return freed;
}

zr_status zr_breaker_adopt(const zr_breaker_config *cfg, zr_breaker_state *state, double now,
                           uint64_t expect_epoch, uint32_t mode, double remaining,
                           zr_breaker_change *change)
{
    clear_change(change);
    if (!isfinite(now) || !isfinite(remaining) || remaining < 0.0) return ZR_EINVAL;
    if (mode != ZR_BREAKER_CLOSED && mode != ZR_BREAKER_OPEN && mode != ZR_BREAKER_HALF_OPEN)
        return ZR_EINVAL;
    if (state->epoch != expect_epoch || state->mode == ZR_BREAKER_ISOLATED ||
        state->mode == ZR_BREAKER_DISABLED)
        return ZR_ESTATE;
    if (mode == ZR_BREAKER_OPEN) {
        if (state->mode != ZR_BREAKER_OPEN) {
            state->opened_at = now;
            set_mode(cfg, state, ZR_BREAKER_OPEN, change);
        }
        state->open_until = now + remaining;
    }
    else if (mode == ZR_BREAKER_HALF_OPEN) {
        if (state->mode != ZR_BREAKER_HALF_OPEN) to_half_open(cfg, state, change);
    }
    else if (state->mode != ZR_BREAKER_CLOSED) {
        close_breaker(cfg, state, change);
    }
    return ZR_OK;
}

void zr_breaker_repair(const zr_breaker_config *cfg, zr_breaker_state *state)
{
    zr_breaker_state *s = state;
    if (s->mode > ZR_BREAKER_DISABLED) s->mode = ZR_BREAKER_OPEN;
    if (!isfinite(s->open_until)) s->open_until = 0.0; /* an unknown break ends now */
    if (!zr_is_nonneg_finite(s->break_duration)) s->break_duration = cfg->recovery_timeout;
    zr_breaker_slot *sl = zr_breaker_slots(s);
    uint32_t used = 0;
    for (uint32_t i = 0; i < cfg->half_open_max_calls; i++) {
        if (sl[i].in_use > 1) sl[i].in_use = 1;
        used += sl[i].in_use;
    }
    s->probes_in_use = used;
    s->win_calls = s->win_failures = s->win_slow = 0;
    if (cfg->window_kind == ZR_WINDOW_COUNT) {
        if (s->win_filled > cfg->window_calls) s->win_filled = cfg->window_calls;
        if (s->win_pos >= cfg->window_calls) s->win_pos = 0;
        unsigned char *ring = ring_of(cfg, s);
        /* the entries in use are the win_filled ones before win_pos (cyclically) */
        for (uint32_t i = 0; i < s->win_filled; i++) {
            uint32_t j = (s->win_pos + cfg->window_calls - 1u - i) % cfg->window_calls;
            ring[j] &= 3u;
            s->win_calls++;
            s->win_failures += ring[j] & 1u;
            s->win_slow += (ring[j] >> 1) & 1u;
        }
    }
    else if (cfg->window_kind == ZR_WINDOW_TIME && s->has_head) {
        zr_breaker_bucket *b = buckets_of(cfg, s);
        for (uint32_t i = 0; i < cfg->window_buckets; i++) {
            if (b[i].index > s->win_head || b[i].index <= s->win_head - (int64_t)cfg->window_buckets ||
                bucket_slot(cfg, b[i].index) != i) {
                b[i].calls = b[i].failures = b[i].slow = 0;
                continue;
            }
            if (b[i].failures > b[i].calls) b[i].failures = b[i].calls;
            if (b[i].slow > b[i].calls) b[i].slow = b[i].calls;
            s->win_calls = zr_sat_add_u64(s->win_calls, b[i].calls);
            s->win_failures = zr_sat_add_u64(s->win_failures, b[i].failures);
            s->win_slow = zr_sat_add_u64(s->win_slow, b[i].slow);
        }
    }
}

void zr_breaker_stats_get(const zr_breaker_config *cfg, const zr_breaker_state *state,
                          double now, zr_breaker_stats *out)
{
    const zr_breaker_state *s = state;
    memset(out, 0, sizeof *out);
    out->mode = s->mode;
    out->failure_count = s->consecutive_failures;
    out->success_count = s->consecutive_successes;
    out->half_open_successes = s->half_open_successes;
    out->probes_in_flight = s->probes_in_use;
    out->consecutive_trips = s->consecutive_trips;
    out->has_last_failure = (int)s->has_last_failure;
    out->last_failure_time = s->last_failure_time;
    out->opened_at = s->opened_at;
    out->break_duration = s->break_duration;
    if (s->mode == ZR_BREAKER_OPEN) {
        double w = s->open_until - now;
        out->retry_after = w > 0.0 ? w : 0.0;
    }
    else if (s->mode == ZR_BREAKER_ISOLATED) {
        out->retry_after = INFINITY;
    }
    if (cfg->window_kind == ZR_WINDOW_TIME) {
        if (s->has_head) {
            int64_t k = isfinite(now) ? bucket_index(cfg, now) : s->win_head;
            if (k < s->win_head) k = s->win_head;
            const zr_breaker_bucket *b = cbuckets_of(cfg, s);
            for (uint32_t i = 0; i < cfg->window_buckets; i++) {
                if (b[i].index > k - (int64_t)cfg->window_buckets && b[i].index <= k) {
                    out->window_calls += b[i].calls;
                    out->window_failures += b[i].failures;
                    out->window_slow += b[i].slow;
                }
            }
        }
    }
    else {
        out->window_calls = s->win_calls;
        out->window_failures = s->win_failures;
        out->window_slow = s->win_slow;
    }
    out->admitted = s->admitted;
    out->rejected = s->rejected;
    out->successes = s->successes;
    out->failures = s->failures;
    out->slow_calls = s->slow_calls;
    out->ignored = s->ignored;
    out->stale = s->stale;
    out->transitions = s->transitions;
    out->trips = s->trips;
    out->reclaimed = s->reclaimed;
    out->epoch = s->epoch;
}

const char *zr_breaker_mode_name(uint32_t mode)
{
    switch (mode) {
    case ZR_BREAKER_CLOSED: return "closed";
    case ZR_BREAKER_OPEN: return "open";
    case ZR_BREAKER_HALF_OPEN: return "half_open";
    case ZR_BREAKER_ISOLATED: return "isolated";
    case ZR_BREAKER_DISABLED: return "disabled";
    default: return "?";
    }
}
