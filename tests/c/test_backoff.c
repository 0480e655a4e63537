/* test_backoff.c - schedules, jitter bounds, saturation and validation of zr_backoff. */
#include <float.h>
#include <string.h>

#include "core/zr_backoff.h"
#include "zr_test.h"

static zr_backoff_config cfg_of(zr_schedule_kind s, double base, double max)
{
    zr_backoff_config c;
    zr_backoff_config_default(&c);
    c.schedule = s;
    c.jitter = ZR_JITTER_NONE;
    c.base_delay = base;
    c.max_delay = max;
    return c;
}

static void seed_tables(void)
{
    double d;
    /* seed 004: linear 2, 5, 8, 11, 14 */
    zr_backoff_config c = cfg_of(ZR_SCHEDULE_LINEAR, 2.0, 30.0);
    c.increment = 3.0;
    const double lin[] = {2, 5, 8, 11, 14};
    for (int i = 0; i < 5; i++) {
        CHECK(zr_backoff_raw(&c, (uint64_t)i + 1, &d) == ZR_OK);
        CHECK(d == lin[i]);
    }
    /* seed 004: exponential 1, 2, 4, 8, 16 */
    c = cfg_of(ZR_SCHEDULE_EXPONENTIAL, 1.0, 60.0);
    const double ex[] = {1, 2, 4, 8, 16};
    for (int i = 0; i < 5; i++) {
        CHECK(zr_backoff_raw(&c, (uint64_t)i + 1, &d) == ZR_OK);
        CHECK(d == ex[i]);
    }
    /* seed 001: 100 ms doubling, capped at 5000 ms */
    c = cfg_of(ZR_SCHEDULE_EXPONENTIAL, 0.1, 5.0);
    const double s1[] = {0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0};
    for (int i = 0; i < 8; i++) {
        CHECK(zr_backoff_raw(&c, (uint64_t)i + 1, &d) == ZR_OK);
        CHECK_NEAR(d, s1[i], 1e-12);
    }
    /* fibonacci 1, 1, 2, 3, 5, 8, 13 */
    c = cfg_of(ZR_SCHEDULE_FIBONACCI, 1.0, 60.0);
    const double fib[] = {1, 1, 2, 3, 5, 8, 13, 21};
    for (int i = 0; i < 8; i++) {
        CHECK(zr_backoff_raw(&c, (uint64_t)i + 1, &d) == ZR_OK);
        CHECK(d == fib[i]);
    }
    c = cfg_of(ZR_SCHEDULE_FIXED, 0.25, 60.0);
    CHECK(zr_backoff_raw(&c, 1000, &d) == ZR_OK && d == 0.25);
}

static void saturation(void)
{
    const zr_schedule_kind kinds[] = {ZR_SCHEDULE_FIXED, ZR_SCHEDULE_LINEAR,
                                      ZR_SCHEDULE_EXPONENTIAL, ZR_SCHEDULE_FIBONACCI};
    const uint64_t attempts[] = {1, 2, 63, 64, 91, 1024, 1025, 4294967295ull, 4294967296ull,
                                 UINT64_MAX};
    const double bases[] = {0.0, 1e-300, 1.0, 1e300, DBL_MAX};
    int ok = 1;
    for (size_t k = 0; k < 4; k++)
        for (size_t a = 0; a < sizeof attempts / sizeof *attempts; a++)
            for (size_t b = 0; b < sizeof bases / sizeof *bases; b++) {
                zr_backoff_config c = cfg_of(kinds[k], bases[b], 1e308);
                c.multiplier = DBL_MAX;
                c.increment = DBL_MAX;
                double d = -1;
                ok &= zr_backoff_raw(&c, attempts[a], &d) == ZR_OK;
                ok &= isfinite(d) && d >= 0.0 && d <= c.max_delay;
            }
    CHECK(ok);
    /* a zero cap forces every delay to zero, a zero base stays zero */
    zr_backoff_config c = cfg_of(ZR_SCHEDULE_EXPONENTIAL, 5.0, 0.0);
    double d = -1;
    CHECK(zr_backoff_raw(&c, 10, &d) == ZR_OK && d == 0.0);
    c = cfg_of(ZR_SCHEDULE_EXPONENTIAL, 0.0, 10.0);
    c.multiplier = DBL_MAX;
    CHECK(zr_backoff_raw(&c, UINT64_MAX, &d) == ZR_OK && d == 0.0);
    CHECK(zr_backoff_raw(&c, 0, &d) == ZR_EINVAL);
    c.schedule = ZR_SCHEDULE_CUSTOM;
    CHECK(zr_backoff_raw(&c, 1, &d) == ZR_EINVAL);
}

/* Sample one jitter kind on a raw delay; check bounds and mean. */
static void jitter_case(zr_jitter_kind kind, double raw, double factor, double lo, double hi,
                        double mean)
{
    zr_backoff_config c = cfg_of(ZR_SCHEDULE_FIXED, raw, 100.0);
    c.jitter = kind;
    c.jitter_factor = factor;
    zr_rng rng;
    zr_rng_seed(&rng, 7);
    const int n = 100000;
    double sum = 0.0;
    int in = 1;
    for (int i = 0; i < n; i++) {
        double d;
        if (zr_backoff_jitter(&c, &rng, raw, -1.0, &d) != ZR_OK) in = 0;
        in &= d >= lo && d <= hi;
        sum += d;
    }
    CHECK(in);
    CHECK_NEAR(sum / n, mean, (hi - lo) * 0.01 + 1e-12);
}

static void jitters(void)
{
    jitter_case(ZR_JITTER_NONE, 4.0, 0, 4.0, 4.0, 4.0);
    jitter_case(ZR_JITTER_FULL, 4.0, 0, 0.0, 4.0, 2.0);
    jitter_case(ZR_JITTER_EQUAL, 4.0, 0, 2.0, 4.0, 3.0);
    jitter_case(ZR_JITTER_PROPORTIONAL, 4.0, 0.3, 2.8, 5.2, 4.0);
    jitter_case(ZR_JITTER_ADDITIVE, 4.0, 0.3, 4.0, 5.2, 4.6);
    /* decorrelated: U(base, 3*prev) capped; prev = base at first */
    zr_backoff_config c = cfg_of(ZR_SCHEDULE_EXPONENTIAL, 1.0, 10.0);
    c.jitter = ZR_JITTER_DECORRELATED;
    zr_rng rng;
    zr_rng_seed(&rng, 9);
    int ok = 1;
    for (int i = 0; i < 10000; i++) {
        double prev = -1.0;
        for (uint64_t a = 1; a <= 8; a++) {
            double d;
            ok &= zr_backoff_delay(&c, &rng, a, prev, &d) == ZR_OK;
            double p = prev < 0 ? 1.0 : prev;
            double hi = 3.0 * p > 10.0 ? 10.0 : 3.0 * p;
            ok &= d >= 1.0 && d <= hi;
            prev = d;
        }
    }
    CHECK(ok);
    /* jitter never exceeds the cap, never goes negative, rejects NaN and negatives */
    c = cfg_of(ZR_SCHEDULE_FIXED, 10.0, 10.0);
    c.jitter = ZR_JITTER_ADDITIVE;
    c.jitter_factor = 1.0;
    double d;
    ok = 1;
    for (int i = 0; i < 1000; i++) ok &= zr_backoff_jitter(&c, &rng, 10.0, -1, &d) == ZR_OK && d <= 10.0;
    CHECK(ok);
    CHECK(zr_backoff_jitter(&c, &rng, HUGE_VAL, -1, &d) == ZR_OK && d <= 10.0);
    CHECK(zr_backoff_jitter(&c, &rng, NAN, -1, &d) == ZR_EINVAL);
    CHECK(zr_backoff_jitter(&c, &rng, -1.0, -1, &d) == ZR_EINVAL);
    /* same seed, same sequence */
    zr_rng r1, r2;
    zr_rng_seed(&r1, 123);
    zr_rng_seed(&r2, 123);
    c.jitter = ZR_JITTER_FULL;
    int same = 1;
    for (uint64_t a = 1; a < 50; a++) {
        double x, y;
        zr_backoff_delay(&c, &r1, a, -1, &x);
        zr_backoff_delay(&c, &r2, a, -1, &y);
        same &= x == y;
    }
    CHECK(same);
}

static void validation(void)
{
    const char *field = NULL;
    zr_backoff_config c;
    zr_backoff_config_default(&c);
    CHECK(zr_backoff_validate(&c, &field) == ZR_OK);
#define BAD(stmt, expected)                                                                   \
    do {                                                                                      \
        zr_backoff_config_default(&c);                                                        \
        stmt;                                                                                 \
        field = NULL;                                                                         \
        CHECK(zr_backoff_validate(&c, &field) == ZR_EINVAL);                                  \
        CHECK(field != NULL && strcmp(field, expected) == 0);                                 \
    } while (0)
    BAD(c.max_attempts = 0, "max_attempts");
    BAD(c.base_delay = -1.0, "base_delay");
    BAD(c.base_delay = NAN, "base_delay");
    BAD(c.base_delay = HUGE_VAL, "base_delay");
    BAD(c.increment = -0.5, "increment");
    BAD(c.multiplier = 0.99, "multiplier");
    BAD(c.multiplier = NAN, "multiplier");
    BAD(c.max_delay = HUGE_VAL, "max_delay");
    BAD(c.jitter_factor = 1.5, "jitter_factor");
    BAD(c.jitter_factor = NAN, "jitter_factor");
    BAD(c.schedule = (zr_schedule_kind)99, "schedule");
    BAD(c.jitter = (zr_jitter_kind)99, "jitter_type");
#undef BAD
    zr_schedule_kind s;
    zr_jitter_kind j;
    CHECK(zr_schedule_from_name("fibonacci", &s) == ZR_OK && s == ZR_SCHEDULE_FIBONACCI);
    CHECK(zr_schedule_from_name("nope", &s) == ZR_EINVAL);
    CHECK(zr_jitter_from_name("decorr", &j) == ZR_OK && j == ZR_JITTER_DECORRELATED);
    CHECK(zr_jitter_from_name("equal", &j) == ZR_OK && j == ZR_JITTER_EQUAL);
    CHECK(strcmp(zr_jitter_name(ZR_JITTER_ADDITIVE), "additive") == 0);
    CHECK(strcmp(zr_schedule_name((zr_schedule_kind)42), "unknown") == 0);
}

void suite_backoff(void)
{
    seed_tables();
    saturation();
    jitters();
    validation();
}
