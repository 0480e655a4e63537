/*
 * fuzz_breaker.c - libFuzzer target for the circuit-breaker state machine (src/core/zr_breaker.c).
 *
 * Each input is a configuration (every field any value: NaN, inf, negative, zero, huge
 * counts) followed by a sequence of operations with clock steps: acquire for one of a few
 * owners, release of an outstanding permit (any outcome code, any duration, stale permits
 * after a reset), record without permit, poll, isolate / disable / reset, release_owner,
 * repair, and corruption of the mutable header (as a process dying mid-update, or a
 * hostile writer of the shared segment, could leave it) followed by repair. The clock
 * mostly moves forward (up to any point in [0, 1e12] s) but may also step back a little
 * (processes sharing a segment read the clock before taking their lock) or be non-finite. The state is allocated with its exact
 * size, so ASan reports any access outside it.
 * Invariants checked after every operation:
 *   - invalid configurations are rejected with a field name, valid ones have a size;
 *   - the mode is one of the five; probes in use <= half_open_max_calls and equal to the
 *     slots marked in use; window totals consistent (failures, slow <= calls; a COUNT
 *     window never holds more than window_calls);
 *   - acquire/release/record/poll return documented codes (EINVAL exactly for a
 *     non-finite now or an unknown outcome); retry_after is never NaN or negative;
 *   - break durations and stats are finite where the contract says so.
 * Build and run: scripts/fuzz.sh (clang -fsanitize=fuzzer,address,undefined).
 */
#include <stdlib.h>

#include "core/zr_breaker.h"
#include "fuzz_input.h"

#define MAX_PERMITS 32

/* `scribbled`: the state was corrupted beyond what a crashed writer can leave (random bytes
 * anywhere in it): repair promises legal modes and probe accounting, and every call must
 * stay memory-safe and defined, but window counts may be arbitrary until the next reset. */
static void check_invariants(const zr_breaker_config *cfg, zr_breaker_state *s, double now,
                             int scribbled)
{
    ZR_FUZZ_ASSERT(zr_breaker_state_check(cfg, s) == ZR_OK);
    ZR_FUZZ_ASSERT(s->mode <= ZR_BREAKER_DISABLED);
    ZR_FUZZ_ASSERT(s->probes_in_use <= cfg->half_open_max_calls);
    uint32_t used = 0;
    zr_breaker_slot *slots = zr_breaker_slots(s);
    for (uint32_t i = 0; i < cfg->half_open_max_calls; i++) used += slots[i].in_use ? 1u : 0u;
    ZR_FUZZ_ASSERT(used == s->probes_in_use);
    if (!scribbled) ZR_FUZZ_ASSERT(s->win_failures <= s->win_calls && s->win_slow <= s->win_calls);
    if (cfg->window_kind == ZR_WINDOW_COUNT) {
        ZR_FUZZ_ASSERT(s->win_filled <= cfg->window_calls && s->win_pos < cfg->window_calls);
        if (!scribbled) ZR_FUZZ_ASSERT(s->win_calls <= cfg->window_calls);
    }
    ZR_FUZZ_ASSERT(!isnan(s->break_duration) && s->break_duration >= 0.0);
    if (isfinite(now)) {
        zr_breaker_stats st;
        zr_breaker_stats_get(cfg, s, now, &st);
        ZR_FUZZ_ASSERT(st.mode == s->mode);
        ZR_FUZZ_ASSERT(!isnan(st.retry_after) && st.retry_after >= 0.0);
        if (st.mode != ZR_BREAKER_ISOLATED) ZR_FUZZ_ASSERT(isfinite(st.retry_after));
        if (!scribbled)
            ZR_FUZZ_ASSERT(st.window_failures <= st.window_calls &&
                           st.window_slow <= st.window_calls);
        ZR_FUZZ_ASSERT(st.probes_in_flight <= cfg->half_open_max_calls);
    }
    ZR_FUZZ_ASSERT(zr_breaker_mode_name(s->mode)[0] != '?');
}

static void random_config(zr_fuzz_in *in, zr_breaker_config *cfg)
{
    zr_breaker_config_default(cfg);
    uint16_t which = (uint16_t)(zr_fuzz_u8(in) | (zr_fuzz_u8(in) << 8));
    /* counts stay small most of the time so the state fits comfortably */
    if (which & 1) cfg->failure_threshold = zr_fuzz_u8(in) % 8;
    if (which & 2) cfg->success_threshold = zr_fuzz_u8(in) % 5;
    if (which & 4) cfg->half_open_max_calls = zr_fuzz_u8(in) % 6;
    if (which & 8) cfg->window_kind = zr_fuzz_u8(in) % 4;
    if (which & 16) cfg->window_calls = zr_fuzz_u8(in) % 40;
    if (which & 32) cfg->window_buckets = zr_fuzz_u8(in) % 12;
    if (which & 64) cfg->minimum_calls = zr_fuzz_u8(in) % 12;
    if (which & 128) cfg->window_duration = zr_fuzz_double(in);
    if (which & 256) cfg->failure_rate_threshold = zr_fuzz_double(in);
    if (which & 512) cfg->slow_call_duration = zr_fuzz_double(in);
    if (which & 1024) cfg->slow_call_rate_threshold = zr_fuzz_double(in);
    if (which & 2048) cfg->recovery_timeout = zr_fuzz_double(in);
    if (which & 4096) cfg->break_multiplier = zr_fuzz_double(in);
    if (which & 8192) cfg->max_break = zr_fuzz_double(in);
    if (which & 16384) cfg->permit_lease = zr_fuzz_double(in);
    if (which & 32768) { /* rare: any 32-bit counts (huge windows are rejected or big) */
        cfg->window_calls = zr_fuzz_u32(in);
        cfg->window_buckets = zr_fuzz_u32(in);
        cfg->half_open_max_calls = zr_fuzz_u32(in);
        cfg->reserved = zr_fuzz_u32(in);
    }
}

static int known(zr_status st) { return st == ZR_OK || st == ZR_EREJECTED || st == ZR_EINVAL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zr_fuzz_in in = {data, size};
    zr_breaker_config cfg;
    random_config(&in, &cfg);
    const char *field = NULL;
    zr_status cst = zr_breaker_config_check(&cfg, &field);
    size_t need = zr_breaker_state_size(&cfg);
    if (cst != ZR_OK) {
        ZR_FUZZ_ASSERT(cst == ZR_EINVAL && field != NULL && need == 0);
        return 0;
    }
    ZR_FUZZ_ASSERT(need >= sizeof(zr_breaker_state) && need % 8 == 0);
    if (need > (64u << 20)) return 0; /* valid but too big to fuzz quickly */
    zr_breaker_state *s = malloc(need);
    ZR_FUZZ_ASSERT(s != NULL);
    ZR_FUZZ_ASSERT(zr_breaker_state_init(&cfg, s, need - 8) == ZR_EINVAL || need == 8);
    ZR_FUZZ_ASSERT(zr_breaker_state_init(&cfg, s, need) == ZR_OK);
    ZR_FUZZ_ASSERT(zr_breaker_config_fingerprint(&cfg) == zr_breaker_config_fingerprint(&cfg));

    double now = 1000.0;
    const int trace = getenv("ZR_FUZZ_TRACE") != NULL; /* replaying one input: show each step */
    if (trace)
        fprintf(stderr, "cfg: recovery %.17g mult %.17g max_break %.17g lease %.17g\n",
                cfg.recovery_timeout, cfg.break_multiplier, cfg.max_break, cfg.permit_lease);
    zr_breaker_permit permits[MAX_PERMITS];
    int npermits = 0;
    int scribbled = 0;
    check_invariants(&cfg, s, now, scribbled);

    for (int ops = 0; ops < 200 && in.n > 0; ops++) {
        uint8_t op = zr_fuzz_u8(&in);
        zr_breaker_change ch;
        zr_status st;
        uint64_t owner = zr_fuzz_u8(&in) % 4;
        switch (op % 12) {
        case 0: /* clock step forward: small, large, or an arbitrary double */
        case 1: {
            uint8_t k = zr_fuzz_u8(&in);
            if (k < 200) now += (double)k / 16.0;
            else if (k < 250) now += (double)zr_fuzz_u32(&in);
            else { /* non-finite (must be refused), or anywhere a monotonic clock can be */
                now = zr_fuzz_double(&in);
                if (isfinite(now)) now = fmod(fabs(now), 1e12);
            }
            break;
        }
        case 2: /* a small step back */
            now -= (double)(zr_fuzz_u8(&in) % 16) / 8.0;
            break;
        case 3:
        case 4: {
            zr_breaker_permit p;
            double retry_after = -7.0;
            st = zr_breaker_acquire(&cfg, s, now, owner, &p, &retry_after, &ch);
            ZR_FUZZ_ASSERT(known(st));
            ZR_FUZZ_ASSERT((st == ZR_EINVAL) == !isfinite(now));
            if (st == ZR_EREJECTED) ZR_FUZZ_ASSERT(!isnan(retry_after) && retry_after >= 0.0);
            if (st == ZR_OK && npermits < MAX_PERMITS) permits[npermits++] = p;
            break;
        }
        case 5:
        case 6: {
            if (npermits == 0) break;
            int i = zr_fuzz_u8(&in) % npermits;
            zr_breaker_outcome oc = (zr_breaker_outcome)(zr_fuzz_u8(&in) % 4); /* 3: invalid */
            double dur = (zr_fuzz_u8(&in) & 1) ? -1.0 : zr_fuzz_double(&in);
            st = zr_breaker_release(&cfg, s, now, &permits[i], oc, dur, &ch);
            ZR_FUZZ_ASSERT(st == ZR_OK || st == ZR_EINVAL);
            ZR_FUZZ_ASSERT((st == ZR_EINVAL) == (!isfinite(now) || (unsigned)oc > 2u));
            if (zr_fuzz_u8(&in) & 1) permits[i] = permits[--npermits]; /* else: a double release */
            break;
        }
        case 7: {
            zr_breaker_outcome oc = (zr_breaker_outcome)(zr_fuzz_u8(&in) % 4);
            st = zr_breaker_record(&cfg, s, now, owner, oc, zr_fuzz_double(&in), &ch);
            ZR_FUZZ_ASSERT(st == ZR_OK || st == ZR_EINVAL);
            break;
        }
        case 8:
            st = zr_breaker_poll(&cfg, s, now, (zr_fuzz_u8(&in) & 1) ? &ch : NULL);
            ZR_FUZZ_ASSERT((st == ZR_EINVAL) == !isfinite(now));
            break;
        case 9: {
            uint8_t k = zr_fuzz_u8(&in) % 4;
            if (k == 0) zr_breaker_isolate(&cfg, s, now, &ch);
            else if (k == 1) zr_breaker_disable(&cfg, s, now, &ch);
            else if (k == 2) {
                zr_breaker_reset(&cfg, s, now, &ch);
                scribbled = 0; /* counts and window cleared */
            }
            else (void)zr_breaker_release_owner(&cfg, s, owner);
            break;
        }
        case 10: /* a writer died mid-update: scribble on the mutable header, then repair */
        {
            uint8_t n = zr_fuzz_u8(&in) % 8;
            unsigned char *raw = (unsigned char *)s;
            const size_t lo = offsetof(zr_breaker_state, epoch); /* keep layout and size */
            for (uint8_t i = 0; i < n; i++) {
                size_t at = lo + zr_fuzz_u32(&in) % (uint32_t)(need - lo);
                raw[at] = zr_fuzz_u8(&in);
            }
            zr_breaker_repair(&cfg, s);
            scribbled = 1;
            break;
        }
        default:
            zr_breaker_repair(&cfg, s);
            scribbled = 1;
            break;
        }
        if (trace)
            fprintf(stderr, "op %d now %.17g mode %u open_until %.17g break %.17g opened_at %.17g\n",
                    op % 12, now, s->mode, s->open_until, s->break_duration, s->opened_at);
        if (isfinite(now)) check_invariants(&cfg, s, now, scribbled);
        else if (op % 12 != 0 && op % 12 != 1) now = 1000.0; /* back to a usable clock */
    }
    free(s);
    return 0;
}
