/* test_rng.c - the generator is deterministic per seed, uniform, and stays in range. */
#include "core/zr_rng.h"
#include "zr_test.h"

void suite_rng(void)
{
    zr_rng a, b;
    zr_rng_seed(&a, 42);
    zr_rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= zr_rng_next(&a) == zr_rng_next(&b);
    CHECK(same);

    zr_rng_seed(&b, 43);
    CHECK(zr_rng_next(&a) != zr_rng_next(&b));

    /* uniform in [0,1): range and mean over many samples */
    double sum = 0.0, lo = 1.0, hi = 0.0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = zr_rng_uniform(&a);
        sum += u;
        if (u < lo) lo = u;
        if (u > hi) hi = u;
    }
    CHECK(lo >= 0.0 && hi < 1.0);
    CHECK_NEAR(sum / n, 0.5, 0.01);
    CHECK(lo < 0.001 && hi > 0.999);

    /* between() honours its half-open interval, including degenerate and huge spans */
    int ok = 1;
    for (int i = 0; i < 10000; i++) {
        double v = zr_rng_between(&a, 2.0, 3.0);
        ok &= v >= 2.0 && v < 3.0;
    }
    CHECK(ok);
    CHECK(zr_rng_between(&a, 5.0, 5.0) == 5.0);
    CHECK(zr_rng_between(&a, 5.0, 1.0) == 5.0);
    double big = zr_rng_between(&a, -1.7e308, 1.7e308);
    CHECK(isfinite(big));

    zr_rng c;
    CHECK(zr_rng_seed_os(&c) == ZR_OK);
    zr_rng d;
    CHECK(zr_rng_seed_os(&d) == ZR_OK);
    CHECK(zr_rng_next(&c) != zr_rng_next(&d));
}
