/* test_metrics.c - accounting, histogram buckets, saturation and summaries of zr_metrics. */
#include <float.h>
#include <string.h>

#include "core/zr_metrics.h"
#include "zr_test.h"

/* A scripted call: fails `fails` times with the given delays, then succeeds or gives up. */
static void scripted(void)
{
    zr_metrics m;
    zr_metrics_reset(&m);
    /* call 1: fail, retry after 0.1, fail, retry after 0.2, succeed on attempt 3 */
    zr_metrics_begin(&m);
    zr_metrics_attempt(&m);
    zr_metrics_failure(&m, 1);
    zr_metrics_retry(&m, 0.1);
    zr_metrics_attempt(&m);
    zr_metrics_failure(&m, 2);
    zr_metrics_retry(&m, 0.2);
    zr_metrics_attempt(&m);
    zr_metrics_success(&m, 3);
    /* call 2: success at once */
    zr_metrics_begin(&m);
    zr_metrics_attempt(&m);
    zr_metrics_success(&m, 1);
    /* call 3: one failure, exhausted */
    zr_metrics_begin(&m);
    zr_metrics_attempt(&m);
    zr_metrics_failure(&m, 1);
    zr_metrics_give_up(&m, 1, ZR_GIVE_UP_EXHAUSTED);
    /* call 4: refused by a breaker before any attempt */
    zr_metrics_begin(&m);
    zr_metrics_give_up(&m, 0, ZR_GIVE_UP_BREAKER);
    /* call 5: cancelled during its first attempt */
    zr_metrics_begin(&m);
    zr_metrics_attempt(&m);
    zr_metrics_cancel(&m);

    CHECK(m.operations == 5);
    CHECK(m.attempts == 6);
    CHECK(m.successes == 2);
    CHECK(m.failures == 3);
    CHECK(m.give_ups == 2);
    CHECK(m.cancelled == 1);
    CHECK(m.retries == 2);
    CHECK_NEAR(m.total_delay, 0.3, 1e-12);
    CHECK(m.max_delay == 0.2);
    CHECK(m.give_up_reasons[ZR_GIVE_UP_EXHAUSTED] == 1);
    CHECK(m.give_up_reasons[ZR_GIVE_UP_BREAKER] == 1);
    CHECK(m.finished_at[0] == 1 && m.finished_at[1] == 2 && m.finished_at[3] == 1);
    CHECK(m.failures_at[1] == 2 && m.failures_at[2] == 1);
    /* 0.1 falls in the (0.05, 0.1] bucket (index 4), 0.2 in (0.1, 0.25] (index 5) */
    CHECK(m.delay_buckets[4] == 1 && m.delay_buckets[5] == 1);

    zr_metrics_summary s;
    zr_metrics_summarize(&m, &s);
    CHECK(s.finished == 4);
    CHECK_NEAR(s.success_rate, 0.5, 1e-12);
    CHECK_NEAR(s.failure_rate, 0.5, 1e-12);
    CHECK_NEAR(s.average_retries, 0.5, 1e-12);
    CHECK_NEAR(s.average_delay, 0.15, 1e-12);
    CHECK_NEAR(s.average_attempts, 1.2, 1e-12);

    zr_metrics total;
    zr_metrics_reset(&total);
    zr_metrics_add(&total, &m);
    zr_metrics_add(&total, &m);
    CHECK(total.operations == 10 && total.delay_buckets[5] == 2 && total.finished_at[1] == 4);
    CHECK_NEAR(total.total_delay, 0.6, 1e-12);
}

static void edges(void)
{
    zr_metrics m;
    zr_metrics_reset(&m);
    zr_metrics_summary s;
    zr_metrics_summarize(&m, &s);
    CHECK(s.success_rate == 0.0 && s.average_delay == 0.0 && s.average_retries == 0.0);

    /* bad delays never make the sum negative or NaN */
    zr_metrics_retry(&m, -1.0);
    zr_metrics_retry(&m, NAN);
    CHECK(m.total_delay == 0.0 && m.delay_buckets[0] == 2);
    zr_metrics_retry(&m, INFINITY);
    CHECK(m.total_delay == DBL_MAX && m.delay_buckets[ZR_METRICS_DELAY_BOUNDS] == 1);
    zr_metrics_retry(&m, 1.0);
    CHECK(m.total_delay == DBL_MAX);
    /* a delay exactly on a bound belongs to that bucket (le semantics) */
    zr_metrics_reset(&m);
    zr_metrics_retry(&m, 1.0);
    double b7;
    CHECK(zr_metrics_delay_bound(7, &b7) == ZR_OK && b7 == 1.0);
    CHECK(m.delay_buckets[7] == 1);
    CHECK(zr_metrics_delay_bound(ZR_METRICS_DELAY_BOUNDS, &b7) == ZR_EINVAL && b7 == 1.0);
    CHECK(zr_metrics_delay_bound(0, NULL) == ZR_EINVAL);

    /* attempt numbers beyond the bound share the last slot */
    zr_metrics_failure(&m, 1000);
    zr_metrics_success(&m, UINT64_MAX);
    CHECK(m.failures_at[ZR_METRICS_MAX_ATTEMPT] == 1 && m.finished_at[ZR_METRICS_MAX_ATTEMPT] == 1);
    /* unknown reasons are counted as not retryable */
    zr_metrics_give_up(&m, 1, (zr_give_up_reason)99);
    CHECK(m.give_up_reasons[ZR_GIVE_UP_NOT_RETRYABLE] == 1);

    /* counters saturate */
    m.operations = UINT64_MAX;
    zr_metrics_begin(&m);
    CHECK(m.operations == UINT64_MAX);
    zr_metrics other = m;
    zr_metrics_add(&m, &other);
    CHECK(m.operations == UINT64_MAX);
    zr_metrics_dead_letter(&m);
    CHECK(m.dead_letters == 1);
}

void suite_metrics(void)
{
    scripted();
    edges();
}
