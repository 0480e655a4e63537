/* test_fleet_adopt.c - a local breaker or budget taking the fleet's state (Redis, issue 5)
 * with a fake clock. zr_breaker_adopt: each target mode, the epoch guard, manual overrides
 * kept, bad arguments, permits out across an adoption. zr_budget_adopt: the level, spending
 * since the caller looked, clamping, refill restart, ratio mode refused. */
#include <math.h>
#include <stdlib.h>

#include "core/zr_breaker.h"
#include "core/zr_budget.h"
#include "zr_test.h"

void suite_fleet_adopt(void);

static zr_breaker_state *fresh(const zr_breaker_config *cfg)
{
    size_t n = zr_breaker_state_size(cfg);
    zr_breaker_state *s = (zr_breaker_state *)malloc(n ? n : 8);
    CHECK(n > 0 && zr_breaker_state_init(cfg, s, n) == ZR_OK);
    return s;
}

static int admit(const zr_breaker_config *c, zr_breaker_state *s, double now,
                 zr_breaker_permit *p)
{
    double ra = -1.0;
    return zr_breaker_acquire(c, s, now, 0, p, &ra, NULL) == ZR_OK;
}

static void adopt_open_then_half_open_then_closed(void)
{
    zr_breaker_config c;
    zr_breaker_config_default(&c);
    c.half_open_max_calls = 2;
    zr_breaker_state *s = fresh(&c);
    zr_breaker_change ch;
    zr_breaker_permit p;
    double now = 100.0;

    /* CLOSED -> OPEN for 2.5 s: refuses, reopens on time, not counted as a local trip */
    CHECK(zr_breaker_adopt(&c, s, now, s->epoch, ZR_BREAKER_OPEN, 2.5, &ch) == ZR_OK);
    CHECK(ch.changed && ch.from == ZR_BREAKER_CLOSED && ch.to == ZR_BREAKER_OPEN);
    CHECK(s->mode == ZR_BREAKER_OPEN && s->open_until == 102.5 && s->trips == 0);
    CHECK(!admit(&c, s, 102.0, &p));
    /* already OPEN: only the deadline moves, the epoch stays */
    uint64_t e = s->epoch;
    CHECK(zr_breaker_adopt(&c, s, 102.0, e, ZR_BREAKER_OPEN, 5.0, &ch) == ZR_OK);
    CHECK(!ch.changed && s->epoch == e && s->open_until == 107.0);
    CHECK(!admit(&c, s, 106.9, &p));

    /* -> HALF_OPEN: probes allowed up to the limit */
    CHECK(zr_breaker_adopt(&c, s, 103.0, e, ZR_BREAKER_HALF_OPEN, 0.0, &ch) == ZR_OK);
    CHECK(ch.changed && ch.to == ZR_BREAKER_HALF_OPEN && s->probes_in_use == 0);
    zr_breaker_permit p1, p2, p3;
    CHECK(admit(&c, s, 103.0, &p1) && admit(&c, s, 103.0, &p2) && !admit(&c, s, 103.0, &p3));
    /* already HALF_OPEN: a no-op, the probes out stay out */
    e = s->epoch;
    CHECK(zr_breaker_adopt(&c, s, 103.1, e, ZR_BREAKER_HALF_OPEN, 0.0, &ch) == ZR_OK);
    CHECK(!ch.changed && s->epoch == e && s->probes_in_use == 2);

    /* -> CLOSED: counts cleared; the old probes' outcomes are stale */
    CHECK(zr_breaker_adopt(&c, s, 104.0, e, ZR_BREAKER_CLOSED, 0.0, &ch) == ZR_OK);
    CHECK(ch.changed && ch.to == ZR_BREAKER_CLOSED && s->consecutive_failures == 0);
    uint64_t stale = s->stale;
    CHECK(zr_breaker_release(&c, s, 104.0, &p1, ZR_OUTCOME_FAILURE, -1.0, NULL) == ZR_OK);
    CHECK(s->stale == stale + 1 && s->mode == ZR_BREAKER_CLOSED);
    /* CLOSED -> CLOSED: nothing */
    e = s->epoch;
    CHECK(zr_breaker_adopt(&c, s, 105.0, e, ZR_BREAKER_CLOSED, 0.0, &ch) == ZR_OK);
    CHECK(!ch.changed && s->epoch == e);
    free(s);
}

static void adopt_guards(void)
{
    zr_breaker_config c;
    zr_breaker_config_default(&c);
    zr_breaker_state *s = fresh(&c);
    zr_breaker_change ch;
    uint64_t e = s->epoch;

    /* a transition since the caller looked: refused, nothing changes */
    CHECK(zr_breaker_adopt(&c, s, 1.0, e + 1, ZR_BREAKER_OPEN, 1.0, &ch) == ZR_ESTATE);
    CHECK(!ch.changed && s->mode == ZR_BREAKER_CLOSED && s->epoch == e);
    /* bad arguments */
    CHECK(zr_breaker_adopt(&c, s, INFINITY, e, ZR_BREAKER_OPEN, 1.0, &ch) == ZR_EINVAL);
    CHECK(zr_breaker_adopt(&c, s, 1.0, e, ZR_BREAKER_OPEN, -1.0, &ch) == ZR_EINVAL);
    CHECK(zr_breaker_adopt(&c, s, 1.0, e, ZR_BREAKER_OPEN, NAN, &ch) == ZR_EINVAL);
    CHECK(zr_breaker_adopt(&c, s, 1.0, e, ZR_BREAKER_ISOLATED, 1.0, &ch) == ZR_EINVAL);
    CHECK(zr_breaker_adopt(&c, s, 1.0, e, 99u, 1.0, &ch) == ZR_EINVAL);
    CHECK(s->mode == ZR_BREAKER_CLOSED && s->epoch == e);
    /* manual overrides win over the fleet */
    zr_breaker_isolate(&c, s, 2.0, NULL);
    CHECK(zr_breaker_adopt(&c, s, 2.0, s->epoch, ZR_BREAKER_CLOSED, 0.0, &ch) == ZR_ESTATE);
    CHECK(s->mode == ZR_BREAKER_ISOLATED);
    zr_breaker_disable(&c, s, 2.0, NULL);
    CHECK(zr_breaker_adopt(&c, s, 2.0, s->epoch, ZR_BREAKER_OPEN, 5.0, &ch) == ZR_ESTATE);
    CHECK(s->mode == ZR_BREAKER_DISABLED);
    /* change may be NULL */
    zr_breaker_reset(&c, s, 3.0, NULL);
    CHECK(zr_breaker_adopt(&c, s, 3.0, s->epoch, ZR_BREAKER_OPEN, 1.0, NULL) == ZR_OK);
    CHECK(s->mode == ZR_BREAKER_OPEN);
    free(s);
}

static void local_rules_keep_working_after_adoption(void)
{
    zr_breaker_config c;
    zr_breaker_config_default(&c); /* 5 consecutive failures, 30 s */
    zr_breaker_state *s = fresh(&c);
    zr_breaker_permit p;
    /* adopt CLOSED from OPEN, then the local trip rule still applies from zero */
    CHECK(zr_breaker_adopt(&c, s, 10.0, s->epoch, ZR_BREAKER_OPEN, 1.0, NULL) == ZR_OK);
    CHECK(zr_breaker_adopt(&c, s, 10.5, s->epoch, ZR_BREAKER_CLOSED, 0.0, NULL) == ZR_OK);
    for (int i = 0; i < 5; i++) {
        CHECK(admit(&c, s, 11.0, &p));
        CHECK(zr_breaker_release(&c, s, 11.0, &p, ZR_OUTCOME_FAILURE, -1.0, NULL) == ZR_OK);
    }
    CHECK(s->mode == ZR_BREAKER_OPEN && s->trips == 1 && s->open_until == 41.0);
    free(s);
}

static void budget_adopt(void)
{
    zr_budget_config c;
    zr_budget_config_token(&c, 10.0, 2.0);
    CHECK(zr_budget_validate(&c, NULL) == ZR_OK);
    zr_budget_state s;
    CHECK(zr_budget_init(&c, &s, 0.0) == ZR_OK);
    int granted = 0;
    double avail = -1.0;

    /* the caller read the totals (0 granted, 0 returned), then 3 retries happened here */
    for (int i = 0; i < 3; i++) {
        CHECK(zr_budget_try_acquire(&c, &s, 0.0, 1, &granted) == ZR_OK && granted);
    }
    CHECK(zr_budget_return(&c, &s, 0.0, 1) == ZR_OK);
    CHECK(zr_budget_adopt(&c, &s, 1.0, 4.5, 0, 0, 0.0) == ZR_OK);
    CHECK(zr_budget_available(&c, &s, 1.0, &avail) == ZR_OK);
    CHECK_NEAR(avail, 4.5 - 3.0 + 1.0, 1e-12);
    CHECK(s.total_granted == 3 && s.total_returned == 1); /* totals kept */
    /* the refill restarts from the adoption */
    CHECK(zr_budget_available(&c, &s, 2.0, &avail) == ZR_OK);
    CHECK_NEAR(avail, 4.5, 1e-12);
    /* clamped to [0, capacity] */
    CHECK(zr_budget_adopt(&c, &s, 2.0, 1e9, 3, 1, 0.0) == ZR_OK);
    CHECK(zr_budget_available(&c, &s, 2.0, &avail) == ZR_OK && avail == 10.0);
    CHECK(zr_budget_adopt(&c, &s, 2.0, -5.0, 3, 1, 0.0) == ZR_OK);
    CHECK(zr_budget_available(&c, &s, 2.0, &avail) == ZR_OK && avail == 0.0);
    CHECK(zr_budget_try_acquire(&c, &s, 2.0, 1, &granted) == ZR_OK && !granted);
    /* totals from the future (another state's) never make tokens out of nothing */
    CHECK(zr_budget_adopt(&c, &s, 2.0, 1.0, 1000, 1000, 0.0) == ZR_OK);
    CHECK(zr_budget_available(&c, &s, 2.0, &avail) == ZR_OK && avail == 1.0);
    /* bad arguments change nothing */
    CHECK(zr_budget_adopt(&c, &s, NAN, 5.0, 0, 0, 0.0) == ZR_EINVAL);
    CHECK(zr_budget_adopt(&c, &s, 2.0, INFINITY, 0, 0, 0.0) == ZR_EINVAL);
    CHECK(zr_budget_adopt(&c, &s, 2.0, NAN, 0, 0, 0.0) == ZR_EINVAL);
    CHECK(zr_budget_adopt(&c, NULL, 2.0, 1.0, 0, 0, 0.0) == ZR_EINVAL);
    CHECK(zr_budget_available(&c, &s, 2.0, &avail) == ZR_OK && avail == 1.0);
    /* ratio budgets are not token buckets */
    zr_budget_config r;
    zr_budget_config_ratio(&r, 0.2, 10.0, 10.0, 10);
    zr_budget_state rs;
    CHECK(zr_budget_init(&r, &rs, 0.0) == ZR_OK);
    CHECK(zr_budget_adopt(&r, &rs, 1.0, 5.0, 0, 0, 0.0) == ZR_ESTATE);
    /* hold: no local refill until now + hold, then refill again */
    zr_budget_state h;
    CHECK(zr_budget_init(&c, &h, 0.0) == ZR_OK);
    CHECK(zr_budget_adopt(&c, &h, 10.0, 1.0, 0, 0, 0.5) == ZR_OK);
    CHECK(zr_budget_available(&c, &h, 10.4, &avail) == ZR_OK && avail == 1.0);
    CHECK(zr_budget_available(&c, &h, 11.5, &avail) == ZR_OK);
    CHECK_NEAR(avail, 1.0 + 2.0 * 1.0, 1e-12);
    CHECK(zr_budget_adopt(&c, &h, 12.0, 1.0, 0, 0, -1.0) == ZR_EINVAL);
    CHECK(zr_budget_adopt(&c, &h, 12.0, 1.0, 0, 0, INFINITY) == ZR_EINVAL);
}

void suite_fleet_adopt(void)
{
    budget_adopt();
    adopt_open_then_half_open_then_closed();
    adopt_guards();
    local_rules_keep_working_after_adoption();
}
