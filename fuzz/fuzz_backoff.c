/*
 * fuzz_backoff.c - libFuzzer target for the backoff engine (src/core/zr_backoff.c, zr_rng.c).
 *
 * Each input is a configuration (any field any value, enums out of range, NaN/inf/negative
 * numbers) followed by a sequence of operations: delays for arbitrary attempt numbers
 * (1, huge, 0), jitter applied to arbitrary raw delays and previous delays, name parsing
 * of arbitrary strings, and zr_rng_between on arbitrary bounds.
 * Invariants checked (a violation aborts, which libFuzzer reports with the input):
 *   - validation never crashes and names a field when it rejects;
 *   - for a valid configuration every delay is finite and within [0, max_delay];
 *   - attempt 0, a CUSTOM schedule's raw delay, a NaN or negative raw delay: ZR_EINVAL;
 *   - failures leave the out-value untouched;
 *   - the default configuration validates;
 *   - names round-trip; zr_rng_between stays in [lo, hi) for finite lo < hi.
 * Build and run: scripts/fuzz.sh (clang -fsanitize=fuzzer,address,undefined).
 */
#include "core/zr_backoff.h"
#include "core/zr_rng.h"
#include "fuzz_input.h"

static void check_names(zr_fuzz_in *in)
{
    char buf[64];
    const char *name = zr_fuzz_str(in, buf, sizeof buf);
    zr_schedule_kind sk = (zr_schedule_kind)77;
    zr_jitter_kind jk = (zr_jitter_kind)77;
    if (zr_schedule_from_name(name, &sk) == ZR_OK)
        ZR_FUZZ_ASSERT(strcmp(zr_schedule_name(sk), name) == 0);
    else
        ZR_FUZZ_ASSERT((int)sk == 77);
    if (zr_jitter_from_name(name, &jk) == ZR_OK)
        ZR_FUZZ_ASSERT(strcmp(zr_jitter_name(jk), name) == 0 || strcmp(name, "decorr") == 0);
    else
        ZR_FUZZ_ASSERT((int)jk == 77);
    /* any enum value, legal or not, has a printable name */
    ZR_FUZZ_ASSERT(zr_schedule_name((zr_schedule_kind)(int)zr_fuzz_u32(in)) != NULL);
    ZR_FUZZ_ASSERT(zr_jitter_name((zr_jitter_kind)(int)zr_fuzz_u32(in)) != NULL);
}

static void check_between(zr_fuzz_in *in, zr_rng *rng)
{
    double lo = zr_fuzz_double(in), hi = zr_fuzz_double(in);
    double r = zr_rng_between(rng, lo, hi);
    if (isfinite(lo) && isfinite(hi)) {
        if (hi > lo) ZR_FUZZ_ASSERT(r >= lo && r < hi);
        else ZR_FUZZ_ASSERT(r == lo);
    }
    double u = zr_rng_uniform(rng);
    ZR_FUZZ_ASSERT(u >= 0.0 && u < 1.0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zr_fuzz_in in = {data, size};
    zr_backoff_config cfg;
    zr_backoff_config_default(&cfg);
    ZR_FUZZ_ASSERT(zr_backoff_validate(&cfg, NULL) == ZR_OK);

    uint8_t mode = zr_fuzz_u8(&in);
    /* mode bit 0: start from sane values and perturb a few fields; else every field random */
    cfg.schedule = (zr_schedule_kind)(zr_fuzz_u8(&in) % 7); /* 5, 6: out of range */
    cfg.jitter = (zr_jitter_kind)(zr_fuzz_u8(&in) % 8);     /* 6, 7: out of range */
    if (mode & 1) {
        uint8_t which = zr_fuzz_u8(&in);
        if (which & 1) cfg.base_delay = zr_fuzz_double(&in);
        if (which & 2) cfg.increment = zr_fuzz_double(&in);
        if (which & 4) cfg.multiplier = zr_fuzz_double(&in);
        if (which & 8) cfg.max_delay = zr_fuzz_double(&in);
        if (which & 16) cfg.jitter_factor = zr_fuzz_double(&in);
        if (which & 32) cfg.max_attempts = zr_fuzz_u32(&in);
    }
    else {
        cfg.max_attempts = zr_fuzz_u32(&in);
        cfg.base_delay = zr_fuzz_double(&in);
        cfg.increment = zr_fuzz_double(&in);
        cfg.multiplier = zr_fuzz_double(&in);
        cfg.max_delay = zr_fuzz_double(&in);
        cfg.jitter_factor = zr_fuzz_double(&in);
    }
    zr_rng rng;
    zr_rng_seed(&rng, zr_fuzz_u64(&in));

    const char *bad = NULL;
    zr_status vst = zr_backoff_validate(&cfg, &bad);
    ZR_FUZZ_ASSERT(vst == ZR_OK || vst == ZR_EINVAL);
    if (vst == ZR_EINVAL) {
        ZR_FUZZ_ASSERT(bad != NULL && bad[0] != '\0');
    }
    else {
        ZR_FUZZ_ASSERT(isfinite(cfg.max_delay) && cfg.max_delay >= 0.0);
    }
    const int valid = vst == ZR_OK;

    double prev = -1.0;
    for (int ops = 0; ops < 64 && in.n > 0; ops++) {
        uint8_t op = zr_fuzz_u8(&in) % 6;
        double out = 12345.0;
        zr_status st;
        if (op == 0 || op == 1) { /* a delay for an attempt: small, sequential or huge */
            uint64_t attempt = op == 0 ? (uint64_t)zr_fuzz_u8(&in) : zr_fuzz_u64(&in);
            st = valid ? zr_backoff_delay(&cfg, &rng, attempt, prev, &out) : ZR_EINVAL;
            if (valid) {
                double raw = 54321.0;
                zr_status rst = zr_backoff_raw(&cfg, attempt, &raw);
                if (attempt == 0 || cfg.schedule == ZR_SCHEDULE_CUSTOM) {
                    ZR_FUZZ_ASSERT(rst == ZR_EINVAL && raw == 54321.0);
                    ZR_FUZZ_ASSERT(st == ZR_EINVAL && out == 12345.0);
                }
                else {
                    ZR_FUZZ_ASSERT(rst == ZR_OK && isfinite(raw) && raw >= 0.0 &&
                                   raw <= cfg.max_delay);
                    ZR_FUZZ_ASSERT(st == ZR_OK);
                }
            }
            if (st == ZR_OK) {
                ZR_FUZZ_ASSERT(isfinite(out) && out >= 0.0 && out <= cfg.max_delay);
                prev = out;
            }
        }
        else if (op == 2) { /* jitter on an arbitrary raw delay (the CUSTOM schedule path) */
            double raw = zr_fuzz_double(&in);
            double p = (zr_fuzz_u8(&in) & 1) ? zr_fuzz_double(&in) : prev;
            if (!valid) continue;
            st = zr_backoff_jitter(&cfg, &rng, raw, p, &out);
            if (isnan(raw) || raw < 0.0) {
                ZR_FUZZ_ASSERT(st == ZR_EINVAL && out == 12345.0);
            }
            else {
                ZR_FUZZ_ASSERT(st == ZR_OK);
                ZR_FUZZ_ASSERT(isfinite(out) && out >= 0.0 && out <= cfg.max_delay);
                prev = out;
            }
        }
        else if (op == 3) {
            check_names(&in);
        }
        else if (op == 4) {
            check_between(&in, &rng);
        }
        else { /* reset the sequence, or reseed */
            prev = -1.0;
            if (zr_fuzz_u8(&in) & 1) zr_rng_seed(&rng, zr_fuzz_u64(&in));
        }
    }
    return 0;
}
