/* test_budget.c - zr_budget: exact token accounting and ratio windows with a fake clock,
 * validation of every field, saturation, a reference-model comparison over random
 * operations, and a pthread stress test (8 threads, one mutex-guarded state). */
#include <pthread.h>
#include <string.h>

#include "core/zr_budget.h"
#include "zr_test.h"

static zr_budget_config token_cfg(double cap, double rate)
{
    zr_budget_config c;
    zr_budget_config_token(&c, cap, rate);
    return c;
}

static zr_budget_config ratio_cfg(double pct, double floor_ps, double window, uint32_t buckets)
{
    zr_budget_config c;
    zr_budget_config_ratio(&c, pct, floor_ps, window, buckets);
    return c;
}

static int bad_field_is(zr_budget_config c, const char *want)
{
    const char *f = NULL;
    return zr_budget_validate(&c, &f) == ZR_EINVAL && f != NULL && strcmp(f, want) == 0;
}

static void validation(void)
{
    const double bad_pos[] = {NAN, INFINITY, -INFINITY, -1.0, 0.0, -0.0};
    for (size_t i = 0; i < sizeof bad_pos / sizeof *bad_pos; i++) {
        CHECK(bad_field_is(token_cfg(bad_pos[i], 1.0), "capacity"));
        CHECK(bad_field_is(ratio_cfg(0.2, 10, bad_pos[i], 10), "window"));
    }
    CHECK(bad_field_is(token_cfg(ZR_BUDGET_MAX_CAPACITY * 2, 1.0), "capacity"));
    CHECK(bad_field_is(token_cfg(1e300, 1.0), "capacity"));
    const double bad_nonneg[] = {NAN, INFINITY, -INFINITY, -1.0, -1e-300};
    for (size_t i = 0; i < sizeof bad_nonneg / sizeof *bad_nonneg; i++) {
        CHECK(bad_field_is(token_cfg(10, bad_nonneg[i]), "refill_rate"));
        CHECK(bad_field_is(ratio_cfg(bad_nonneg[i], 10, 10, 10), "percent"));
        CHECK(bad_field_is(ratio_cfg(0.2, bad_nonneg[i], 10, 10), "min_per_second"));
        zr_budget_config c = token_cfg(10, 1);
        c.initial_tokens = bad_nonneg[i];
        CHECK(bad_field_is(c, "initial_tokens"));
    }
    zr_budget_config c = token_cfg(10, 1);
    c.initial_tokens = 10.5;
    CHECK(bad_field_is(c, "initial_tokens"));
    CHECK(bad_field_is(ratio_cfg(1000.5, 10, 10, 10), "percent"));
    CHECK(bad_field_is(ratio_cfg(0.2, 2e9, 10, 10), "min_per_second"));
    CHECK(bad_field_is(ratio_cfg(0.2, 10, 2e9, 10), "window"));
    CHECK(bad_field_is(ratio_cfg(0.2, 10, 10, 0), "buckets"));
    CHECK(bad_field_is(ratio_cfg(0.2, 10, 10, ZR_BUDGET_MAX_BUCKETS + 1), "buckets"));
    /* a window so small its slices underflow to 0 seconds */
    CHECK(bad_field_is(ratio_cfg(0.2, 10, 4.9e-324, 64), "window"));
    c = token_cfg(10, 1);
    c.mode = (zr_budget_mode)7;
    CHECK(bad_field_is(c, "mode"));
    CHECK(zr_budget_validate(NULL, NULL) == ZR_EINVAL);
    /* good ones, including the edges */
    CHECK(zr_budget_validate(&(zr_budget_config){0}, NULL) == ZR_EINVAL); /* capacity 0 */
    c = token_cfg(ZR_BUDGET_MAX_CAPACITY, 0.0);
    CHECK(zr_budget_validate(&c, NULL) == ZR_OK);
    c = ratio_cfg(0.0, 0.0, 1e-9, 1);
    CHECK(zr_budget_validate(&c, NULL) == ZR_OK);
    c = ratio_cfg(ZR_BUDGET_MAX_PERCENT, 1e9, 1e9, ZR_BUDGET_MAX_BUCKETS);
    CHECK(zr_budget_validate(&c, NULL) == ZR_OK);

    /* operations refuse bad input instead of aborting */
    zr_budget_state s;
    memset(&s, 0, sizeof s);
    c = token_cfg(10, 1);
    int g = -1;
    double d;
    uint64_t u;
    CHECK(zr_budget_try_acquire(&c, &s, 0.0, 1, &g) == ZR_EINVAL); /* uninitialised */
    CHECK(zr_budget_init(&c, &s, NAN) == ZR_EINVAL);
    CHECK(zr_budget_init(&c, &s, INFINITY) == ZR_EINVAL);
    CHECK(zr_budget_init(&c, NULL, 0.0) == ZR_EINVAL);
    zr_budget_config badc = token_cfg(NAN, 1);
    CHECK(zr_budget_init(&badc, &s, 0.0) == ZR_EINVAL);
    CHECK(zr_budget_init(&c, &s, 0.0) == ZR_OK);
    CHECK(zr_budget_try_acquire(&c, &s, NAN, 1, &g) == ZR_EINVAL);
    CHECK(zr_budget_try_acquire(&c, &s, INFINITY, 1, &g) == ZR_EINVAL);
    CHECK(zr_budget_try_acquire(&c, &s, 0.0, 1, NULL) == ZR_EINVAL);
    CHECK(zr_budget_available(&c, &s, -INFINITY, &d) == ZR_EINVAL);
    CHECK(zr_budget_available(&c, &s, 0.0, NULL) == ZR_EINVAL);
    CHECK(zr_budget_available_whole(&c, &s, NAN, &u) == ZR_EINVAL);
    CHECK(zr_budget_return(&c, &s, NAN, 1) == ZR_EINVAL);
    CHECK(zr_budget_on_request(&c, &s, NAN) == ZR_EINVAL);
    CHECK(zr_budget_drain(&c, &s, NAN) == ZR_EINVAL);
    CHECK(zr_budget_reset(&c, &s, NAN) == ZR_EINVAL);
    /* a state initialised for the other mode is refused */
    zr_budget_config r = ratio_cfg(0.2, 10, 10, 10);
    CHECK(zr_budget_try_acquire(&r, &s, 0.0, 1, &g) == ZR_EINVAL);
    CHECK(zr_budget_check(&r, &s) == ZR_ECORRUPT);
    CHECK(zr_budget_check(&c, &s) == ZR_OK);
    CHECK(zr_budget_available(&c, &s, 0.0, &d) == ZR_OK && d == 10.0);
}

static void token_exact(void)
{
    zr_budget_config c = token_cfg(10, 2.0); /* 10 tokens, 2 per second */
    zr_budget_state s;
    int g;
    double d;
    uint64_t u;
    CHECK(zr_budget_init(&c, &s, 100.0) == ZR_OK);
    CHECK(zr_budget_available(&c, &s, 100.0, &d) == ZR_OK && d == 10.0);
    for (int i = 0; i < 10; i++) CHECK(zr_budget_try_acquire(&c, &s, 100.0, 1, &g) == ZR_OK && g);
    CHECK(zr_budget_try_acquire(&c, &s, 100.0, 1, &g) == ZR_OK && !g);
    CHECK(zr_budget_available(&c, &s, 100.0, &d) == ZR_OK && d == 0.0);
    /* 0.25 s later: half a token, still not one */
    CHECK(zr_budget_try_acquire(&c, &s, 100.25, 1, &g) == ZR_OK && !g);
    CHECK(zr_budget_available(&c, &s, 100.25, &d) == ZR_OK && d == 0.5);
    CHECK(zr_budget_try_acquire(&c, &s, 100.5, 1, &g) == ZR_OK && g);
    CHECK(zr_budget_available(&c, &s, 100.5, &d) == ZR_OK && d == 0.0);
    /* 2 s later: 4 tokens; take 3 at once, then 2 at once is refused (all or nothing) */
    CHECK(zr_budget_available_whole(&c, &s, 102.5, &u) == ZR_OK && u == 4);
    CHECK(zr_budget_try_acquire(&c, &s, 102.5, 3, &g) == ZR_OK && g);
    CHECK(zr_budget_try_acquire(&c, &s, 102.5, 2, &g) == ZR_OK && !g);
    CHECK(zr_budget_available(&c, &s, 102.5, &d) == ZR_OK && d == 1.0);
    CHECK(zr_budget_try_acquire(&c, &s, 102.5, 0, &g) == ZR_OK && g);
    /* returning tokens: capped at capacity, any count */
    CHECK(zr_budget_return(&c, &s, 102.5, 2) == ZR_OK);
    CHECK(zr_budget_available(&c, &s, 102.5, &d) == ZR_OK && d == 3.0);
    CHECK(zr_budget_return(&c, &s, 102.5, UINT64_MAX) == ZR_OK);
    CHECK(zr_budget_available(&c, &s, 102.5, &d) == ZR_OK && d == 10.0);
    /* granting 2^64 - 1 or 2^53 + 1 tokens is refused, never wrapped */
    CHECK(zr_budget_try_acquire(&c, &s, 102.5, UINT64_MAX, &g) == ZR_OK && !g);
    CHECK(zr_budget_try_acquire(&c, &s, 102.5, ((uint64_t)1 << 53) + 1, &g) == ZR_OK && !g);
    CHECK(zr_budget_try_acquire(&c, &s, 102.5, 11, &g) == ZR_OK && !g);
    CHECK(zr_budget_available(&c, &s, 102.5, &d) == ZR_OK && d == 10.0);
    /* a full bucket does not bank refill: 100 s later it is still 10 */
    CHECK(zr_budget_available(&c, &s, 202.5, &d) == ZR_OK && d == 10.0);
    CHECK(s.total_returned == UINT64_MAX); /* saturated */
    CHECK(s.total_granted == 14);
    CHECK(s.total_refused == 6);

    /* the clock going backwards neither refills nor moves the refill mark back */
    CHECK(zr_budget_drain(&c, &s, 300.0) == ZR_OK);
    CHECK(zr_budget_available(&c, &s, 250.0, &d) == ZR_OK && d == 0.0);
    CHECK(zr_budget_available(&c, &s, 300.0, &d) == ZR_OK && d == 0.0);
    CHECK(zr_budget_available(&c, &s, 301.0, &d) == ZR_OK && d == 2.0);

    /* reset: full and totals zeroed */
    CHECK(zr_budget_reset(&c, &s, 301.0) == ZR_OK);
    CHECK(zr_budget_available(&c, &s, 301.0, &d) == ZR_OK && d == 10.0);
    CHECK(s.total_granted == 0 && s.total_refused == 0 && s.total_returned == 0);

    /* on_request never spends */
    for (int i = 0; i < 100; i++) CHECK(zr_budget_on_request(&c, &s, 301.0) == ZR_OK);
    CHECK(zr_budget_available(&c, &s, 301.0, &d) == ZR_OK && d == 10.0);
    CHECK(s.total_requests == 100);

    /* initial_tokens */
    c.initial_tokens = 3.0;
    CHECK(zr_budget_init(&c, &s, 0.0) == ZR_OK);
    CHECK(zr_budget_available_whole(&c, &s, 0.0, &u) == ZR_OK && u == 3);
}

static void token_saturation(void)
{
    /* inf * 0 and overflowing products never give NaN */
    zr_budget_config c = token_cfg(5, 0.0);
    zr_budget_state s;
    double d;
    int g;
    CHECK(zr_budget_init(&c, &s, -1e308) == ZR_OK);
    CHECK(zr_budget_drain(&c, &s, -1e308) == ZR_OK);
    CHECK(zr_budget_available(&c, &s, 1e308, &d) == ZR_OK && d == 0.0); /* rate 0 */
    c = token_cfg(5, 1e300);
    CHECK(zr_budget_init(&c, &s, -1.7e308) == ZR_OK);
    CHECK(zr_budget_drain(&c, &s, -1.7e308) == ZR_OK);
    /* elapsed = 3.4e308 overflows to +inf, times 1e300: +inf, clamped */
    CHECK(zr_budget_available(&c, &s, 1.7e308, &d) == ZR_OK && d == 5.0 && !isnan(d));
    CHECK(zr_budget_try_acquire(&c, &s, 1.7e308, 5, &g) == ZR_OK && g);
    c = token_cfg(ZR_BUDGET_MAX_CAPACITY, 1.0);
    CHECK(zr_budget_init(&c, &s, 0.0) == ZR_OK);
    CHECK(zr_budget_try_acquire(&c, &s, 0.0, (uint64_t)1 << 53, &g) == ZR_OK && g);
    CHECK(zr_budget_available(&c, &s, 0.0, &d) == ZR_OK && d == 0.0);
    CHECK(zr_budget_return(&c, &s, 0.0, UINT64_MAX) == ZR_OK);
    CHECK(zr_budget_available(&c, &s, 0.0, &d) == ZR_OK && d == ZR_BUDGET_MAX_CAPACITY);
    /* fractional capacity: never a whole token more than it holds */
    c = token_cfg(0.5, 1.0);
    CHECK(zr_budget_init(&c, &s, 0.0) == ZR_OK);
    CHECK(zr_budget_try_acquire(&c, &s, 10.0, 1, &g) == ZR_OK && !g);
}

static void ratio_exact(void)
{
    /* Finagle/Linkerd defaults: 20 % + 10/s over 10 s in 10 slices of 1 s */
    zr_budget_config c = ratio_cfg(0.2, 10.0, 10.0, 10);
    zr_budget_state s;
    int g;
    double d;
    uint64_t u;
    CHECK(zr_budget_init(&c, &s, 0.0) == ZR_OK);
    /* with no traffic, the floor alone: 10/s * 10 s = 100 retries per window */
    CHECK(zr_budget_available(&c, &s, 0.0, &d) == ZR_OK && d == 100.0);
    for (int i = 0; i < 100; i++) CHECK(zr_budget_try_acquire(&c, &s, 0.5, 1, &g) == ZR_OK && g);
    CHECK(zr_budget_try_acquire(&c, &s, 0.5, 1, &g) == ZR_OK && !g);
    /* 5 requests earn exactly one retry (0.2 * 5 = 1, exact in ppm arithmetic) */
    for (int i = 0; i < 4; i++) CHECK(zr_budget_on_request(&c, &s, 1.0) == ZR_OK);
    CHECK(zr_budget_try_acquire(&c, &s, 1.0, 1, &g) == ZR_OK && !g);
    CHECK(zr_budget_available(&c, &s, 1.0, &d) == ZR_OK && fabs(d - 0.8) < 1e-12);
    CHECK(zr_budget_on_request(&c, &s, 1.0) == ZR_OK);
    CHECK(zr_budget_try_acquire(&c, &s, 1.0, 1, &g) == ZR_OK && g);
    CHECK(zr_budget_try_acquire(&c, &s, 1.0, 1, &g) == ZR_OK && !g);
    CHECK(s.window_requests == 5 && s.window_retries == 101);
    CHECK(zr_budget_check(&c, &s) == ZR_OK);
    /* at t = 10.0 the slice [0, 1) has left the window: its 100 retries free the floor */
    CHECK(zr_budget_available_whole(&c, &s, 9.999, &u) == ZR_OK && u == 0);
    CHECK(zr_budget_available_whole(&c, &s, 10.0, &u) == ZR_OK && u == 100);
    /* at t = 11.0 the requests and the retry of slice [1, 2) leave too */
    CHECK(zr_budget_available_whole(&c, &s, 11.0, &u) == ZR_OK && u == 100);
    CHECK(s.window_requests == 0 && s.window_retries == 0);
    /* a long silence clears everything */
    for (int i = 0; i < 50; i++) CHECK(zr_budget_on_request(&c, &s, 11.0) == ZR_OK);
    CHECK(zr_budget_available_whole(&c, &s, 11.0, &u) == ZR_OK && u == 110);
    CHECK(zr_budget_available_whole(&c, &s, 1e6, &u) == ZR_OK && u == 100);
    CHECK(zr_budget_check(&c, &s) == ZR_OK);

    /* percent only, no floor: 1000 requests allow exactly 200 retries */
    c = ratio_cfg(0.2, 0.0, 10.0, 10);
    CHECK(zr_budget_init(&c, &s, 0.0) == ZR_OK);
    CHECK(zr_budget_try_acquire(&c, &s, 0.0, 1, &g) == ZR_OK && !g);
    for (int i = 0; i < 1000; i++) CHECK(zr_budget_on_request(&c, &s, 3.0) == ZR_OK);
    CHECK(zr_budget_try_acquire(&c, &s, 3.0, 200, &g) == ZR_OK && g);
    CHECK(zr_budget_try_acquire(&c, &s, 3.0, 1, &g) == ZR_OK && !g);
    /* returning retries, newest slice first, never below zero */
    CHECK(zr_budget_return(&c, &s, 3.0, 50) == ZR_OK);
    CHECK(zr_budget_available_whole(&c, &s, 3.0, &u) == ZR_OK && u == 50);
    CHECK(zr_budget_return(&c, &s, 3.0, UINT64_MAX) == ZR_OK);
    CHECK(s.window_retries == 0);
    CHECK(zr_budget_available_whole(&c, &s, 3.0, &u) == ZR_OK && u == 200);
    /* the clock going backwards counts into the newest slice, never expires early */
    CHECK(zr_budget_on_request(&c, &s, 1.0) == ZR_OK);
    CHECK(s.head_epoch == 3 && s.slots[3].requests == 1001);
    /* drain: nothing left until the slice expires */
    CHECK(zr_budget_drain(&c, &s, 3.0) == ZR_OK);
    CHECK(zr_budget_available(&c, &s, 3.0, &d) == ZR_OK && d == 0.0);
    CHECK(zr_budget_available_whole(&c, &s, 13.0, &u) == ZR_OK && u == 0); /* all expired */
    CHECK(zr_budget_check(&c, &s) == ZR_OK);

    /* huge counts: 2^64 - 1 retries are refused even by a huge allowance */
    c = ratio_cfg(ZR_BUDGET_MAX_PERCENT, 1e9, 1e9, 1);
    CHECK(zr_budget_init(&c, &s, 0.0) == ZR_OK);
    CHECK(zr_budget_try_acquire(&c, &s, 0.0, UINT64_MAX, &g) == ZR_OK && !g);
    CHECK(zr_budget_available(&c, &s, 0.0, &d) == ZR_OK && isfinite(d) && d > 1e12);
    CHECK(zr_budget_try_acquire(&c, &s, 0.0, 1000000, &g) == ZR_OK && g);
    /* extreme clocks: epochs clamp, nothing overflows */
    CHECK(zr_budget_on_request(&c, &s, 1.7e308) == ZR_OK);
    CHECK(zr_budget_on_request(&c, &s, -1.7e308) == ZR_OK);
    CHECK(zr_budget_check(&c, &s) == ZR_OK);
    c = ratio_cfg(0.2, 10, 1e-9, 64);
    CHECK(zr_budget_init(&c, &s, -1.7e308) == ZR_OK);
    CHECK(zr_budget_on_request(&c, &s, 1.7e308) == ZR_OK);
    CHECK(zr_budget_check(&c, &s) == ZR_OK);
    /* 0 % and no floor: never a retry */
    c = ratio_cfg(0.0, 0.0, 10.0, 10);
    CHECK(zr_budget_init(&c, &s, 0.0) == ZR_OK);
    for (int i = 0; i < 100; i++) CHECK(zr_budget_on_request(&c, &s, 0.0) == ZR_OK);
    CHECK(zr_budget_try_acquire(&c, &s, 0.0, 1, &g) == ZR_OK && !g);
}

/* A reference ratio budget: counts per epoch in a big array, summed naively. */
#define REF_EPOCHS 4096
typedef struct {
    uint64_t req[REF_EPOCHS], ret[REF_EPOCHS];
    int64_t head;
} ref_ratio;

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void ratio_vs_reference(void)
{
    static ref_ratio ref;
    const uint32_t bucket_counts[] = {1, 3, 10, 64};
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    int mismatches = 0, corrupt = 0;
    for (size_t bi = 0; bi < sizeof bucket_counts / sizeof *bucket_counts; bi++) {
        uint32_t B = bucket_counts[bi];
        zr_budget_config c = ratio_cfg(0.25, 0.5, (double)B * 0.5, B); /* slices of 0.5 s */
        zr_budget_state s;
        memset(&ref, 0, sizeof ref);
        double now = 0.0;
        CHECK(zr_budget_init(&c, &s, now) == ZR_OK);
        for (int op = 0; op < 20000; op++) {
            uint64_t r = xorshift(&rng);
            if (r % 7 == 0) now += (double)(r % 1000) / 1000.0; /* forward */
            if (r % 97 == 0) now -= 0.3;                        /* a little backwards */
            if (now < 0) now = 0;
            int64_t e = (int64_t)floor(now / 0.5);
            if (e > ref.head) ref.head = e;
            if (ref.head >= REF_EPOCHS) break;
            uint64_t wreq = 0, wret = 0;
            for (int64_t k = ref.head - (int64_t)B + 1; k <= ref.head; k++) {
                if (k < 0) continue;
                wreq += ref.req[k];
                wret += ref.ret[k];
            }
            if ((r >> 8) % 3 != 0) {
                CHECK(zr_budget_on_request(&c, &s, now) == ZR_OK);
                ref.req[ref.head]++;
            }
            else {
                uint64_t n = 1 + (r >> 16) % 3;
                int g;
                CHECK(zr_budget_try_acquire(&c, &s, now, n, &g) == ZR_OK);
                /* exact: 4 * (retries + n) <= requests + 4 * floor(0.5/s * window) */
                double fl = 0.5 * c.window;
                int want = (double)(wret + n) <= 0.25 * (double)wreq + fl + 1e-9;
                if (g != want) mismatches++;
                if (g) ref.ret[ref.head] += n;
            }
            if (zr_budget_check(&c, &s) != ZR_OK) corrupt++;
        }
    }
    CHECK(mismatches == 0);
    CHECK(corrupt == 0);
}

static void token_random_invariants(void)
{
    uint64_t rng = 12345;
    zr_budget_config c = token_cfg(7.5, 3.25);
    zr_budget_state s;
    double now = 0.0;
    CHECK(zr_budget_init(&c, &s, now) == ZR_OK);
    int out_of_range = 0, corrupt = 0;
    for (int op = 0; op < 50000; op++) {
        uint64_t r = xorshift(&rng);
        now += (double)(r % 100) / 997.0 - ((r % 13 == 0) ? 0.2 : 0.0);
        int g;
        switch ((r >> 20) % 4) {
        case 0: (void)zr_budget_try_acquire(&c, &s, now, (r >> 30) % 10, &g); break;
        case 1: (void)zr_budget_return(&c, &s, now, (r >> 30) % 5); break;
        case 2: (void)zr_budget_on_request(&c, &s, now); break;
        default: {
            double d;
            (void)zr_budget_available(&c, &s, now, &d);
            if (!(d >= 0.0 && d <= 7.5)) out_of_range++;
        }
        }
        if (!(s.tokens >= 0.0 && s.tokens <= 7.5)) out_of_range++;
        if (zr_budget_check(&c, &s) != ZR_OK) corrupt++;
    }
    CHECK(out_of_range == 0);
    CHECK(corrupt == 0);
}

/* ---- pthread stress: 8 threads share one state under a mutex ------------------------ */

typedef struct {
    pthread_mutex_t mu;
    zr_budget_config cfg;
    zr_budget_state state;
    uint64_t clock_ticks; /* the fake clock, advanced under the lock */
    int violations;
} shared_budget;

typedef struct {
    shared_budget *sh;
    uint64_t granted, returned, requests, seed;
} worker;

static void *stress_worker(void *arg)
{
    worker *w = arg;
    shared_budget *sh = w->sh;
    uint64_t held = 0;
    for (int i = 0; i < 25000; i++) {
        uint64_t r = xorshift(&w->seed);
        pthread_mutex_lock(&sh->mu);
        double now = (double)(++sh->clock_ticks) * 1e-4;
        int g = 0;
        if (r % 3 == 0) {
            (void)zr_budget_on_request(&sh->cfg, &sh->state, now);
            w->requests++;
        }
        else if (r % 3 == 1 || held == 0) {
            (void)zr_budget_try_acquire(&sh->cfg, &sh->state, now, 1, &g);
            if (g) {
                w->granted++;
                held++;
            }
        }
        else {
            (void)zr_budget_return(&sh->cfg, &sh->state, now, 1);
            w->returned++;
            held--;
        }
        if (sh->cfg.mode == ZR_BUDGET_TOKEN &&
            !(sh->state.tokens >= 0.0 && sh->state.tokens <= sh->cfg.capacity))
            sh->violations++;
        pthread_mutex_unlock(&sh->mu);
    }
    return NULL;
}

static void stress(zr_budget_config cfg)
{
    static shared_budget sh;
    memset(&sh, 0, sizeof sh);
    pthread_mutex_init(&sh.mu, NULL);
    sh.cfg = cfg;
    CHECK(zr_budget_init(&sh.cfg, &sh.state, 0.0) == ZR_OK);
    pthread_t th[8];
    worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker){&sh, 0, 0, 0, (uint64_t)i * 7919u + 1u};
        CHECK(pthread_create(&th[i], NULL, stress_worker, &w[i]) == 0);
    }
    uint64_t granted = 0, returned = 0, requests = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        granted += w[i].granted;
        returned += w[i].returned;
        requests += w[i].requests;
    }
    CHECK(sh.violations == 0);
    CHECK(sh.state.total_granted == granted);
    CHECK(sh.state.total_returned == returned);
    CHECK(sh.state.total_requests == requests);
    CHECK(sh.state.total_granted + sh.state.total_refused + sh.state.total_returned +
              sh.state.total_requests == 8u * 25000u);
    CHECK(zr_budget_check(&sh.cfg, &sh.state) == ZR_OK);
    if (cfg.mode == ZR_BUDGET_TOKEN && cfg.refill_rate == 0.0) {
        /* no refill: what is left is exactly what was never taken or was given back */
        CHECK(sh.state.tokens == cfg.capacity - (double)granted + (double)returned);
    }
    pthread_mutex_destroy(&sh.mu);
}

static void repair(void)
{
    zr_budget_config c = token_cfg(10, 1.0);
    zr_budget_state s;
    int changed = -1;
    CHECK(zr_budget_init(&c, &s, 0.0) == ZR_OK);
    CHECK(zr_budget_repair(&c, &s, 0.0, &changed) == ZR_OK && changed == 0);
    s.tokens = NAN;
    s.last_refill = INFINITY;
    CHECK(zr_budget_check(&c, &s) == ZR_ECORRUPT);
    CHECK(zr_budget_repair(&c, &s, 5.0, &changed) == ZR_OK && changed == 1);
    CHECK(zr_budget_check(&c, &s) == ZR_OK && s.tokens == 0.0 && s.last_refill == 5.0);
    s.tokens = 1e300; /* garbage: the safe side is an empty bucket */
    CHECK(zr_budget_repair(&c, &s, 5.0, &changed) == ZR_OK && changed && s.tokens == 0.0);
    memset(&s, 0xab, sizeof s); /* garbage: re-initialised */
    CHECK(zr_budget_repair(&c, &s, 7.0, &changed) == ZR_OK && changed);
    CHECK(zr_budget_check(&c, &s) == ZR_OK && s.tokens == 10.0);
    CHECK(zr_budget_repair(&c, &s, NAN, &changed) == ZR_EINVAL);
    CHECK(zr_budget_repair(&c, NULL, 0.0, &changed) == ZR_EINVAL);

    zr_budget_config r = ratio_cfg(0.2, 10, 10, 10);
    CHECK(zr_budget_init(&r, &s, 100.0) == ZR_OK);
    for (int i = 0; i < 50; i++) (void)zr_budget_on_request(&r, &s, 100.0 + i * 0.1);
    /* a writer died after bumping a slot but before the window sum */
    s.slots[3].requests += 7;
    s.slots[5].epoch = -12345;
    s.slots[5].retries = 99;
    CHECK(zr_budget_check(&r, &s) == ZR_ECORRUPT);
    CHECK(zr_budget_repair(&r, &s, 105.0, &changed) == ZR_OK && changed);
    CHECK(zr_budget_check(&r, &s) == ZR_OK);
    s.head_epoch = INT64_MAX;
    int g;
    CHECK(zr_budget_try_acquire(&r, &s, 1e18, 1, &g) == ZR_EINVAL); /* refused, no overflow */
    CHECK(zr_budget_repair(&r, &s, 105.0, &changed) == ZR_OK && changed);
    CHECK(zr_budget_check(&r, &s) == ZR_OK && s.head_epoch == 105);
    /* random corruption of every byte, then repair: always consistent afterwards */
    uint64_t x = 99;
    int bad = 0;
    for (int round = 0; round < 2000; round++) {
        zr_budget_config *cc = round % 2 ? &r : &c;
        (void)zr_budget_init(cc, &s, 1.0);
        unsigned char *bytes = (unsigned char *)&s;
        for (int k = 0; k < 8; k++) {
            x = xorshift(&x) ? x : 1;
            bytes[x % sizeof s] = (unsigned char)(x >> 32);
        }
        if (zr_budget_repair(cc, &s, 2.0, NULL) != ZR_OK || zr_budget_check(cc, &s) != ZR_OK) {
            bad++;
        }
        double d;
        if (zr_budget_available(cc, &s, 3.0, &d) != ZR_OK || !(d >= 0.0)) {
            bad++;
        }
    }
    CHECK(bad == 0);
}

void suite_budget(void)
{
    repair();
    validation();
    token_exact();
    token_saturation();
    ratio_exact();
    ratio_vs_reference();
    token_random_invariants();
    stress(token_cfg(1000, 0.0));
    stress(token_cfg(50, 100.0));
    stress(ratio_cfg(0.2, 10, 1.0, 10));
}
