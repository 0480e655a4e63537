/*
 * observe.c - the observation points of the retry loops: counters (OperationMetrics, in
 * C, no Python call), the event observer (zenoo_retry.events) and the module's log hook
 * (zenoo_retry.logs). See the contract in zr_module.h.
 *
 * Counting never calls Python, except one dict update per failed attempt (per-error-type
 * counts). The observer and the log hook are called only when set; the log hook only on
 * the failure side (retries, give-ups, cancellations), so a successful call never pays
 * for logging.
 */
#include "zr_module.h"

/* 1 if the observer wants events of `kind`. */
static inline int wants(zr_RetrySpecObject *spec, int kind)
{
    return spec->observer != NULL && ((spec->observer_mask >> kind) & 1u);
}

/* Tell the observer (and, for failure-side events, the log hook) about `kind`. Called
 * with no exception set; leaves none set. */
static void notify(zr_RetrySpecObject *spec, zr_call *call, int kind, PyObject *exc,
                   PyObject *result, double next_delay, PyObject *error)
{
    PyObject *log = kind >= ZR_EV_RETRY ? spec->st->log_hook : NULL;
    PyObject *observer = wants(spec, kind) ? spec->observer : NULL;
    if (observer == NULL && log == NULL) return;
    PyObject *info = zr_spec_attempt_info(spec, call, exc, result, next_delay);
    PyObject *k = info ? PyLong_FromLong(kind) : NULL;
    if (k == NULL) {
        Py_XDECREF(info);
        PyErr_WriteUnraisable((PyObject *)spec);
        return;
    }
    PyObject *args[3] = {k, info, error ? error : Py_None};
    PyObject *targets[2] = {observer, log};
    for (int i = 0; i < 2; i++) {
        if (targets[i] == NULL) continue;
        PyObject *fn = Py_NewRef(targets[i]); /* the call may drop the spec's reference */
        PyObject *r = PyObject_Vectorcall(fn, args, 3, NULL);
        if (r == NULL) PyErr_WriteUnraisable(fn);
        Py_XDECREF(r);
        Py_DECREF(fn);
    }
    Py_DECREF(k);
    Py_DECREF(info);
}

void zr_obs_attempt(zr_RetrySpecObject *spec, zr_call *call)
{
    if (spec->metrics != NULL) zr_metrics_attempt(&spec->metrics->m);
    if (wants(spec, ZR_EV_START)) notify(spec, call, ZR_EV_START, NULL, NULL, -1.0, NULL);
}

void zr_obs_success(zr_RetrySpecObject *spec, zr_call *call, PyObject *result)
{
    if (spec->metrics != NULL) zr_metrics_success(&spec->metrics->m, call->attempt);
    if (wants(spec, ZR_EV_SUCCESS)) notify(spec, call, ZR_EV_SUCCESS, NULL, result, -1.0, NULL);
}

/* errors[type(exc)] += 1; failures here are reported, never raised. */
static void count_error_type(zr_MetricsObject *mo, PyObject *exc)
{
    if (mo->errors == NULL) return; /* cleared by the GC */
    PyObject *key = (PyObject *)Py_TYPE(exc);
    PyObject *cur = PyDict_GetItemWithError(mo->errors, key); /* borrowed */
    long long n = 0;
    if (cur != NULL) n = PyLong_AsLongLong(cur);
    if (n < 0 || PyErr_Occurred()) goto error;
    PyObject *v = PyLong_FromLongLong(n + 1);
    if (v == NULL) goto error;
    int rc = PyDict_SetItem(mo->errors, key, v);
    Py_DECREF(v);
    if (rc < 0) goto error;
    return;
error:
    PyErr_WriteUnraisable((PyObject *)mo);
}

int zr_obs_failure(zr_RetrySpecObject *spec, zr_call *call, PyObject *exc)
{
    if (exc != NULL && !PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_Exception)) {
        if (spec->metrics != NULL) zr_metrics_cancel(&spec->metrics->m);
        notify(spec, call, ZR_EV_CANCELLED, exc, NULL, -1.0, exc);
        return 1;
    }
    if (spec->metrics != NULL) {
        zr_metrics_failure(&spec->metrics->m, call->attempt);
        if (exc != NULL) count_error_type(spec->metrics, exc);
    }
    return 0;
}

void zr_obs_retry(zr_RetrySpecObject *spec, zr_call *call, PyObject *exc, PyObject *result,
                  double delay)
{
    if (spec->metrics != NULL) zr_metrics_retry(&spec->metrics->m, delay);
    notify(spec, call, ZR_EV_RETRY, exc, result, delay, NULL);
}

void zr_obs_give_up(zr_RetrySpecObject *spec, zr_call *call, PyObject *exc, PyObject *result,
                    PyObject *error, zr_give_up_reason reason)
{
    if (spec->metrics != NULL) zr_metrics_give_up(&spec->metrics->m, call->attempt, reason);
    notify(spec, call, ZR_EV_GIVE_UP + (int)reason, exc, result, -1.0, error);
}

void zr_obs_refused(zr_RetrySpecObject *spec, zr_call *call, PyObject *err)
{
    if (!PyObject_TypeCheck(err, (PyTypeObject *)PyExc_Exception)) {
        if (spec->metrics != NULL) zr_metrics_cancel(&spec->metrics->m);
        notify(spec, call, ZR_EV_CANCELLED, NULL, NULL, -1.0, err);
        return;
    }
    PyObject *open_error = spec->st->CircuitBreakerOpenError;
    int is_open = open_error != NULL && PyObject_TypeCheck(err, (PyTypeObject *)open_error);
    /* the refused attempt never ran: the call ends after call->attempt - 1 attempts */
    zr_call ran = *call;
    if (ran.attempt > 0) ran.attempt--;
    zr_obs_give_up(spec, &ran, NULL, NULL, err,
                   is_open ? ZR_GIVE_UP_BREAKER : ZR_GIVE_UP_NOT_RETRYABLE);
}

void zr_obs_abort(zr_RetrySpecObject *spec, zr_call *call)
{
    if (spec->metrics == NULL && spec->observer == NULL && spec->st->log_hook == NULL) return;
    PyObject *exc = zr_fetch_exception();
    if (exc == NULL) return;
    if (PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_Exception)) {
        zr_obs_give_up(spec, call, NULL, NULL, exc, ZR_GIVE_UP_NOT_RETRYABLE);
    }
    else {
        if (spec->metrics != NULL) zr_metrics_cancel(&spec->metrics->m);
        notify(spec, call, ZR_EV_CANCELLED, NULL, NULL, -1.0, exc);
    }
    zr_restore_exception(exc);
}
