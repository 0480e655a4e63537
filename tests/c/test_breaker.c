/* test_breaker.c - every transition of zr_breaker with a fake clock, windows, slow calls,
 * leases, repair, random-sequence invariants and a pthread stress test under a mutex. */
#include <float.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/zr_breaker.h"
#include "core/zr_rng.h"
#include "zr_test.h"

void suite_breaker(void);

typedef struct {
    zr_breaker_config cfg;
    zr_breaker_state *s;
    double now;
} bk;

static void bk_open(bk *b, const zr_breaker_config *cfg)
{
    b->cfg = *cfg;
    size_t n = zr_breaker_state_size(cfg);
    b->s = (zr_breaker_state *)malloc(n ? n : 8);
    CHECK(n > 0 && zr_breaker_state_init(cfg, b->s, n) == ZR_OK);
    b->now = 1000.0;
}

static void bk_close(bk *b) { free(b->s); }

/* acquire at b->now; returns 1 admitted, 0 refused */
static int acq(bk *b, zr_breaker_permit *p, double *ra, zr_breaker_change *ch)
{
    double r = -1.0;
    zr_status st = zr_breaker_acquire(&b->cfg, b->s, b->now, 0, p, &r, ch);
    if (ra) *ra = r;
    CHECK(st == ZR_OK || st == ZR_EREJECTED);
    return st == ZR_OK;
}

static void rel(bk *b, zr_breaker_permit *p, zr_breaker_outcome o, zr_breaker_change *ch)
{
    CHECK(zr_breaker_release(&b->cfg, b->s, b->now, p, o, -1.0, ch) == ZR_OK);
}

/* one full call: acquire + release; returns 1 if admitted */
static int call(bk *b, zr_breaker_outcome o)
{
    zr_breaker_permit p;
    if (!acq(b, &p, NULL, NULL)) return 0;
    rel(b, &p, o, NULL);
    return 1;
}

static void config_checks(void)
{
    zr_breaker_config c;
    const char *f = NULL;
    zr_breaker_config_default(&c);
    CHECK(zr_breaker_config_check(&c, &f) == ZR_OK);
    CHECK(c.failure_threshold == 5 && c.recovery_timeout == 30.0); /* seed 004 */
#define BAD(stmt, name)                                                                       \
    do {                                                                                      \
        zr_breaker_config_default(&c);                                                        \
        stmt;                                                                                 \
        f = NULL;                                                                             \
        CHECK(zr_breaker_config_check(&c, &f) == ZR_EINVAL);                                  \
        CHECK(f != NULL && strcmp(f, name) == 0);                                             \
        CHECK(zr_breaker_state_size(&c) == 0);                                                \
    } while (0)
    BAD(c.success_threshold = 0, "success_threshold");
    BAD(c.half_open_max_calls = 0, "half_open_max_calls");
    BAD(c.half_open_max_calls = ZR_BREAKER_MAX_PROBES + 1, "half_open_max_calls");
    BAD((c.window_kind = ZR_WINDOW_COUNT, c.window_calls = 0), "window_calls");
    BAD((c.window_kind = ZR_WINDOW_TIME, c.window_buckets = 0), "window_buckets");
    BAD((c.window_kind = ZR_WINDOW_TIME, c.window_duration = NAN), "window_duration");
    BAD((c.window_kind = ZR_WINDOW_COUNT, c.minimum_calls = 0), "minimum_calls");
    BAD(c.failure_rate_threshold = 1.5, "failure_rate_threshold");
    BAD(c.failure_rate_threshold = -0.1, "failure_rate_threshold");
    BAD(c.slow_call_duration = -1.0, "slow_call_duration");
    BAD(c.slow_call_duration = 1.0, "slow_call_duration"); /* needs a window */
    BAD(c.slow_call_rate_threshold = NAN, "slow_call_rate_threshold");
    BAD(c.recovery_timeout = -1.0, "recovery_timeout");
    BAD(c.recovery_timeout = INFINITY, "recovery_timeout");
    BAD(c.break_multiplier = 0.5, "break_multiplier");
    BAD(c.max_break = 1.0, "max_break");
    BAD(c.permit_lease = 0.0, "permit_lease");
    BAD(c.window_kind = 7, "window_kind");
    BAD(c.failure_threshold = 0, "failure_threshold");
    /* failure_threshold 0 is fine when a rate rule can trip */
    zr_breaker_config_default(&c);
    c.failure_threshold = 0;
    c.window_kind = ZR_WINDOW_COUNT;
    CHECK(zr_breaker_config_check(&c, NULL) == ZR_OK);
    /* sizes: header + slots + window, multiple of 8 */
    c.half_open_max_calls = 3;
    c.window_calls = 13;
    size_t n = zr_breaker_state_size(&c);
    CHECK(n == sizeof(zr_breaker_state) + 3 * sizeof(zr_breaker_slot) + 16);
    CHECK(n % 8 == 0);
    zr_breaker_state *s = (zr_breaker_state *)malloc(n);
    CHECK(zr_breaker_state_init(&c, s, n - 8) == ZR_EINVAL);
    CHECK(zr_breaker_state_init(&c, s, n) == ZR_OK);
    CHECK(zr_breaker_state_check(&c, s) == ZR_OK);
    zr_breaker_config other = c;
    other.window_calls = 200;
    CHECK(zr_breaker_state_check(&other, s) == ZR_ECORRUPT);
    CHECK(zr_breaker_config_fingerprint(&c) != zr_breaker_config_fingerprint(&other));
    CHECK(zr_breaker_config_fingerprint(&c) == zr_breaker_config_fingerprint(&c));
    free(s);
    CHECK(strcmp(zr_breaker_mode_name(ZR_BREAKER_HALF_OPEN), "half_open") == 0);
    CHECK(strcmp(zr_breaker_mode_name(99), "?") == 0);
}

/* seed 004 defaults: 5 failures trip, 30 s open, one probe, one success closes */
static void consecutive_transitions(void)
{
    zr_breaker_config c;
    zr_breaker_config_default(&c);
    bk b;
    bk_open(&b, &c);
    zr_breaker_permit p, q;
    zr_breaker_change ch;
    double ra;
    for (int i = 0; i < 4; i++) CHECK(call(&b, ZR_OUTCOME_FAILURE));
    CHECK(b.s->mode == ZR_BREAKER_CLOSED && b.s->consecutive_failures == 4);
    /* a success resets the consecutive count */
    CHECK(call(&b, ZR_OUTCOME_SUCCESS));
    CHECK(b.s->consecutive_failures == 0);
    for (int i = 0; i < 4; i++) CHECK(call(&b, ZR_OUTCOME_FAILURE));
    CHECK(acq(&b, &p, NULL, &ch) && !ch.changed);
    b.now += 0.5;
    rel(&b, &p, ZR_OUTCOME_FAILURE, &ch);
    CHECK(ch.changed && ch.from == ZR_BREAKER_CLOSED && ch.to == ZR_BREAKER_OPEN);
    CHECK(b.s->mode == ZR_BREAKER_OPEN && b.s->opened_at == b.now);
    CHECK(b.s->has_last_failure && b.s->last_failure_time == b.now);
    /* open: refused, says when to come back */
    b.now += 10.0;
    CHECK(!acq(&b, &p, &ra, &ch) && !ch.changed);
    CHECK_NEAR(ra, 20.0, 1e-9);
    b.now += 19.999;
    CHECK(!acq(&b, &p, &ra, NULL));
    CHECK(ra > 0.0 && ra < 0.01);
    /* recovery timeout over: the next acquire moves to half-open and is the probe */
    b.now += 0.001;
    CHECK(acq(&b, &p, NULL, &ch));
    CHECK(ch.changed && ch.from == ZR_BREAKER_OPEN && ch.to == ZR_BREAKER_HALF_OPEN);
    CHECK(p.slot == 0 && b.s->probes_in_use == 1);
    /* one probe at a time: a second caller is refused with retry_after 0 */
    CHECK(!acq(&b, &q, &ra, &ch) && !ch.changed && ra == 0.0);
    rel(&b, &p, ZR_OUTCOME_SUCCESS, &ch);
    CHECK(ch.changed && ch.from == ZR_BREAKER_HALF_OPEN && ch.to == ZR_BREAKER_CLOSED);
    CHECK(b.s->probes_in_use == 0 && b.s->consecutive_failures == 0);
    /* half-open failure re-opens */
    for (int i = 0; i < 5; i++) CHECK(call(&b, ZR_OUTCOME_FAILURE));
    CHECK(b.s->mode == ZR_BREAKER_OPEN);
    b.now += 30.0;
    CHECK(acq(&b, &p, NULL, &ch) && ch.to == ZR_BREAKER_HALF_OPEN);
    rel(&b, &p, ZR_OUTCOME_FAILURE, &ch);
    CHECK(ch.changed && ch.from == ZR_BREAKER_HALF_OPEN && ch.to == ZR_BREAKER_OPEN);
    CHECK(b.s->trips == 3 && b.s->transitions == 6);
    /* an ignored probe (cancelled) frees the slot and changes nothing */
    b.now += 30.0;
    CHECK(acq(&b, &p, NULL, NULL));
    rel(&b, &p, ZR_OUTCOME_IGNORED, &ch);
    CHECK(!ch.changed && b.s->mode == ZR_BREAKER_HALF_OPEN && b.s->probes_in_use == 0);
    CHECK(b.s->ignored == 1);
    /* a clock near the end of the doubles saturates instead of overflowing */
    b.now = DBL_MAX / 2 * 1.9;
    zr_breaker_reset(&c, b.s, b.now, NULL);
    for (int i = 0; i < 5; i++) call(&b, ZR_OUTCOME_FAILURE);
    CHECK(b.s->mode == ZR_BREAKER_OPEN && isfinite(b.s->open_until) && b.s->open_until >= b.now);
    b.now = INFINITY; /* not a time: refused as an argument, nothing changes */
    CHECK(zr_breaker_acquire(&c, b.s, b.now, 0, &p, &ra, NULL) == ZR_EINVAL);
    CHECK(b.s->mode == ZR_BREAKER_OPEN);
    b.now = 1e6;
    /* a bad clock or outcome changes nothing */
    CHECK(zr_breaker_acquire(&c, b.s, NAN, 0, &p, &ra, NULL) == ZR_EINVAL);
    CHECK(zr_breaker_release(&c, b.s, INFINITY, &p, ZR_OUTCOME_SUCCESS, 0, NULL) == ZR_EINVAL);
    CHECK(zr_breaker_release(&c, b.s, b.now, &p, (zr_breaker_outcome)9, 0, NULL) == ZR_EINVAL);
    bk_close(&b);
}

static void success_threshold_and_probe_limit(void)
{
    zr_breaker_config c;
    zr_breaker_config_default(&c);
    c.failure_threshold = 2;
    c.recovery_timeout = 5.0;
    c.max_break = 5.0;
    c.half_open_max_calls = 3;
    c.success_threshold = 2;
    bk b;
    bk_open(&b, &c);
    zr_breaker_permit p[5];
    zr_breaker_change ch;
    call(&b, ZR_OUTCOME_FAILURE);
    call(&b, ZR_OUTCOME_FAILURE);
    CHECK(b.s->mode == ZR_BREAKER_OPEN);
    b.now += 5.0;
    CHECK(acq(&b, &p[0], NULL, NULL) && acq(&b, &p[1], NULL, NULL) && acq(&b, &p[2], NULL, NULL));
    CHECK(!acq(&b, &p[3], NULL, NULL));
    CHECK(b.s->probes_in_use == 3);
    rel(&b, &p[0], ZR_OUTCOME_SUCCESS, &ch);
    CHECK(!ch.changed && b.s->half_open_successes == 1);
    /* the freed slot goes to the next caller */
    CHECK(acq(&b, &p[3], NULL, NULL) && p[3].slot == p[0].slot);
    CHECK(p[3].generation == p[0].generation + 1);
    /* releasing p[0] again (a stale copy) cannot free p[3]'s slot */
    rel(&b, &p[0], ZR_OUTCOME_IGNORED, NULL);
    CHECK(b.s->probes_in_use == 3);
    rel(&b, &p[1], ZR_OUTCOME_SUCCESS, &ch);
    CHECK(ch.changed && ch.to == ZR_BREAKER_CLOSED);
    CHECK(b.s->probes_in_use == 2); /* p[2], p[3] still running keep their slots */
    /* the probes still out belong to the old epoch: they record nothing */
    uint64_t stale = b.s->stale;
    rel(&b, &p[2], ZR_OUTCOME_FAILURE, &ch);
    rel(&b, &p[3], ZR_OUTCOME_FAILURE, &ch);
    CHECK(!ch.changed && b.s->stale == stale + 2 && b.s->mode == ZR_BREAKER_CLOSED);
    CHECK(b.s->consecutive_failures == 0 && b.s->probes_in_use == 0);
    /* a re-trip while probes run: the next half-open only has the free slots */
    call(&b, ZR_OUTCOME_FAILURE);
    call(&b, ZR_OUTCOME_FAILURE);
    b.now += 5.0;
    CHECK(acq(&b, &p[0], NULL, NULL) && acq(&b, &p[1], NULL, NULL));
    rel(&b, &p[0], ZR_OUTCOME_FAILURE, &ch); /* re-trip; p[1] still running */
    CHECK(ch.to == ZR_BREAKER_OPEN && b.s->probes_in_use == 1);
    b.now += 5.0;
    CHECK(acq(&b, &p[2], NULL, NULL) && acq(&b, &p[3], NULL, NULL));
    CHECK(!acq(&b, &p[4], NULL, NULL)); /* 2 new + the old one = the limit of 3 */
    rel(&b, &p[1], ZR_OUTCOME_SUCCESS, &ch); /* stale: frees its slot, counts nothing */
    CHECK(!ch.changed && b.s->probes_in_use == 2 && b.s->half_open_successes == 0);
    bk_close(&b);
}

static void growing_break(void)
{
    zr_breaker_config c;
    zr_breaker_config_default(&c);
    c.failure_threshold = 1;
    c.recovery_timeout = 10.0;
    c.break_multiplier = 2.0;
    c.max_break = 35.0;
    bk b;
    bk_open(&b, &c);
    zr_breaker_permit p;
    double ra;
    const double expect[] = {10.0, 20.0, 35.0, 35.0};
    call(&b, ZR_OUTCOME_FAILURE);
    for (int i = 0; i < 4; i++) {
        CHECK(b.s->mode == ZR_BREAKER_OPEN);
        CHECK(b.s->break_duration == expect[i]);
        CHECK(!acq(&b, &p, &ra, NULL) && ra == expect[i]);
        b.now += expect[i];
        CHECK(acq(&b, &p, NULL, NULL));
        if (i < 3) rel(&b, &p, ZR_OUTCOME_FAILURE, NULL);
    }
    rel(&b, &p, ZR_OUTCOME_SUCCESS, NULL);
    CHECK(b.s->mode == ZR_BREAKER_CLOSED && b.s->consecutive_trips == 0);
    /* after closing, the next trip starts from recovery_timeout again */
    call(&b, ZR_OUTCOME_FAILURE);
    CHECK(b.s->break_duration == 10.0);
    bk_close(&b);
}

static void count_window(void)
{
    zr_breaker_config c;
    zr_breaker_config_default(&c);
    c.failure_threshold = 0;
    c.window_kind = ZR_WINDOW_COUNT;
    c.window_calls = 10;
    c.minimum_calls = 5;
    c.failure_rate_threshold = 0.5;
    bk b;
    bk_open(&b, &c);
    /* 4 failures: below minimum calls, no trip even at 100 % */
    for (int i = 0; i < 4; i++) call(&b, ZR_OUTCOME_FAILURE);
    CHECK(b.s->mode == ZR_BREAKER_CLOSED && b.s->win_calls == 4 && b.s->win_failures == 4);
    zr_breaker_reset(&c, b.s, b.now, NULL);
    CHECK(b.s->win_calls == 0);
    /* alternate S F: ratio stays 0.5 -> trips at the 5th call? S F S F S = 2/5 < 0.5 */
    call(&b, ZR_OUTCOME_SUCCESS);
    call(&b, ZR_OUTCOME_FAILURE);
    call(&b, ZR_OUTCOME_SUCCESS);
    call(&b, ZR_OUTCOME_FAILURE);
    call(&b, ZR_OUTCOME_SUCCESS);
    CHECK(b.s->mode == ZR_BREAKER_CLOSED);
    call(&b, ZR_OUTCOME_FAILURE); /* 3/6 = 0.5 -> trip */
    CHECK(b.s->mode == ZR_BREAKER_OPEN);
    zr_breaker_reset(&c, b.s, b.now, NULL);
    /* the ring forgets: 10 successes then failures; oldest successes drop out */
    for (int i = 0; i < 10; i++) call(&b, ZR_OUTCOME_SUCCESS);
    for (int i = 0; i < 4; i++) call(&b, ZR_OUTCOME_FAILURE);
    CHECK(b.s->win_calls == 10 && b.s->win_failures == 4 && b.s->mode == ZR_BREAKER_CLOSED);
    call(&b, ZR_OUTCOME_FAILURE); /* 5/10 */
    CHECK(b.s->mode == ZR_BREAKER_OPEN);
    bk_close(&b);
}

static void time_window(void)
{
    zr_breaker_config c;
    zr_breaker_config_default(&c);
    c.failure_threshold = 0;
    c.window_kind = ZR_WINDOW_TIME;
    c.window_duration = 10.0;
    c.window_buckets = 10;
    c.minimum_calls = 4;
    c.failure_rate_threshold = 0.75;
    bk b;
    bk_open(&b, &c);
    zr_breaker_stats st;
    b.now = 100.0;
    call(&b, ZR_OUTCOME_FAILURE);
    b.now = 101.5;
    call(&b, ZR_OUTCOME_FAILURE);
    b.now = 105.0;
    call(&b, ZR_OUTCOME_FAILURE);
    CHECK(b.s->win_calls == 3 && b.s->mode == ZR_BREAKER_CLOSED);
    zr_breaker_stats_get(&c, b.s, 109.9, &st);
    CHECK(st.window_calls == 3);
    zr_breaker_stats_get(&c, b.s, 110.0, &st); /* the t=100 bucket left the window */
    CHECK(st.window_calls == 2 && st.window_failures == 2);
    zr_breaker_stats_get(&c, b.s, 200.0, &st);
    CHECK(st.window_calls == 0);
    /* at t=110.2 the first failure has expired: 3 calls (2 F + 1 S) < minimum 4 */
    b.now = 110.2;
    call(&b, ZR_OUTCOME_SUCCESS);
    CHECK(b.s->win_calls == 3 && b.s->win_failures == 2 && b.s->mode == ZR_BREAKER_CLOSED);
    b.now = 110.3;
    call(&b, ZR_OUTCOME_FAILURE); /* 3 F / 4 = 0.75 -> trip */
    CHECK(b.s->mode == ZR_BREAKER_OPEN);
    zr_breaker_reset(&c, b.s, b.now, NULL);
    /* a long quiet gap empties the window entirely */
    for (int i = 0; i < 3; i++) call(&b, ZR_OUTCOME_FAILURE);
    b.now += 1000.0;
    call(&b, ZR_OUTCOME_FAILURE);
    CHECK(b.s->win_calls == 1 && b.s->mode == ZR_BREAKER_CLOSED);
    /* an outcome stamped in the past lands in the newest bucket */
    b.now -= 50.0;
    call(&b, ZR_OUTCOME_SUCCESS);
    CHECK(b.s->win_calls == 2);
    bk_close(&b);
}

static void slow_calls(void)
{
    zr_breaker_config c;
    zr_breaker_config_default(&c);
    c.failure_threshold = 0;
    c.failure_rate_threshold = 0.0;
    c.window_kind = ZR_WINDOW_COUNT;
    c.window_calls = 4;
    c.minimum_calls = 4;
    c.slow_call_duration = 1.0;
    c.slow_call_rate_threshold = 0.5;
    bk b;
    bk_open(&b, &c);
    zr_breaker_permit p;
    acq(&b, &p, NULL, NULL);
    b.now += 2.0; /* duration from the permit: 2 s -> slow */
    rel(&b, &p, ZR_OUTCOME_SUCCESS, NULL);
    CHECK(b.s->win_slow == 1 && b.s->slow_calls == 1);
    acq(&b, &p, NULL, NULL);
    CHECK(zr_breaker_release(&c, b.s, b.now, &p, ZR_OUTCOME_SUCCESS, 0.5, NULL) == ZR_OK);
    acq(&b, &p, NULL, NULL);
    CHECK(zr_breaker_release(&c, b.s, b.now, &p, ZR_OUTCOME_FAILURE, 0.1, NULL) == ZR_OK);
    CHECK(b.s->mode == ZR_BREAKER_CLOSED); /* failures do not trip: rate rule off */
    acq(&b, &p, NULL, NULL);
    CHECK(zr_breaker_release(&c, b.s, b.now, &p, ZR_OUTCOME_SUCCESS, 1.0, NULL) == ZR_OK);
    CHECK(b.s->mode == ZR_BREAKER_OPEN); /* 2 slow of 4 */
    /* half-open: a slow probe counts as a failure */
    b.now += 30.0;
    acq(&b, &p, NULL, NULL);
    CHECK(b.s->mode == ZR_BREAKER_HALF_OPEN);
    CHECK(zr_breaker_release(&c, b.s, b.now, &p, ZR_OUTCOME_SUCCESS, 3.0, NULL) == ZR_OK);
    CHECK(b.s->mode == ZR_BREAKER_OPEN);
    bk_close(&b);
}

static void manual_control(void)
{
    zr_breaker_config c;
    zr_breaker_config_default(&c);
    bk b;
    bk_open(&b, &c);
    zr_breaker_permit p;
    zr_breaker_change ch;
    double ra;
    CHECK(acq(&b, &p, NULL, NULL));
    zr_breaker_isolate(&c, b.s, b.now, &ch);
    CHECK(ch.changed && ch.from == ZR_BREAKER_CLOSED && ch.to == ZR_BREAKER_ISOLATED);
    CHECK(!acq(&b, &p, &ra, NULL) && isinf(ra) && ra > 0);
    b.now += 1e6; /* isolation never times out */
    CHECK(!acq(&b, &p, &ra, NULL));
    zr_breaker_disable(&c, b.s, b.now, &ch);
    CHECK(ch.changed && ch.from == ZR_BREAKER_ISOLATED && ch.to == ZR_BREAKER_DISABLED);
    for (int i = 0; i < 20; i++) CHECK(call(&b, ZR_OUTCOME_FAILURE));
    CHECK(b.s->mode == ZR_BREAKER_DISABLED);
    zr_breaker_reset(&c, b.s, b.now, &ch);
    CHECK(ch.changed && ch.to == ZR_BREAKER_CLOSED && b.s->consecutive_failures == 0);
    CHECK(!b.s->has_last_failure);
    /* reset when already closed: no change reported, but in-flight permits go stale */
    CHECK(acq(&b, &p, NULL, NULL));
    uint64_t e = b.s->epoch;
    zr_breaker_reset(&c, b.s, b.now, &ch);
    CHECK(!ch.changed && b.s->epoch == e + 1);
    rel(&b, &p, ZR_OUTCOME_FAILURE, NULL);
    CHECK(b.s->consecutive_failures == 0);
    /* poll moves an expired OPEN to HALF_OPEN without taking a probe */
    for (int i = 0; i < 5; i++) call(&b, ZR_OUTCOME_FAILURE);
    CHECK(zr_breaker_poll(&c, b.s, b.now + 29.0, &ch) == ZR_OK && !ch.changed);
    CHECK(zr_breaker_poll(&c, b.s, b.now + 30.0, &ch) == ZR_OK && ch.changed);
    CHECK(b.s->mode == ZR_BREAKER_HALF_OPEN && b.s->probes_in_use == 0);
    CHECK(zr_breaker_poll(&c, b.s, NAN, &ch) == ZR_EINVAL);
    bk_close(&b);
}

static void leases_and_owners(void)
{
    zr_breaker_config c;
    zr_breaker_config_default(&c);
    c.failure_threshold = 1;
    c.recovery_timeout = 1.0;
    c.max_break = 1.0;
    c.half_open_max_calls = 2;
    c.success_threshold = 3;
    c.permit_lease = 5.0;
    bk b;
    bk_open(&b, &c);
    zr_breaker_permit p1, p2, p3;
    double ra;
    call(&b, ZR_OUTCOME_FAILURE);
    b.now += 1.0;
    CHECK(zr_breaker_acquire(&c, b.s, b.now, 111, &p1, &ra, NULL) == ZR_OK);
    b.now += 1.0;
    CHECK(zr_breaker_acquire(&c, b.s, b.now, 222, &p2, &ra, NULL) == ZR_OK);
    CHECK(zr_breaker_acquire(&c, b.s, b.now, 333, &p3, &ra, NULL) == ZR_EREJECTED);
    /* owner 111 died: its slot is freed */
    CHECK(zr_breaker_release_owner(&c, b.s, 111) == 1);
    CHECK(zr_breaker_release_owner(&c, b.s, 111) == 0);
    CHECK(b.s->probes_in_use == 1);
    b.now += 1.0;
    CHECK(zr_breaker_acquire(&c, b.s, b.now, 333, &p3, &ra, NULL) == ZR_OK);
    CHECK(zr_breaker_acquire(&c, b.s, b.now, 444, &p1, &ra, NULL) == ZR_EREJECTED);
    /* nobody returns anything: after the lease the oldest slot is reclaimed */
    b.now += 3.999; /* p2 is 4.999 s old */
    CHECK(zr_breaker_acquire(&c, b.s, b.now, 444, &p1, &ra, NULL) == ZR_EREJECTED);
    b.now += 0.001;
    CHECK(zr_breaker_acquire(&c, b.s, b.now, 444, &p1, &ra, NULL) == ZR_OK);
    CHECK(b.s->reclaimed == 1 && b.s->probes_in_use == 2);
    /* the reclaimed permit's late release does not free the new holder's slot */
    rel(&b, &p2, ZR_OUTCOME_SUCCESS, NULL);
    CHECK(b.s->probes_in_use == 2);
    /* record() without a permit frees the owner's slot */
    CHECK(zr_breaker_record(&c, b.s, b.now, 444, ZR_OUTCOME_SUCCESS, 0.0, NULL) == ZR_OK);
    CHECK(b.s->probes_in_use == 1);
    bk_close(&b);
}

static void record_api(void)
{
    zr_breaker_config c;
    zr_breaker_config_default(&c);
    c.failure_threshold = 2;
    c.recovery_timeout = 10.0;
    c.max_break = 10.0;
    bk b;
    bk_open(&b, &c);
    zr_breaker_change ch;
    CHECK(zr_breaker_record(&c, b.s, b.now, 0, ZR_OUTCOME_FAILURE, 0.0, &ch) == ZR_OK && !ch.changed);
    CHECK(zr_breaker_record(&c, b.s, b.now, 0, ZR_OUTCOME_FAILURE, 0.0, &ch) == ZR_OK);
    CHECK(ch.changed && ch.to == ZR_BREAKER_OPEN);
    /* record in OPEN after the break: polls to HALF_OPEN, and a success closes: net
     * change OPEN -> CLOSED */
    b.now += 10.0;
    CHECK(zr_breaker_record(&c, b.s, b.now, 0, ZR_OUTCOME_SUCCESS, 0.0, &ch) == ZR_OK);
    CHECK(ch.changed && ch.from == ZR_BREAKER_OPEN && ch.to == ZR_BREAKER_CLOSED);
    CHECK(zr_breaker_record(&c, b.s, b.now, 0, (zr_breaker_outcome)5, 0.0, &ch) == ZR_EINVAL);
    bk_close(&b);
}

static void repair(void)
{
    zr_breaker_config c;
    zr_breaker_config_default(&c);
    c.failure_threshold = 0;
    c.window_kind = ZR_WINDOW_COUNT;
    c.window_calls = 8;
    c.half_open_max_calls = 4;
    bk b;
    bk_open(&b, &c);
    for (int i = 0; i < 13; i++) call(&b, i % 3 == 0 ? ZR_OUTCOME_FAILURE : ZR_OUTCOME_SUCCESS);
    uint64_t calls = b.s->win_calls, fails = b.s->win_failures;
    /* a writer died mid-update: totals and modes scrambled */
    b.s->win_calls = 999;
    b.s->win_failures = 12345;
    b.s->mode = 77;
    b.s->probes_in_use = 9;
    zr_breaker_slots(b.s)[2].in_use = 1;
    zr_breaker_repair(&c, b.s);
    CHECK(b.s->win_calls == calls && b.s->win_failures == fails);
    CHECK(b.s->mode == ZR_BREAKER_OPEN && b.s->probes_in_use == 1);
    bk_close(&b);

    c.window_kind = ZR_WINDOW_TIME;
    c.window_duration = 4.0;
    c.window_buckets = 4;
    bk_open(&b, &c);
    for (int i = 0; i < 10; i++) {
        b.now += 0.7;
        call(&b, i % 2 ? ZR_OUTCOME_FAILURE : ZR_OUTCOME_SUCCESS);
    }
    calls = b.s->win_calls;
    fails = b.s->win_failures;
    b.s->win_calls = 0;
    b.s->win_failures = 77;
    zr_breaker_repair(&c, b.s);
    CHECK(b.s->win_calls == calls && b.s->win_failures == fails);
    bk_close(&b);
}

/* Recount what the state's derived fields must equal; 1 if all invariants hold. */
static int invariants(const zr_breaker_config *c, zr_breaker_state *s, double now)
{
    int ok = 1;
    zr_breaker_slot *sl = zr_breaker_slots(s);
    uint32_t used = 0;
    for (uint32_t i = 0; i < c->half_open_max_calls; i++) used += sl[i].in_use;
    ok &= used == s->probes_in_use;
    ok &= s->probes_in_use <= c->half_open_max_calls;
    ok &= s->mode <= ZR_BREAKER_DISABLED;
    ok &= s->win_failures <= s->win_calls && s->win_slow <= s->win_calls;
    if (c->window_kind == ZR_WINDOW_COUNT) ok &= s->win_calls <= c->window_calls;
    if (s->mode == ZR_BREAKER_CLOSED && c->failure_threshold)
        ok &= s->consecutive_failures < c->failure_threshold;
    if (s->mode == ZR_BREAKER_OPEN)
        ok &= s->break_duration >= c->recovery_timeout && s->break_duration <= c->max_break;
    zr_breaker_stats st;
    zr_breaker_stats_get(c, s, now, &st);
    ok &= !isnan(st.retry_after) && st.retry_after >= 0.0;
    /* a fresh recount agrees with the incremental totals */
    uint64_t wc = s->win_calls, wf = s->win_failures, ws = s->win_slow;
    zr_breaker_repair(c, s);
    ok &= wc == s->win_calls && wf == s->win_failures && ws == s->win_slow;
    return ok;
}

static void random_sequences(void)
{
    zr_rng rng;
    zr_rng_seed(&rng, 4242);
    int all_ok = 1;
    for (int round = 0; round < 300; round++) {
        zr_breaker_config c;
        zr_breaker_config_default(&c);
        c.failure_threshold = (uint32_t)(zr_rng_next(&rng) % 6);
        c.success_threshold = 1 + (uint32_t)(zr_rng_next(&rng) % 3);
        c.half_open_max_calls = 1 + (uint32_t)(zr_rng_next(&rng) % 4);
        c.window_kind = (uint32_t)(zr_rng_next(&rng) % 3);
        c.window_calls = 1 + (uint32_t)(zr_rng_next(&rng) % 20);
        c.window_buckets = 1 + (uint32_t)(zr_rng_next(&rng) % 8);
        c.window_duration = 0.5 + (double)(zr_rng_next(&rng) % 10);
        c.minimum_calls = 1 + (uint32_t)(zr_rng_next(&rng) % 10);
        c.failure_rate_threshold = (double)(zr_rng_next(&rng) % 11) / 10.0;
        if (c.window_kind != ZR_WINDOW_NONE && zr_rng_next(&rng) % 2) {
            c.slow_call_duration = 0.5;
            c.slow_call_rate_threshold = (double)(zr_rng_next(&rng) % 11) / 10.0;
        }
        c.recovery_timeout = (double)(zr_rng_next(&rng) % 5);
        c.break_multiplier = 1.0 + (double)(zr_rng_next(&rng) % 3);
        c.max_break = c.recovery_timeout * 4.0;
        c.permit_lease = 1.0 + (double)(zr_rng_next(&rng) % 5);
        if (zr_breaker_config_check(&c, NULL) != ZR_OK) {
            c.failure_threshold = 3;
        }
        bk b;
        bk_open(&b, &c);
        zr_breaker_permit held[16];
        int nheld = 0;
        for (int step = 0; step < 400; step++) {
            uint64_t r = zr_rng_next(&rng) % 100;
            if (r < 40) {
                zr_breaker_permit p;
                double ra = -1;
                zr_status st = zr_breaker_acquire(&c, b.s, b.now, zr_rng_next(&rng) % 3, &p, &ra, NULL);
                if (st == ZR_OK) {
                    if (nheld < 16) held[nheld++] = p;
                    else zr_breaker_release(&c, b.s, b.now, &p, ZR_OUTCOME_SUCCESS, -1, NULL);
                }
                else {
                    all_ok &= st == ZR_EREJECTED && !isnan(ra) && ra >= 0.0;
                }
            }
            else if (r < 80 && nheld > 0) {
                int i = (int)(zr_rng_next(&rng) % (uint64_t)nheld);
                zr_breaker_permit p = held[i];
                held[i] = held[--nheld];
                zr_breaker_outcome o = (zr_breaker_outcome)(zr_rng_next(&rng) % 3);
                all_ok &= zr_breaker_release(&c, b.s, b.now, &p, o, -1.0, NULL) == ZR_OK;
            }
            else if (r < 92) {
                b.now += (double)(zr_rng_next(&rng) % 1000) / 250.0;
            }
            else if (r < 94) {
                zr_breaker_reset(&c, b.s, b.now, NULL);
            }
            else if (r < 95) {
                zr_breaker_isolate(&c, b.s, b.now, NULL);
            }
            else if (r < 96) {
                zr_breaker_disable(&c, b.s, b.now, NULL);
            }
            else if (r < 98) {
                zr_breaker_record(&c, b.s, b.now, zr_rng_next(&rng) % 3,
                                  (zr_breaker_outcome)(zr_rng_next(&rng) % 2), 0.0, NULL);
            }
            else {
                zr_breaker_release_owner(&c, b.s, zr_rng_next(&rng) % 3);
            }
            if (!invariants(&c, b.s, b.now)) {
                all_ok = 0;
                fprintf(stderr, "invariant broken: round %d step %d\n", round, step);
                break;
            }
        }
        bk_close(&b);
    }
    CHECK(all_ok);
}

/* ---- pthread stress: the core is unlocked, the caller holds a mutex ------------------- */

typedef struct {
    pthread_mutex_t mu;
    zr_breaker_config cfg;
    zr_breaker_state *s;
    double now;              /* fake clock, advanced under the mutex */
    uint32_t in_flight_probes; /* probes admitted and not yet released */
    uint32_t max_in_flight;
    uint64_t admitted, refused, released;
    int bad;
} stress_ctx;

typedef struct {
    stress_ctx *ctx;
    uint64_t seed;
    int ops;
} stress_arg;

static void *stress_worker(void *arg)
{
    stress_arg *a = (stress_arg *)arg;
    stress_ctx *x = a->ctx;
    zr_rng rng;
    zr_rng_seed(&rng, a->seed);
    for (int i = 0; i < a->ops; i++) {
        zr_breaker_permit p;
        double ra;
        pthread_mutex_lock(&x->mu);
        x->now += 0.001;
        zr_status st = zr_breaker_acquire(&x->cfg, x->s, x->now, a->seed, &p, &ra, NULL);
        if (st == ZR_OK) {
            x->admitted++;
            if (p.slot != ZR_BREAKER_NO_SLOT) {
                x->in_flight_probes++;
                if (x->in_flight_probes > x->max_in_flight) x->max_in_flight = x->in_flight_probes;
            }
        }
        else {
            x->refused++;
            if (!(ra >= 0.0)) x->bad = 1;
        }
        if (x->s->probes_in_use > x->cfg.half_open_max_calls) x->bad = 1;
        pthread_mutex_unlock(&x->mu);
        if (st != ZR_OK) continue;
        /* the "call": outside the lock, so probes overlap between threads */
        zr_breaker_outcome o = zr_rng_next(&rng) % 4 == 0 ? ZR_OUTCOME_FAILURE : ZR_OUTCOME_SUCCESS;
        pthread_mutex_lock(&x->mu);
        if (p.slot != ZR_BREAKER_NO_SLOT) x->in_flight_probes--;
        if (zr_breaker_release(&x->cfg, x->s, x->now, &p, o, -1.0, NULL) != ZR_OK) x->bad = 1;
        x->released++;
        pthread_mutex_unlock(&x->mu);
    }
    return NULL;
}

static void pthread_stress(void)
{
    stress_ctx x;
    memset(&x, 0, sizeof x);
    pthread_mutex_init(&x.mu, NULL);
    zr_breaker_config_default(&x.cfg);
    x.cfg.failure_threshold = 3;
    x.cfg.recovery_timeout = 0.05;
    x.cfg.max_break = 0.05;
    x.cfg.half_open_max_calls = 3;
    x.cfg.success_threshold = 2;
    x.cfg.permit_lease = 1e9; /* no reclaim: every probe in flight is real */
    size_t n = zr_breaker_state_size(&x.cfg);
    x.s = (zr_breaker_state *)malloc(n);
    zr_breaker_state_init(&x.cfg, x.s, n);
    enum { THREADS = 8, OPS = 50000 };
    pthread_t th[THREADS];
    stress_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i].ctx = &x;
        args[i].seed = (uint64_t)i + 1;
        args[i].ops = OPS;
        pthread_create(&th[i], NULL, stress_worker, &args[i]);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    CHECK(!x.bad);
    CHECK(x.max_in_flight <= x.cfg.half_open_max_calls);
    CHECK(x.admitted + x.refused == (uint64_t)THREADS * OPS);
    CHECK(x.admitted == x.released);
    CHECK(x.s->admitted == x.admitted && x.s->rejected == x.refused);
    /* every released permit is counted exactly once */
    CHECK(x.s->successes + x.s->failures + x.s->ignored + x.s->stale == x.released);
    CHECK(x.s->probes_in_use == 0);
    CHECK(x.s->trips > 0 && x.refused > 0); /* the test did exercise open/half-open */
    CHECK(invariants(&x.cfg, x.s, x.now));
    free(x.s);
    pthread_mutex_destroy(&x.mu);
}

void suite_breaker(void)
{
    config_checks();
    consecutive_transitions();
    success_threshold_and_probe_limit();
    growing_break();
    count_window();
    time_window();
    slow_calls();
    manual_control();
    leases_and_owners();
    record_api();
    repair();
    random_sequences();
    pthread_stress();
}
