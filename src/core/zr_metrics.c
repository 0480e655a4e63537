/* zr_metrics.c - retry counters (see zr_metrics.h for the accounting rules). */
#include "zr_metrics.h"

#include <float.h>
#include <string.h>

static const double delay_bounds[ZR_METRICS_DELAY_BOUNDS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
};

zr_status zr_metrics_delay_bound(unsigned i, double *out)
{
    if (out == NULL || i >= ZR_METRICS_DELAY_BOUNDS) return ZR_EINVAL;
    *out = delay_bounds[i];
    return ZR_OK;
}

void zr_metrics_reset(zr_metrics *m) { memset(m, 0, sizeof *m); }

void zr_metrics_add(zr_metrics *dst, const zr_metrics *src)
{
    dst->operations = zr_sat_add_u64(dst->operations, src->operations);
    dst->attempts = zr_sat_add_u64(dst->attempts, src->attempts);
    dst->successes = zr_sat_add_u64(dst->successes, src->successes);
    dst->failures = zr_sat_add_u64(dst->failures, src->failures);
    dst->give_ups = zr_sat_add_u64(dst->give_ups, src->give_ups);
    dst->cancelled = zr_sat_add_u64(dst->cancelled, src->cancelled);
    dst->retries = zr_sat_add_u64(dst->retries, src->retries);
    dst->dead_letters = zr_sat_add_u64(dst->dead_letters, src->dead_letters);
    for (unsigned i = 0; i < ZR_GIVE_UP_REASONS; i++)
        dst->give_up_reasons[i] = zr_sat_add_u64(dst->give_up_reasons[i], src->give_up_reasons[i]);
    double t = dst->total_delay + src->total_delay;
    dst->total_delay = t > DBL_MAX ? DBL_MAX : t;
    if (src->max_delay > dst->max_delay) dst->max_delay = src->max_delay;
    for (unsigned i = 0; i <= ZR_METRICS_DELAY_BOUNDS; i++)
        dst->delay_buckets[i] = zr_sat_add_u64(dst->delay_buckets[i], src->delay_buckets[i]);
    for (unsigned i = 0; i <= ZR_METRICS_MAX_ATTEMPT; i++) {
        dst->finished_at[i] = zr_sat_add_u64(dst->finished_at[i], src->finished_at[i]);
        dst->failures_at[i] = zr_sat_add_u64(dst->failures_at[i], src->failures_at[i]);
    }
}

void zr_metrics_failure(zr_metrics *m, uint64_t n)
{
    m->failures = zr_sat_add_u64(m->failures, 1);
    unsigned s = zr_metrics_slot(n);
    m->failures_at[s] = zr_sat_add_u64(m->failures_at[s], 1);
}

void zr_metrics_retry(zr_metrics *m, double delay)
{
    double d = zr_clamp(delay, 0.0, DBL_MAX); /* NaN and negatives -> 0, +Inf -> DBL_MAX */
    m->retries = zr_sat_add_u64(m->retries, 1);
    double t = m->total_delay + d;
    m->total_delay = t > DBL_MAX ? DBL_MAX : t;
    if (d > m->max_delay) m->max_delay = d;
    unsigned b = 0;
    while (b < ZR_METRICS_DELAY_BOUNDS && d > delay_bounds[b]) b++;
    m->delay_buckets[b] = zr_sat_add_u64(m->delay_buckets[b], 1);
}

void zr_metrics_success(zr_metrics *m, uint64_t n)
{
    m->successes = zr_sat_add_u64(m->successes, 1);
    unsigned s = zr_metrics_slot(n);
    m->finished_at[s] = zr_sat_add_u64(m->finished_at[s], 1);
}

void zr_metrics_give_up(zr_metrics *m, uint64_t n, zr_give_up_reason reason)
{
    unsigned r = (unsigned)reason < ZR_GIVE_UP_REASONS ? (unsigned)reason : ZR_GIVE_UP_NOT_RETRYABLE;
    m->give_ups = zr_sat_add_u64(m->give_ups, 1);
    m->give_up_reasons[r] = zr_sat_add_u64(m->give_up_reasons[r], 1);
    unsigned s = zr_metrics_slot(n);
    m->finished_at[s] = zr_sat_add_u64(m->finished_at[s], 1);
}

void zr_metrics_cancel(zr_metrics *m)
{
    m->cancelled = zr_sat_add_u64(m->cancelled, 1);
}

static double ratio(double num, uint64_t den) { return den == 0 ? 0.0 : num / (double)den; }

void zr_metrics_summarize(const zr_metrics *m, zr_metrics_summary *out)
{
    uint64_t finished = zr_sat_add_u64(m->successes, m->give_ups);
    out->finished = finished;
    out->success_rate = ratio((double)m->successes, finished);
    out->failure_rate = ratio((double)m->failures, m->attempts);
    out->average_retries = ratio((double)m->retries, finished);
    out->average_delay = ratio(m->total_delay, m->retries);
    out->average_attempts = ratio((double)m->attempts, m->operations);
}
