/*
 * fuzz_budget.c - libFuzzer target for retry budgets (src/core/zr_budget.c).
 *
 * Each input is a configuration in either mode (every field any value: NaN, inf,
 * negative, zero, huge) followed by a sequence of operations with clock steps: requests,
 * acquisitions of n tokens (0, 1, a few, huge), returns (up to UINT64_MAX), available,
 * drain, reset, clock steps forward and back, non-finite clocks, and - like a shared
 * segment a process died writing - corruption of the state followed by zr_budget_check.
 * Invariants checked after every operation:
 *   - invalid configurations are rejected naming a field; valid ones initialise;
 *   - tokens stay within [0, capacity] and are never NaN; available() is finite, >= 0,
 *     <= capacity (TOKEN); whole tokens <= available; zr_budget_check accepts the state;
 *   - an acquisition of n > available whole tokens is refused, n == 0 always granted;
 *     non-finite now is ZR_EINVAL and changes nothing;
 *   - a ratio window's sums equal its slots' sums (zr_budget_check);
 *   - a corrupted state is either reported ZR_ECORRUPT by zr_budget_check or passes it
 *     (and then every operation still keeps the invariants).
 * Build and run: scripts/fuzz.sh (clang -fsanitize=fuzzer,address,undefined).
 */
#include "core/zr_budget.h"
#include "fuzz_input.h"

static void check_state(const zr_budget_config *cfg, zr_budget_state *s, double now)
{
    ZR_FUZZ_ASSERT(zr_budget_check(cfg, s) == ZR_OK);
    if (cfg->mode == ZR_BUDGET_TOKEN) {
        ZR_FUZZ_ASSERT(!isnan(s->tokens) && s->tokens >= 0.0 && s->tokens <= cfg->capacity);
    }
    /* RATIO: zr_budget_check above compares the window sums with the slots */
    double avail = -1.0;
    uint64_t whole = UINT64_MAX;
    if (isfinite(now)) {
        ZR_FUZZ_ASSERT(zr_budget_available(cfg, s, now, &avail) == ZR_OK);
        ZR_FUZZ_ASSERT(isfinite(avail) && avail >= 0.0);
        if (cfg->mode == ZR_BUDGET_TOKEN) ZR_FUZZ_ASSERT(avail <= cfg->capacity);
        ZR_FUZZ_ASSERT(zr_budget_available_whole(cfg, s, now, &whole) == ZR_OK);
        ZR_FUZZ_ASSERT((double)whole <= avail + 1e-9 * (avail > 1.0 ? avail : 1.0));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zr_fuzz_in in = {data, size};
    zr_budget_config cfg;
    uint8_t mode = zr_fuzz_u8(&in);
    if (mode & 1) zr_budget_config_ratio(&cfg, 0.2, 10.0, 10.0, 10);
    else zr_budget_config_token(&cfg, 100.0, 10.0);
    uint8_t which = zr_fuzz_u8(&in);
    if (which & 1) cfg.capacity = zr_fuzz_double(&in);
    if (which & 2) cfg.refill_rate = zr_fuzz_double(&in);
    if (which & 4) cfg.initial_tokens = zr_fuzz_double(&in);
    if (which & 8) cfg.percent = zr_fuzz_double(&in);
    if (which & 16) cfg.min_per_second = zr_fuzz_double(&in);
    if (which & 32) cfg.window = zr_fuzz_double(&in);
    if (which & 64) cfg.buckets = zr_fuzz_u8(&in) % 70;
    if (which & 128) cfg.mode = (zr_budget_mode)(zr_fuzz_u8(&in) % 3); /* 2: invalid */

    const char *bad = NULL;
    zr_status v = zr_budget_validate(&cfg, &bad);
    zr_budget_state s;
    memset(&s, 0x33, sizeof s);
    double now = (double)zr_fuzz_u32(&in) / 16.0;
    if (v != ZR_OK) {
        ZR_FUZZ_ASSERT(v == ZR_EINVAL && bad != NULL);
        zr_budget_state before = s;
        ZR_FUZZ_ASSERT(zr_budget_init(&cfg, &s, now) == ZR_EINVAL);
        ZR_FUZZ_ASSERT(memcmp(&s, &before, sizeof s) == 0);
        return 0;
    }
    ZR_FUZZ_ASSERT(zr_budget_init(&cfg, &s, NAN) == ZR_EINVAL);
    ZR_FUZZ_ASSERT(zr_budget_init(&cfg, &s, now) == ZR_OK);
    check_state(&cfg, &s, now);
    int corrupted = 0;

    for (int ops = 0; ops < 200 && in.n > 0; ops++) {
        uint8_t op = zr_fuzz_u8(&in) % 10;
        int granted = -1;
        zr_status st;
        switch (op) {
        case 0: { /* clock: forward (small or big), back a little, or any double */
            uint8_t k = zr_fuzz_u8(&in);
            if (k < 180) now += (double)k / 32.0;
            else if (k < 220) now += (double)zr_fuzz_u32(&in);
            else if (k < 250) now -= (double)(k - 219);
            else now = zr_fuzz_double(&in);
            break;
        }
        case 1:
        case 2:
            st = zr_budget_on_request(&cfg, &s, now);
            if (cfg.mode == ZR_BUDGET_RATIO) ZR_FUZZ_ASSERT((st == ZR_EINVAL) == !isfinite(now));
            break;
        case 3:
        case 4: {
            uint8_t k = zr_fuzz_u8(&in);
            uint64_t n = k < 128 ? 1 : k < 200 ? (uint64_t)(k % 8) : zr_fuzz_u64(&in);
            uint64_t whole = 0;
            int have = isfinite(now) && zr_budget_available_whole(&cfg, &s, now, &whole) == ZR_OK;
            zr_budget_state before = s;
            st = zr_budget_try_acquire(&cfg, &s, now, n, &granted);
            if (!isfinite(now)) {
                ZR_FUZZ_ASSERT(st == ZR_EINVAL);
                ZR_FUZZ_ASSERT(memcmp(&s, &before, sizeof s) == 0);
                break;
            }
            ZR_FUZZ_ASSERT(st == ZR_OK && (granted == 0 || granted == 1));
            if (n == 0) ZR_FUZZ_ASSERT(granted == 1);
            if (have && !corrupted && n > whole) ZR_FUZZ_ASSERT(granted == 0);
            break;
        }
        case 5: {
            uint64_t n = (zr_fuzz_u8(&in) & 1) ? 1 : zr_fuzz_u64(&in);
            st = zr_budget_return(&cfg, &s, now, n);
            ZR_FUZZ_ASSERT(st == ZR_OK || st == ZR_EINVAL);
            break;
        }
        case 6:
            st = zr_budget_drain(&cfg, &s, now);
            ZR_FUZZ_ASSERT((st == ZR_EINVAL) == !isfinite(now));
            if (st == ZR_OK) {
                uint64_t whole = 9;
                ZR_FUZZ_ASSERT(zr_budget_available_whole(&cfg, &s, now, &whole) == ZR_OK);
                ZR_FUZZ_ASSERT(whole == 0);
            }
            break;
        case 7:
            st = zr_budget_reset(&cfg, &s, now);
            ZR_FUZZ_ASSERT((st == ZR_EINVAL) == !isfinite(now));
            if (st == ZR_OK) corrupted = 0;
            break;
        case 8: { /* corrupt a few bytes; zr_budget_check must notice or accept safely */
            zr_budget_state saved = s;
            uint8_t n = zr_fuzz_u8(&in) % 6;
            for (uint8_t i = 0; i < n; i++)
                ((unsigned char *)&s)[zr_fuzz_u32(&in) % sizeof s] = zr_fuzz_u8(&in);
            if (zr_budget_check(&cfg, &s) != ZR_OK) s = saved; /* detected: restore */
            else corrupted = 1;
            break;
        }
        default: {
            double avail;
            st = zr_budget_available(&cfg, &s, now, &avail);
            ZR_FUZZ_ASSERT((st == ZR_EINVAL) == !isfinite(now));
            break;
        }
        }
        if (!isfinite(now)) {
            ZR_FUZZ_ASSERT(zr_budget_check(&cfg, &s) == ZR_OK);
            now = 0.0;
            continue;
        }
        check_state(&cfg, &s, now);
    }
    return 0;
}
