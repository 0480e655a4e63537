/*
 * fuzz_adaptive.c - libFuzzer target for the adaptive strategy's engine (src/core/zr_adaptive.c).
 *
 * Each input is an adaptive configuration and a jitter configuration (any values), then a
 * sequence of outcomes, delay queries for arbitrary attempt numbers and previous delays,
 * resets, and corruption of the state checked by zr_adaptive_check.
 * Invariants checked:
 *   - invalid configurations are rejected naming a field; init leaves a failed state untouched;
 *   - count <= window, successes <= count, head < window; rate in [0, 1], pressure in [0, 1];
 *   - raw delays and jittered delays are finite and within [0, max_delay] (and the jitter
 *     config's cap); attempt 0 is ZR_EINVAL;
 *   - zr_adaptive_check accepts every state the API produced, and a corrupted state is
 *     either rejected or still keeps the invariants above.
 * Build and run: scripts/fuzz.sh (clang -fsanitize=fuzzer,address,undefined).
 */
#include "core/zr_adaptive.h"
#include <stdlib.h>

#include "fuzz_input.h"

static void check_state(const zr_adaptive_config *cfg, const zr_adaptive_state *s)
{
    ZR_FUZZ_ASSERT(s->count <= cfg->window && s->successes <= s->count && s->head < cfg->window);
    double rate = -1.0, p = -1.0;
    uint32_t samples = UINT32_MAX;
    ZR_FUZZ_ASSERT(zr_adaptive_rate(cfg, s, &rate, &samples) == ZR_OK);
    ZR_FUZZ_ASSERT(rate >= 0.0 && rate <= 1.0 && samples <= cfg->window);
    ZR_FUZZ_ASSERT(zr_adaptive_rate(cfg, s, NULL, NULL) == ZR_OK);
    ZR_FUZZ_ASSERT(zr_adaptive_pressure(cfg, s, &p) == ZR_OK);
    ZR_FUZZ_ASSERT(p >= 0.0 && p <= 1.0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zr_fuzz_in in = {data, size};
    zr_adaptive_config cfg;
    zr_adaptive_config_default(&cfg);
    uint8_t which = zr_fuzz_u8(&in);
    if (which & 1) cfg.base_delay = zr_fuzz_double(&in);
    if (which & 2) cfg.max_delay = zr_fuzz_double(&in);
    if (which & 4) cfg.success_threshold = zr_fuzz_double(&in);
    if (which & 8) cfg.window = (zr_fuzz_u8(&in) & 1) ? zr_fuzz_u32(&in) : zr_fuzz_u8(&in);
    if (which & 16) cfg.min_samples = (zr_fuzz_u8(&in) & 1) ? zr_fuzz_u32(&in) : zr_fuzz_u8(&in);
    zr_backoff_config jit;
    zr_backoff_config_default(&jit);
    jit.jitter = (zr_jitter_kind)(zr_fuzz_u8(&in) % 6);
    if (which & 32) jit.max_delay = zr_fuzz_double(&in);
    if (which & 64) jit.jitter_factor = zr_fuzz_double(&in);
    if (which & 128) jit.base_delay = zr_fuzz_double(&in);
    zr_rng rng;
    zr_rng_seed(&rng, zr_fuzz_u64(&in));

    zr_adaptive_state *s = malloc(sizeof *s);
    ZR_FUZZ_ASSERT(s != NULL);
    memset(s, 0x44, sizeof *s);
    const char *bad = NULL;
    if (zr_adaptive_validate(&cfg, &bad) != ZR_OK) {
        ZR_FUZZ_ASSERT(bad != NULL);
        ZR_FUZZ_ASSERT(zr_adaptive_init(&cfg, s) == ZR_EINVAL && s->magic == 0x44444444u);
        free(s);
        return 0;
    }
    const int jitter_ok = zr_backoff_validate(&jit, NULL) == ZR_OK;
    ZR_FUZZ_ASSERT(zr_adaptive_init(&cfg, s) == ZR_OK);
    ZR_FUZZ_ASSERT(zr_adaptive_check(&cfg, s) == ZR_OK);
    check_state(&cfg, s);
    double prev = -1.0;
    for (int ops = 0; ops < 300 && in.n > 0; ops++) {
        uint8_t op = zr_fuzz_u8(&in);
        switch (op % 8) {
        case 0:
        case 1:
        case 2: /* a run of outcomes from the bits of one byte */
        {
            uint8_t bits = zr_fuzz_u8(&in);
            for (int i = 0; i < 8; i++) ZR_FUZZ_ASSERT(zr_adaptive_record(&cfg, s, (bits >> i) & 1) == ZR_OK);
            break;
        }
        case 3:
        case 4: {
            uint64_t attempt = (op & 8) ? zr_fuzz_u64(&in) : zr_fuzz_u8(&in);
            double raw = -3.0, d = -3.0;
            zr_status st = zr_adaptive_raw_delay(&cfg, s, attempt, &raw);
            if (attempt == 0) {
                ZR_FUZZ_ASSERT(st == ZR_EINVAL && raw == -3.0);
                break;
            }
            ZR_FUZZ_ASSERT(st == ZR_OK && isfinite(raw) && raw >= 0.0 && raw <= cfg.max_delay);
            if (!jitter_ok) break;
            double p = (zr_fuzz_u8(&in) & 1) ? prev : zr_fuzz_double(&in);
            st = zr_adaptive_delay(&cfg, s, &jit, &rng, attempt, p, &d);
            ZR_FUZZ_ASSERT(st == ZR_OK);
            ZR_FUZZ_ASSERT(isfinite(d) && d >= 0.0 && d <= cfg.max_delay && d <= jit.max_delay);
            prev = d;
            break;
        }
        case 5:
            ZR_FUZZ_ASSERT(zr_adaptive_reset(&cfg, s) == ZR_OK);
            prev = -1.0;
            break;
        case 6: { /* corrupt; check must reject it or it must still be usable */
            zr_adaptive_state saved = *s;
            uint8_t n = zr_fuzz_u8(&in) % 6;
            for (uint8_t i = 0; i < n; i++) {
                uint32_t at = zr_fuzz_u8(&in) & 1 ? zr_fuzz_u32(&in) % 24u
                                                    : zr_fuzz_u32(&in) % (uint32_t)sizeof *s;
                ((unsigned char *)s)[at] = zr_fuzz_u8(&in);
            }
            if (zr_adaptive_check(&cfg, s) != ZR_OK) *s = saved;
            break;
        }
        default:
            prev = -1.0;
            break;
        }
        ZR_FUZZ_ASSERT(zr_adaptive_check(&cfg, s) == ZR_OK);
        check_state(&cfg, s);
    }
    free(s);
    return 0;
}
