/* test_adaptive.c - zr_adaptive: validation, the documented delay formula at each pressure,
 * the outcome window (eviction, counts against a reference ring), saturation, jitter
 * reproducibility. */
#include <string.h>

#include "core/zr_adaptive.h"
#include "zr_test.h"

static int bad_field_is(zr_adaptive_config c, const char *want)
{
    const char *f = NULL;
    return zr_adaptive_validate(&c, &f) == ZR_EINVAL && f != NULL && strcmp(f, want) == 0;
}

static void validation(void)
{
    zr_adaptive_config c;
    zr_adaptive_config_default(&c);
    CHECK(zr_adaptive_validate(&c, NULL) == ZR_OK);
    CHECK(c.base_delay == 1.0 && c.max_delay == 60.0 && c.success_threshold == 0.8 &&
          c.window == 100 && c.min_samples == 10);
    const double bad[] = {NAN, INFINITY, -INFINITY, -1.0};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        zr_adaptive_config b = c;
        b.base_delay = bad[i];
        CHECK(bad_field_is(b, "base_delay"));
        b = c;
        b.max_delay = bad[i];
        CHECK(bad_field_is(b, "max_delay"));
        b = c;
        b.success_threshold = bad[i];
        CHECK(bad_field_is(b, "success_threshold"));
    }
    zr_adaptive_config b = c;
    b.success_threshold = 1.0000001;
    CHECK(bad_field_is(b, "success_threshold"));
    b = c;
    b.window = 0;
    CHECK(bad_field_is(b, "adaptation_window"));
    b.window = ZR_ADAPTIVE_MAX_WINDOW + 1;
    CHECK(bad_field_is(b, "adaptation_window"));
    b = c;
    b.min_samples = 101;
    CHECK(bad_field_is(b, "min_samples"));
    CHECK(zr_adaptive_validate(NULL, NULL) == ZR_EINVAL);

    zr_adaptive_state s;
    memset(&s, 0, sizeof s);
    double d;
    CHECK(zr_adaptive_record(&c, &s, 1) == ZR_EINVAL); /* uninitialised */
    CHECK(zr_adaptive_raw_delay(&c, &s, 1, &d) == ZR_EINVAL);
    b = c;
    b.window = 0;
    CHECK(zr_adaptive_init(&b, &s) == ZR_EINVAL);
    CHECK(zr_adaptive_init(&c, &s) == ZR_OK);
    CHECK(zr_adaptive_raw_delay(&c, &s, 0, &d) == ZR_EINVAL);
    CHECK(zr_adaptive_raw_delay(&c, &s, 1, NULL) == ZR_EINVAL);
    /* a state whose head lies outside a smaller window is refused */
    s.head = 50;
    b = c;
    b.window = 10;
    b.min_samples = 5;
    CHECK(zr_adaptive_record(&b, &s, 1) == ZR_EINVAL);
    CHECK(zr_adaptive_check(&b, &s) == ZR_ECORRUPT);
}

static void formula(void)
{
    zr_adaptive_config c;
    zr_adaptive_config_default(&c); /* base 1, cap 60, threshold 0.8, window 100, min 10 */
    zr_adaptive_state s;
    double d, p, rate;
    uint32_t n;
    CHECK(zr_adaptive_init(&c, &s) == ZR_OK);
    /* no data: p = 0.5 -> 1 * 2.5 * 1.5^(n-1) */
    CHECK(zr_adaptive_pressure(&c, &s, &p) == ZR_OK && p == 0.5);
    CHECK(zr_adaptive_rate(&c, &s, &rate, &n) == ZR_OK && rate == 1.0 && n == 0);
    const double unknown[] = {2.5, 3.75, 5.625, 8.4375};
    for (int i = 0; i < 4; i++)
        CHECK(zr_adaptive_raw_delay(&c, &s, (uint64_t)i + 1, &d) == ZR_OK && d == unknown[i]);
    /* nine successes are still too few samples */
    for (int i = 0; i < 9; i++) CHECK(zr_adaptive_record(&c, &s, 1) == ZR_OK);
    CHECK(zr_adaptive_pressure(&c, &s, &p) == ZR_OK && p == 0.5);
    /* ten: healthy, base delay for every attempt */
    CHECK(zr_adaptive_record(&c, &s, 1) == ZR_OK);
    CHECK(zr_adaptive_pressure(&c, &s, &p) == ZR_OK && p == 0.0);
    for (uint64_t a = 1; a < 50; a++)
        CHECK(zr_adaptive_raw_delay(&c, &s, a, &d) == ZR_OK && d == 1.0);
    CHECK(zr_adaptive_raw_delay(&c, &s, UINT64_MAX, &d) == ZR_OK && d == 1.0);
    /* 10 successes + 15 failures: rate 0.4, p = (0.8 - 0.4) / 0.8 = 0.5 */
    for (int i = 0; i < 15; i++) CHECK(zr_adaptive_record(&c, &s, 0) == ZR_OK);
    CHECK(zr_adaptive_rate(&c, &s, &rate, &n) == ZR_OK && rate == 0.4 && n == 25);
    CHECK(zr_adaptive_pressure(&c, &s, &p) == ZR_OK && fabs(p - 0.5) < 1e-12);
    CHECK(zr_adaptive_raw_delay(&c, &s, 2, &d) == ZR_OK && fabs(d - 3.75) < 1e-12);
    /* exactly at the threshold: healthy */
    zr_adaptive_state t;
    CHECK(zr_adaptive_init(&c, &t) == ZR_OK);
    for (int i = 0; i < 8; i++) CHECK(zr_adaptive_record(&c, &t, 1) == ZR_OK);
    for (int i = 0; i < 2; i++) CHECK(zr_adaptive_record(&c, &t, 0) == ZR_OK);
    CHECK(zr_adaptive_pressure(&c, &t, &p) == ZR_OK && p == 0.0);
    /* everything failing: p = 1 -> 4 * 2^(n-1), capped at 60 */
    CHECK(zr_adaptive_init(&c, &t) == ZR_OK);
    for (int i = 0; i < 10; i++) CHECK(zr_adaptive_record(&c, &t, 0) == ZR_OK);
    CHECK(zr_adaptive_pressure(&c, &t, &p) == ZR_OK && p == 1.0);
    const double down[] = {4, 8, 16, 32, 60, 60};
    for (int i = 0; i < 6; i++)
        CHECK(zr_adaptive_raw_delay(&c, &t, (uint64_t)i + 1, &d) == ZR_OK && d == down[i]);
    CHECK(zr_adaptive_raw_delay(&c, &t, UINT64_MAX, &d) == ZR_OK && d == 60.0);
    /* delays grow monotonically as the rate falls */
    double prev = -1.0;
    int monotone = 1;
    for (int fails = 0; fails <= 100; fails++) {
        zr_adaptive_state u;
        (void)zr_adaptive_init(&c, &u);
        for (int i = 0; i < 100; i++) (void)zr_adaptive_record(&c, &u, i >= fails);
        (void)zr_adaptive_raw_delay(&c, &u, 3, &d);
        if (d < prev) monotone = 0;
        prev = d;
    }
    CHECK(monotone);
    /* recovery: 100 successes push every failure out of the window */
    for (int i = 0; i < 100; i++) CHECK(zr_adaptive_record(&c, &t, 1) == ZR_OK);
    CHECK(zr_adaptive_rate(&c, &t, &rate, &n) == ZR_OK && rate == 1.0 && n == 100);
    CHECK(zr_adaptive_raw_delay(&c, &t, 5, &d) == ZR_OK && d == 1.0);
    CHECK(t.total_failures == 10 && t.total_successes == 100);
    /* threshold 0: never under pressure once there is data */
    c.success_threshold = 0.0;
    CHECK(zr_adaptive_pressure(&c, &t, &p) == ZR_OK && p == 0.0);
    /* min_samples 0 behaves like 1 (an empty window has no rate) */
    c.success_threshold = 0.8;
    c.min_samples = 0;
    CHECK(zr_adaptive_init(&c, &t) == ZR_OK);
    CHECK(zr_adaptive_pressure(&c, &t, &p) == ZR_OK && p == 0.5);
    CHECK(zr_adaptive_record(&c, &t, 0) == ZR_OK);
    CHECK(zr_adaptive_pressure(&c, &t, &p) == ZR_OK && p == 1.0);
    /* zero base or zero cap: 0, never 0 * inf = NaN */
    c.base_delay = 0.0;
    CHECK(zr_adaptive_raw_delay(&c, &t, UINT64_MAX, &d) == ZR_OK && d == 0.0);
    c.base_delay = 1.0;
    c.max_delay = 0.0;
    CHECK(zr_adaptive_raw_delay(&c, &t, UINT64_MAX, &d) == ZR_OK && d == 0.0);
    c.max_delay = 1e308;
    c.base_delay = 1e308;
    CHECK(zr_adaptive_raw_delay(&c, &t, 3000, &d) == ZR_OK && d == 1e308);
    CHECK(zr_adaptive_reset(&c, &t) == ZR_OK && t.count == 0 && t.total_failures == 0);
}

static void window_vs_reference(void)
{
    const uint32_t windows[] = {1, 2, 63, 64, 65, 100, ZR_ADAPTIVE_MAX_WINDOW};
    uint64_t x = 88172645463325252ull;
    int wrong = 0;
    for (size_t wi = 0; wi < sizeof windows / sizeof *windows; wi++) {
        zr_adaptive_config c;
        zr_adaptive_config_default(&c);
        c.window = windows[wi];
        c.min_samples = windows[wi] < 10 ? windows[wi] : 10;
        static zr_adaptive_state s;
        static unsigned char ring[ZR_ADAPTIVE_MAX_WINDOW];
        uint32_t len = 0, pos = 0;
        CHECK(zr_adaptive_init(&c, &s) == ZR_OK);
        int ops = windows[wi] * 3 + 500;
        for (int i = 0; i < ops; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            int v = (int)(x % 3 != 0);
            (void)zr_adaptive_record(&c, &s, v);
            ring[pos] = (unsigned char)v;
            pos = (pos + 1) % c.window;
            if (len < c.window) len++;
            uint32_t ones = 0;
            if (i % 97 == 0 || i == ops - 1) {
                for (uint32_t k = 0; k < len; k++) ones += ring[k];
                double rate;
                uint32_t n;
                (void)zr_adaptive_rate(&c, &s, &rate, &n);
                if (n != len || s.successes != ones || rate != (double)ones / (double)len) wrong++;
                if (zr_adaptive_check(&c, &s) != ZR_OK) wrong++;
            }
        }
    }
    CHECK(wrong == 0);
}

static void jitter(void)
{
    zr_adaptive_config c;
    zr_adaptive_config_default(&c);
    zr_adaptive_state s;
    CHECK(zr_adaptive_init(&c, &s) == ZR_OK);
    for (int i = 0; i < 20; i++) (void)zr_adaptive_record(&c, &s, 0);
    zr_backoff_config j;
    zr_backoff_config_default(&j); /* full jitter */
    j.max_delay = 60.0;
    zr_rng r1, r2;
    zr_rng_seed(&r1, 42);
    zr_rng_seed(&r2, 42);
    int same = 1, in_range = 1;
    for (uint64_t a = 1; a <= 200; a++) {
        double d1, d2, raw;
        CHECK(zr_adaptive_delay(&c, &s, &j, &r1, a % 8 + 1, -1.0, &d1) == ZR_OK);
        CHECK(zr_adaptive_delay(&c, &s, &j, &r2, a % 8 + 1, -1.0, &d2) == ZR_OK);
        (void)zr_adaptive_raw_delay(&c, &s, a % 8 + 1, &raw);
        if (d1 != d2) same = 0;
        if (!(d1 >= 0.0 && d1 <= raw)) in_range = 0;
    }
    CHECK(same);
    CHECK(in_range);
    /* no jitter: exactly the raw delay */
    j.jitter = ZR_JITTER_NONE;
    double d;
    CHECK(zr_adaptive_delay(&c, &s, &j, &r1, 2, -1.0, &d) == ZR_OK && d == 8.0);
    CHECK(zr_adaptive_delay(&c, &s, NULL, &r1, 2, -1.0, &d) == ZR_EINVAL);
    /* decorrelated jitter stays within the adaptive cap */
    j.jitter = ZR_JITTER_DECORRELATED;
    j.max_delay = 1000.0;
    int capped = 1;
    double prev = -1.0;
    for (int i = 0; i < 100; i++) {
        CHECK(zr_adaptive_delay(&c, &s, &j, &r1, 3, prev, &d) == ZR_OK);
        if (!(d >= 0.0 && d <= 60.0)) capped = 0;
        prev = d;
    }
    CHECK(capped);
}

static void repair(void)
{
    zr_adaptive_config c;
    zr_adaptive_config_default(&c);
    static zr_adaptive_state s;
    int changed = -1;
    CHECK(zr_adaptive_init(&c, &s) == ZR_OK);
    for (int i = 0; i < 150; i++) (void)zr_adaptive_record(&c, &s, i % 3 == 0);
    CHECK(zr_adaptive_repair(&c, &s, &changed) == ZR_OK && changed == 0);
    s.successes += 5; /* died between the bit and the count */
    CHECK(zr_adaptive_check(&c, &s) == ZR_ECORRUPT);
    CHECK(zr_adaptive_repair(&c, &s, &changed) == ZR_OK && changed == 1);
    CHECK(zr_adaptive_check(&c, &s) == ZR_OK);
    s.head = 5000;
    s.count = 7000;
    CHECK(zr_adaptive_repair(&c, &s, &changed) == ZR_OK && changed);
    CHECK(zr_adaptive_check(&c, &s) == ZR_OK && s.count == 100 && s.head == 0);
    s.magic = 0;
    CHECK(zr_adaptive_repair(&c, &s, &changed) == ZR_OK && changed && s.count == 0);
    CHECK(zr_adaptive_repair(NULL, &s, &changed) == ZR_EINVAL);
    uint64_t x = 7;
    int bad = 0;
    for (int round = 0; round < 500; round++) {
        (void)zr_adaptive_init(&c, &s);
        unsigned char *bytes = (unsigned char *)&s;
        for (int k = 0; k < 6; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes[x % 32] = (unsigned char)(x >> 40); /* the header fields */
        }
        double d;
        if (zr_adaptive_repair(&c, &s, NULL) != ZR_OK || zr_adaptive_check(&c, &s) != ZR_OK ||
            zr_adaptive_raw_delay(&c, &s, 3, &d) != ZR_OK || !(d >= 0.0 && d <= 60.0))
            bad++;
    }
    CHECK(bad == 0);
}

void suite_adaptive(void)
{
    repair();
    validation();
    formula();
    window_vs_reference();
    jitter();
}
