/*
 * retry_spec_type.c - zenoo_retry._core.RetrySpec: a compiled retry policy and the
 * decisions every retry loop shares (sync callable, async awaitable, block form).
 *
 * The Python layer (zenoo_retry/policies.py) validates and normalises user arguments and
 * builds one RetrySpec; the loops in retrying_type.c and retry_awaitable_type.c only
 * call the zr_spec_* functions below, so the rules live in exactly one place:
 *
 *   after attempt n failed with exc:
 *     exc not an Exception (CancelledError, KeyboardInterrupt, ...) -> propagate as is
 *     exc matches never_retry_on, or not retry_on                   -> propagate as is
 *     condition(exc, attempt) false                                 -> propagate as is
 *     n == max_attempts                      -> MaxRetriesExceededError (or exc if reraise)
 *     delay = condition's number | delay_hint(exc) | strategy delay, capped at max_delay
 *             (a condition's or hint's number is capped at max_hint_delay when set)
 *     elapsed + delay > timeout              -> RetryTimeoutError   (or exc if reraise)
 *     a C circuit breaker still open after delay -> CircuitBreakerOpenError (cause: exc)
 *     budget refuses a token                 -> BudgetExhaustedError (or exc if reraise)
 *     otherwise retry after `delay`.
 *   A final failure that is an Exception calls on_give_up(attempt, error), then returns
 *   the fallback if one is configured.
 */
#include "zr_module.h"

int zr_spec_now(zr_RetrySpecObject *spec, double *now)
{
    if (spec->clock == NULL) {
        *now = zr_clock_monotonic();
        return 0;
    }
    PyObject *fn = Py_NewRef(spec->clock);
    PyObject *r = PyObject_CallNoArgs(fn);
    Py_DECREF(fn);
    if (r == NULL) return -1;
    /* r is kept until the messages below are built (they show it) */
    if (PyBool_Check(r) || !(PyFloat_Check(r) || PyLong_Check(r))) {
        PyErr_Format(PyExc_TypeError, "clock must return a number of seconds, got %R", r);
        Py_DECREF(r);
        return -1;
    }
    double v = PyFloat_AsDouble(r);
    if (v == -1.0 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            Py_DECREF(r);
            return -1;
        }
        PyErr_Clear(); /* a huge int: reported as not finite below */
        v = HUGE_VAL;
    }
    if (!isfinite(v)) {
        PyErr_Format(PyExc_ValueError, "clock must return a finite number, got %R", r);
        Py_DECREF(r);
        return -1;
    }
    Py_DECREF(r);
    *now = v;
    return 0;
}

/* Call fn(args...) holding a reference to fn (it may re-enter and drop its owner's). */
static PyObject *call_owned(PyObject *fn, PyObject *const *args, size_t nargs)
{
    Py_INCREF(fn);
    PyObject *r = PyObject_Vectorcall(fn, args, nargs, NULL);
    Py_DECREF(fn);
    return r;
}

/* The exception now set gets `context` as its __context__ (hook errors chain to the
 * attempt's error like an error raised inside an except block would). */
static void chain_context(PyObject *context)
{
    if (context == NULL) return;
    PyObject *exc = zr_fetch_exception();
    if (exc == NULL) return;
    if (exc != context) PyException_SetContext(exc, Py_NewRef(context));
    zr_restore_exception(exc);
}

void zr_call_reset(zr_call *call)
{
    call->attempt = 0;
    call->has_start = 0;
    call->start = 0.0;
    call->prev_delay = -1.0;
    call->total_delay = 0.0;
}

int zr_spec_begin(zr_RetrySpecObject *spec, zr_call *call)
{
    zr_call_reset(call);
    if (spec->needs_start) {
        if (zr_spec_now(spec, &call->start) < 0) return -1;
        call->has_start = 1;
    }
    if (spec->metrics != NULL) zr_metrics_begin(&spec->metrics->m);
    if (spec->budget_on_request != NULL) {
        PyObject *r = call_owned(spec->budget_on_request, NULL, 0);
        if (r == NULL) return -1;
        Py_DECREF(r);
    }
    else if (spec->budget != NULL) { /* our C RetryBudget: no bound-method call */
        if (zr_budget_object_on_request(spec->budget) < 0) return -1;
    }
    return 0;
}

int zr_spec_enter(zr_RetrySpecObject *spec, PyObject **token)
{
    *token = NULL;
    if (spec->breaker_enter == NULL) {
        /* a C circuit breaker is called directly (no bound-method call) */
        return spec->breaker != NULL ? zr_cb_enter(spec->breaker, token) : 0;
    }
    PyObject *t = call_owned(spec->breaker_enter, NULL, 0);
    if (t == NULL) return -1;
    *token = t;
    return 0;
}

int zr_spec_exit(zr_RetrySpecObject *spec, PyObject *token, PyObject *exc)
{
    int rc = 0;
    if (spec->breaker != NULL && spec->breaker_exit == NULL) {
        rc = zr_cb_exit(spec->breaker, token, exc); /* consumes token */
        token = NULL;
    }
    else if (spec->breaker_exit != NULL) {
        PyObject *args[2] = {token ? token : Py_None, exc ? exc : Py_None};
        PyObject *r = call_owned(spec->breaker_exit, args, 2);
        if (r == NULL) rc = -1;
        Py_XDECREF(r);
    }
    Py_XDECREF(token);
    if (rc == 0 && spec->record_method != NULL &&
        (exc == NULL || PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_Exception))) {
        PyObject *arg = exc == NULL ? Py_True : Py_False;
        PyObject *r = call_owned(spec->record_method, &arg, 1);
        if (r == NULL) rc = -1;
        Py_XDECREF(r);
    }
    else if (rc == 0 && spec->record_method == NULL &&
             zr_is_adaptive(spec->st, (PyObject *)spec->strategy) &&
             (exc == NULL || PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_Exception))) {
        /* our C AdaptiveBackoff: record without a bound-method call */
        rc = zr_adaptive_object_record((PyObject *)spec->strategy, exc == NULL);
    }
    return rc;
}

int zr_spec_result_rejected(zr_RetrySpecObject *spec, PyObject *result)
{
    if (spec->result_predicate == NULL) return 0;
    PyObject *r = call_owned(spec->result_predicate, &result, 1);
    if (r == NULL) return -1;
    int truth = PyObject_IsTrue(r);
    Py_DECREF(r);
    return truth;
}

/* A number returned by a condition, hint (hint=1) or get_delay (hint=0) -> seconds in
 * [0, cap]; cap is max_hint_delay for hints when set, else the strategy's max_delay.
 * 0, or -1 with an exception set (NaN or negative). */
static int seconds_from(zr_RetrySpecObject *spec, const char *who, PyObject *value, int hint,
                        double *out)
{
    double v = PyFloat_AsDouble(value);
    if (v == -1.0 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return -1;
        PyErr_Clear();
        v = HUGE_VAL;
    }
    if (isnan(v) || v < 0.0) {
        PyErr_Format(PyExc_ValueError, "%s returned %R; a delay must be a number >= 0", who,
                     value);
        return -1;
    }
    double cap = hint && spec->max_hint_delay >= 0.0 ? spec->max_hint_delay
                                                     : spec->strategy->cfg.max_delay;
    *out = v < cap ? v : cap;
    return 0;
}

static int is_number(PyObject *o)
{
    return !PyBool_Check(o) && (PyFloat_Check(o) || PyLong_Check(o));
}

/* The strategy's delay after call->attempt. 0 or -1. */
static int strategy_delay(zr_RetrySpecObject *spec, zr_call *call, double *out)
{
    if (spec->delay_method == NULL) {
        if (zr_is_adaptive(spec->st, (PyObject *)spec->strategy))
            return zr_adaptive_object_delay((PyObject *)spec->strategy, call->attempt,
                                            call->prev_delay, out);
        return zr_backoff_object_delay(spec->strategy, call->attempt, call->prev_delay, out);
    }
    PyObject *args[2];
    args[0] = PyLong_FromUnsignedLong(call->attempt);
    if (args[0] == NULL) return -1;
    args[1] = call->prev_delay >= 0.0 ? PyFloat_FromDouble(call->prev_delay) : Py_NewRef(Py_None);
    if (args[1] == NULL) {
        Py_DECREF(args[0]);
        return -1;
    }
    PyObject *r = call_owned(spec->delay_method, args, 2);
    Py_DECREF(args[0]);
    Py_DECREF(args[1]);
    if (r == NULL) return -1;
    int rc;
    if (!is_number(r)) {
        PyErr_Format(PyExc_TypeError, "get_delay() must return a number of seconds, got %R", r);
        rc = -1;
    }
    else {
        rc = seconds_from(spec, "get_delay()", r, 0, out);
    }
    Py_DECREF(r);
    return rc;
}

/* Build keyword arguments and instantiate an exception class. New ref or NULL. */
static PyObject *make_error(PyObject *cls, const char *fmt_keys[], PyObject *values[], int n)
{
    PyObject *kwargs = PyDict_New();
    if (kwargs == NULL) return NULL;
    for (int i = 0; i < n; i++) {
        if (values[i] == NULL || PyDict_SetItemString(kwargs, fmt_keys[i], values[i]) < 0) {
            Py_DECREF(kwargs);
            return NULL;
        }
    }
    PyObject *empty = PyTuple_New(0);
    PyObject *err = empty ? PyObject_Call(cls, empty, kwargs) : NULL;
    Py_XDECREF(empty);
    Py_DECREF(kwargs);
    return err;
}

typedef enum { STOP_RAISE, STOP_EXHAUSTED, STOP_TIMEOUT, STOP_BUDGET } stop_reason;

/* The error that ends the call (new ref) or NULL on failure to build it. */
static PyObject *final_error(zr_RetrySpecObject *spec, zr_call *call, PyObject *exc,
                             PyObject *result, stop_reason why)
{
    if (why == STOP_RAISE || (spec->reraise && exc != NULL)) return Py_NewRef(exc);
    zr_module_state *st = spec->st;
    PyObject *last = exc ? exc : Py_None;
    PyObject *err = NULL;
    PyObject *attempts = PyLong_FromUnsignedLong(call->attempt);
    if (attempts == NULL) return NULL;
    if (why == STOP_EXHAUSTED) {
        const char *keys[] = {"max_attempts", "attempts", "last_exception"};
        PyObject *vals[] = {PyLong_FromUnsignedLong(spec->max_attempts), attempts, last};
        err = make_error(st->MaxRetriesExceededError, keys, vals, 3);
        Py_XDECREF(vals[0]);
        if (err != NULL && exc == NULL && PyObject_SetAttrString(err, "last_result", result) < 0)
            Py_CLEAR(err);
    }
    else if (why == STOP_TIMEOUT) {
        double now = 0.0;
        if (zr_spec_now(spec, &now) == 0) {
            const char *keys[] = {"timeout", "elapsed", "attempts", "last_exception"};
            PyObject *vals[] = {PyFloat_FromDouble(spec->timeout),
                                PyFloat_FromDouble(now - call->start), attempts, last};
            err = make_error(st->RetryTimeoutError, keys, vals, 4);
            Py_XDECREF(vals[0]);
            Py_XDECREF(vals[1]);
        }
    }
    else {
        const char *keys[] = {"attempts", "last_exception"};
        PyObject *vals[] = {attempts, last};
        err = make_error(st->BudgetExhaustedError, keys, vals, 2);
    }
    Py_DECREF(attempts);
    if (err != NULL && exc != NULL) PyException_SetCause(err, Py_NewRef(exc));
    return err;
}

/* Return the fallback for a final `error` (borrowed), or set `error` and return NULL. */
static PyObject *apply_fallback(zr_RetrySpecObject *spec, PyObject *error)
{
    int is_exc = PyObject_TypeCheck(error, (PyTypeObject *)PyExc_Exception);
    if (is_exc && spec->fallback_factory != NULL) {
        PyObject *r = call_owned(spec->fallback_factory, &error, 1);
        if (r == NULL) chain_context(error);
        return r;
    }
    if (is_exc && spec->fallback != NULL) return Py_NewRef(spec->fallback);
    zr_restore_exception(Py_NewRef(error));
    return NULL;
}

/* Tell on_give_up(RetryAttempt, error) that the call ends with `error` (an Exception).
 * `exc`/`result`: the last attempt's error or rejected result (may be NULL). 0, or -1
 * with the hook's error set (chained to `error`). */
static int tell_give_up(zr_RetrySpecObject *spec, zr_call *call, PyObject *exc, PyObject *result,
                        PyObject *error)
{
    if (spec->on_give_up == NULL || !PyObject_TypeCheck(error, (PyTypeObject *)PyExc_Exception))
        return 0;
    PyObject *info = zr_spec_attempt_info(spec, call, exc, result, -1.0);
    if (info == NULL) return -1;
    PyObject *args[2] = {info, error};
    PyObject *r = call_owned(spec->on_give_up, args, 2);
    Py_DECREF(info);
    if (r == NULL) {
        chain_context(error);
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

PyObject *zr_spec_stop_with(zr_RetrySpecObject *spec, zr_call *call, PyObject *error)
{
    /* refused before attempt call->attempt ran (an open breaker): on_give_up is told
     * about the attempts that did run, like the observers (zr_obs_refused) */
    zr_call ran = *call;
    if (ran.attempt > 0) ran.attempt--;
    if (tell_give_up(spec, &ran, NULL, NULL, error) < 0) return NULL;
    return apply_fallback(spec, error);
}

static const zr_give_up_reason give_up_reason[] = {
    [STOP_RAISE] = ZR_GIVE_UP_NOT_RETRYABLE,
    [STOP_EXHAUSTED] = ZR_GIVE_UP_EXHAUSTED,
    [STOP_TIMEOUT] = ZR_GIVE_UP_TIMEOUT,
    [STOP_BUDGET] = ZR_GIVE_UP_BUDGET,
};

/* End the call with `why`: build the error, tell on_give_up, apply the fallback. */
static PyObject *stop(zr_RetrySpecObject *spec, zr_call *call, PyObject *exc, PyObject *result,
                      stop_reason why)
{
    if (exc == NULL && spec->reraise) { /* rejected result */
        zr_obs_give_up(spec, call, NULL, result, NULL, give_up_reason[why]);
        return Py_NewRef(result);
    }
    PyObject *error = final_error(spec, call, exc, result, why);
    if (error == NULL) {
        zr_obs_abort(spec, call);
        return NULL;
    }
    zr_obs_give_up(spec, call, exc, result, error, give_up_reason[why]);
    if (tell_give_up(spec, call, exc, result, error) < 0) {
        Py_DECREF(error);
        return NULL;
    }
    PyObject *out = apply_fallback(spec, error);
    Py_DECREF(error);
    return out;
}

int zr_spec_after_failure(zr_RetrySpecObject *spec, zr_call *call, PyObject *exc,
                          PyObject *result, double *delay, PyObject **out)
{
    double d = -1.0; /* < 0: not chosen yet */
    int cancelled = zr_obs_failure(spec, call, exc);
    if (exc != NULL) {
        if (cancelled) {
            /* CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit: never retried,
             * never replaced by a fallback */
            zr_restore_exception(Py_NewRef(exc));
            *out = NULL;
            return ZR_NEXT_STOP;
        }
        int m = PyTuple_GET_SIZE(spec->never_retry_on) ? PyObject_IsInstance(exc, spec->never_retry_on)
                                                        : 0;
        if (m == 0) {
            m = PyObject_IsInstance(exc, spec->retry_on);
            if (m >= 0) m = !m;
        }
        if (m < 0) { /* a hostile __instancecheck__: its error names the attempt's */
            chain_context(exc);
            return -1;
        }
        if (m) {
            *out = stop(spec, call, exc, result, STOP_RAISE);
            return ZR_NEXT_STOP;
        }
        if (spec->condition != NULL) {
            PyObject *info = zr_spec_attempt_info(spec, call, exc, NULL, -1.0);
            if (info == NULL) return -1;
            PyObject *args[2] = {exc, info};
            PyObject *r = call_owned(spec->condition, args, 2);
            Py_DECREF(info);
            if (r == NULL) {
                chain_context(exc);
                return -1;
            }
            int go;
            if (is_number(r)) {
                go = seconds_from(spec, "retry_condition", r, 1, &d) < 0 ? -1 : 1;
            }
            else {
                go = PyObject_IsTrue(r);
            }
            Py_DECREF(r);
            if (go < 0) return -1;
            if (!go) {
                *out = stop(spec, call, exc, result, STOP_RAISE);
                return ZR_NEXT_STOP;
            }
        }
    }
    uint32_t limit = spec->max_attempts;
    if (spec->st->test_max_attempts != 0 && spec->st->test_max_attempts < limit)
        limit = spec->st->test_max_attempts;
    if (call->attempt >= limit) {
        *out = stop(spec, call, exc, result, STOP_EXHAUSTED);
        return ZR_NEXT_STOP;
    }
    if (d < 0.0 && spec->delay_hint != NULL) {
        /* the failed attempt's error, or the rejected result (a 429 response, say) */
        PyObject *r = call_owned(spec->delay_hint, exc != NULL ? &exc : &result, 1);
        if (r == NULL) {
            chain_context(exc);
            return -1;
        }
        int rc = 0;
        if (r != Py_None) {
            if (!is_number(r)) {
                PyErr_Format(PyExc_TypeError, "delay_hint must return seconds or None, got %R", r);
                rc = -1;
            }
            else {
                rc = seconds_from(spec, "delay_hint", r, 1, &d);
            }
        }
        Py_DECREF(r);
        if (rc < 0) return -1;
    }
    if (d < 0.0 && strategy_delay(spec, call, &d) < 0) return -1;
    if (spec->timeout >= 0.0) {
        double now;
        if (zr_spec_now(spec, &now) < 0) return -1;
        if (now - call->start + d > spec->timeout) {
            *out = stop(spec, call, exc, result, STOP_TIMEOUT);
            return ZR_NEXT_STOP;
        }
    }
    if (spec->breaker != NULL && spec->breaker_enter == NULL) {
        /* an open C breaker would refuse the next attempt: stop now, do not sleep first */
        int refused = zr_cb_refuses_after(spec->breaker, d);
        if (refused < 0) return -1;
        if (refused) {
            PyObject *err = zr_fetch_exception();
            if (exc != NULL) PyException_SetCause(err, Py_NewRef(exc));
            zr_obs_give_up(spec, call, exc, result, err, ZR_GIVE_UP_BREAKER);
            *out = zr_spec_stop_with(spec, call, err);
            Py_DECREF(err);
            return ZR_NEXT_STOP;
        }
    }
    if (spec->budget != NULL) {
        int ok = 0;
        if (spec->budget_try_retry != NULL) {
            PyObject *r = call_owned(spec->budget_try_retry, NULL, 0);
            if (r == NULL) return -1;
            ok = PyObject_IsTrue(r);
            Py_DECREF(r);
            if (ok < 0) return -1;
        }
        else if (zr_budget_object_try_retry(spec->budget, &ok) < 0) { /* C RetryBudget */
            return -1;
        }
        if (!ok) {
            *out = stop(spec, call, exc, result, STOP_BUDGET);
            return ZR_NEXT_STOP;
        }
    }
    *delay = d;
    call->prev_delay = d;
    call->total_delay += d;
    zr_obs_retry(spec, call, exc, result, d);
    return ZR_NEXT_RETRY;
}

/* ---- the Python-visible type ------------------------------------------------------- */

/* 1 if RetrySpec_init set every required field (`name` comes last), else 0 with TypeError
 * set: the methods below must not run on an instance made by RetrySpec.__new__ alone, or
 * one whose __init__ failed half way (their fields are NULL). */
static int spec_ready(zr_RetrySpecObject *self)
{
    if (self->name != NULL) return 1;
    PyErr_SetString(PyExc_TypeError, "RetrySpec is not initialised");
    return 0;
}

static int as_exception_tuple(const char *param, PyObject *obj, PyObject **out)
{
    PyObject *t;
    if (PyExceptionClass_Check(obj)) {
        t = PyTuple_Pack(1, obj);
    }
    else if (PyTuple_Check(obj)) {
        t = Py_NewRef(obj);
    }
    else {
        PyErr_Format(PyExc_TypeError,
                     "%s must be an exception class or a tuple of them, got %R", param, obj);
        return -1;
    }
    if (t == NULL) return -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t); i++) {
        PyObject *item = PyTuple_GET_ITEM(t, i);
        if (!PyExceptionClass_Check(item)) {
            PyErr_Format(PyExc_TypeError, "%s must contain exception classes, got %R", param,
                         item);
            Py_DECREF(t);
            return -1;
        }
    }
    *out = t;
    return 0;
}

static int optional_callable(const char *param, PyObject *obj, PyObject **slot)
{
    if (obj == NULL || obj == Py_None) return 0;
    if (!PyCallable_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be callable or None, got %R", param, obj);
        return -1;
    }
    Py_XSETREF(*slot, Py_NewRef(obj));
    return 0;
}

/* obj.<name> as a new reference, or NULL without an exception if it has no such attribute. */
static PyObject *optional_attr(PyObject *obj, const char *name)
{
    PyObject *r = PyObject_GetAttrString(obj, name);
    if (r == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) PyErr_Clear();
    return r;
}

static int RetrySpec_init(zr_RetrySpecObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"strategy",   "retry_on",  "never_retry_on", "condition",
                             "retry_on_result", "delay_hint", "on_retry", "on_give_up",
                             "sleep",      "clock",     "timeout",        "reraise",
                             "breaker",    "budget",    "fallback",       "fallback_factory",
                             "name",       "max_hint_delay", "metrics",   "observer",
                             NULL};
    PyObject *strategy, *retry_on = NULL, *never = NULL, *condition = NULL, *result_pred = NULL,
                        *hint = NULL, *on_retry = NULL, *on_give_up = NULL, *sleep = NULL,
                        *clock = NULL, *timeout = Py_None, *breaker = Py_None,
                        *budget = Py_None, *fallback = NULL, *fallback_factory = NULL,
                        *name = Py_None, *max_hint = Py_None, *metrics = Py_None,
                        *observer = Py_None;
    int reraise = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OOOOOOOOOOpOOOOOOOO:RetrySpec", kwlist,
                                     &strategy, &retry_on, &never, &condition, &result_pred,
                                     &hint, &on_retry, &on_give_up, &sleep, &clock, &timeout,
                                     &reraise, &breaker, &budget, &fallback, &fallback_factory,
                                     &name, &max_hint, &metrics, &observer))
        return -1;
    if (self->module != NULL) {
        PyErr_SetString(PyExc_TypeError, "RetrySpec is immutable once initialised");
        return -1;
    }
    zr_module_state *st = zr_state_from_type(Py_TYPE(self));
    if (st == NULL) return -1;
    if (!PyObject_TypeCheck(strategy, st->Backoff_Type)) {
        PyErr_Format(PyExc_TypeError, "strategy must be a retry strategy (a Backoff), got %R",
                     strategy);
        return -1;
    }
    self->strategy = (zr_BackoffObject *)Py_NewRef(strategy);
    self->max_attempts = self->strategy->cfg.max_attempts;
    self->st = st;
    self->module = PyType_GetModule(st->RetrySpec_Type);
    if (self->module == NULL) return -1;
    Py_INCREF(self->module);

    /* a subtype that overrides get_delay (e.g. the adaptive strategy) is asked itself */
    /* (the adaptive strategy's own C get_delay is called directly: see strategy_delay) */
    int adaptive = zr_is_adaptive(st, strategy);
    PyTypeObject *owner = adaptive ? st->AdaptiveBackoff_Type : st->Backoff_Type;
    PyObject *mine = PyObject_GetAttrString((PyObject *)Py_TYPE(strategy), "get_delay");
    PyObject *base = mine ? PyObject_GetAttrString((PyObject *)owner, "get_delay") : NULL;
    int overridden = mine && base && mine != base;
    Py_XDECREF(mine);
    Py_XDECREF(base);
    if (PyErr_Occurred()) return -1;
    if (overridden && (self->delay_method = PyObject_GetAttrString(strategy, "get_delay")) == NULL)
        return -1;
    self->record_method = optional_attr(strategy, "_zr_record");
    if (self->record_method == NULL && PyErr_Occurred()) return -1;
    if (adaptive) {
        int fast = zr_adaptive_fast_ok(st, strategy);
        if (fast < 0) return -1;
        if (fast) Py_CLEAR(self->record_method); /* recorded in C by zr_spec_exit */
    }

    if (as_exception_tuple("retry_on", retry_on ? retry_on : PyExc_Exception, &self->retry_on) < 0)
        return -1;
    if (never != NULL && never != Py_None) {
        if (as_exception_tuple("never_retry_on", never, &self->never_retry_on) < 0) return -1;
    }
    else if ((self->never_retry_on = PyTuple_New(0)) == NULL) {
        return -1;
    }
    if (optional_callable("condition", condition, &self->condition) < 0 ||
        optional_callable("retry_on_result", result_pred, &self->result_predicate) < 0 ||
        optional_callable("delay_hint", hint, &self->delay_hint) < 0 ||
        optional_callable("on_retry", on_retry, &self->on_retry) < 0 ||
        optional_callable("on_give_up", on_give_up, &self->on_give_up) < 0 ||
        optional_callable("sleep", sleep, &self->sleep) < 0 ||
        optional_callable("clock", clock, &self->clock) < 0 ||
        optional_callable("fallback_factory", fallback_factory, &self->fallback_factory) < 0)
        return -1;
    self->fallback = fallback ? Py_NewRef(fallback) : NULL;

    self->timeout = -1.0;
    if (timeout != Py_None) {
        double t = PyFloat_AsDouble(timeout);
        if (t == -1.0 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return -1;
            PyErr_Clear(); /* a huge int: not a finite number (reported below) */
            t = HUGE_VAL;
        }
        if (!(isfinite(t) && t > 0.0))
            return zr_config_error_int(st, "timeout", timeout, "must be a finite number > 0");
        self->timeout = t;
    }
    self->max_hint_delay = -1.0;
    if (max_hint != Py_None) {
        double t = PyFloat_AsDouble(max_hint);
        if (t == -1.0 && PyErr_Occurred()) return -1;
        if (!(isfinite(t) && t >= 0.0))
            return zr_config_error_int(st, "max_hint_delay", max_hint,
                                       "must be a finite number >= 0 or None");
        self->max_hint_delay = t;
    }
    self->reraise = reraise;
    if (breaker != Py_None && zr_cb_is_native(st, breaker)) {
        self->breaker = Py_NewRef(breaker); /* C fast path: breaker_enter/exit stay NULL */
    }
    else if (breaker != Py_None) {
        self->breaker = Py_NewRef(breaker);
        if ((self->breaker_enter = PyObject_GetAttrString(breaker, "_zr_enter")) == NULL ||
            (self->breaker_exit = PyObject_GetAttrString(breaker, "_zr_exit")) == NULL) {
            PyErr_Format(PyExc_TypeError, "circuit_breaker must be a circuit breaker, got %R",
                         breaker);
            return -1;
        }
    }
    if (budget != Py_None) {
        self->budget = Py_NewRef(budget);
        int fast = zr_budget_fast_ok(st, budget); /* our C type: no bound methods needed */
        if (fast < 0) return -1;
        if (!fast &&
            ((self->budget_on_request = PyObject_GetAttrString(budget, "_zr_on_request")) == NULL ||
             (self->budget_try_retry = PyObject_GetAttrString(budget, "_zr_try_retry")) == NULL)) {
            PyErr_Format(PyExc_TypeError, "budget must be a retry budget, got %R", budget);
            return -1;
        }
    }
    if (name == Py_None) {
        self->name = PyUnicode_FromString("");
    }
    else if (PyUnicode_Check(name)) {
        self->name = Py_NewRef(name);
    }
    else {
        PyErr_Format(PyExc_TypeError, "name must be a str or None, got %R", name);
        return -1;
    }
    if (self->name == NULL) return -1; /* the last required field: marks the spec ready */
    if (metrics != Py_None) {
        if (!PyObject_TypeCheck(metrics, st->OperationMetrics_Type) ||
            ((zr_MetricsObject *)metrics)->errors == NULL) {
            PyErr_Format(PyExc_TypeError, "metrics must be an OperationMetrics, got %R", metrics);
            return -1;
        }
        self->metrics = (zr_MetricsObject *)Py_NewRef(metrics);
    }
    if (optional_callable("observer", observer, &self->observer) < 0) return -1;
    self->observer_mask = UINT32_MAX;
    if (self->observer != NULL) { /* observer._zr_event_mask: the kinds it wants (optional) */
        PyObject *mask = optional_attr(self->observer, "_zr_event_mask");
        if (mask == NULL && PyErr_Occurred()) return -1;
        if (mask != NULL) {
            unsigned long v = PyLong_AsUnsignedLongMask(mask);
            Py_DECREF(mask);
            if (v == (unsigned long)-1 && PyErr_Occurred()) return -1;
            self->observer_mask = (uint32_t)v;
        }
    }
    self->needs_start = self->timeout >= 0.0 || self->on_retry != NULL ||
                        self->on_give_up != NULL || self->condition != NULL ||
                        self->observer != NULL;
    /* metrics keep the fast path: the loops count its success in C */
    self->simple = !self->needs_start && self->breaker == NULL && self->budget == NULL &&
                   self->result_predicate == NULL && self->record_method == NULL && !adaptive;
    /* circuit breakers (issue 4): the same, with a C breaker checked inline */
    self->breaker_fast = !self->needs_start && self->breaker != NULL &&
                         self->breaker_enter == NULL && self->budget == NULL &&
                         self->result_predicate == NULL && self->record_method == NULL &&
                         !adaptive;
    return 0;
}

/* spec.after_failure(exc, attempt, elapsed, previous_delay, total_delay)
 *   -> ("retry", delay) | ("stop", value) ; raises the final error.
 * Used by the block form (zenoo_retry/blocks.py) so it shares these rules. */
static PyObject *RetrySpec_after_failure(zr_RetrySpecObject *self, PyObject *args)
{
    if (!spec_ready(self)) return NULL;
    PyObject *exc, *result = Py_None;
    unsigned long attempt;
    double start, prev, total;
    int has_start;
    if (!PyArg_ParseTuple(args, "Okpddd|O:after_failure", &exc, &attempt, &has_start, &start,
                          &prev, &total, &result))
        return NULL;
    if (exc != Py_None && !PyExceptionInstance_Check(exc)) {
        PyErr_Format(PyExc_TypeError, "exc must be an exception or None, got %R", exc);
        return NULL;
    }
    if (attempt < 1 || attempt > UINT32_MAX) {
        PyErr_Format(PyExc_ValueError, "attempt must be in [1, 4294967295], got %lu", attempt);
        return NULL;
    }
    zr_call call = {(uint32_t)attempt, has_start, start, prev, total};
    double delay = 0.0;
    PyObject *out = NULL;
    int rc = zr_spec_after_failure(self, &call, exc == Py_None ? NULL : exc,
                                   exc == Py_None ? result : NULL, &delay, &out);
    if (rc < 0) return NULL;
    if (rc == ZR_NEXT_RETRY) return Py_BuildValue("(sd)", "retry", delay);
    if (out == NULL) return NULL;
    PyObject *r = Py_BuildValue("(sN)", "stop", out);
    return r;
}

static PyObject *RetrySpec_begin(zr_RetrySpecObject *self, PyObject *noargs)
{
    if (!spec_ready(self)) return NULL;
    (void)noargs;
    zr_call call;
    if (zr_spec_begin(self, &call) < 0) return NULL;
    return Py_BuildValue("(id)", call.has_start, call.start);
}

static PyObject *RetrySpec_enter(zr_RetrySpecObject *self, PyObject *args)
{
    if (!spec_ready(self)) return NULL;
    unsigned long attempt = 0;
    if (!PyArg_ParseTuple(args, "|k:enter", &attempt)) return NULL;
    zr_call call = {(uint32_t)(attempt > UINT32_MAX ? UINT32_MAX : attempt), 0, 0.0, -1.0, 0.0};
    PyObject *token;
    if (zr_spec_enter(self, &token) < 0) {
        if (attempt > 0) {
            PyObject *err = zr_fetch_exception();
            if (err == NULL) return NULL;
            zr_obs_refused(self, &call, err);
            zr_restore_exception(err);
        }
        return NULL;
    }
    if (attempt > 0) zr_obs_attempt(self, &call);
    return token ? token : Py_NewRef(Py_None);
}

/* succeeded(attempt, result=None): the block form reports a successful attempt. */
static PyObject *RetrySpec_succeeded(zr_RetrySpecObject *self, PyObject *args)
{
    unsigned long attempt;
    PyObject *result = Py_None;
    if (!PyArg_ParseTuple(args, "k|O:succeeded", &attempt, &result)) return NULL;
    zr_call call = {(uint32_t)(attempt > UINT32_MAX ? UINT32_MAX : attempt), 0, 0.0, -1.0, 0.0};
    zr_obs_success(self, &call, result);
    Py_RETURN_NONE;
}

static PyObject *RetrySpec_exit(zr_RetrySpecObject *self, PyObject *args)
{
    if (!spec_ready(self)) return NULL;
    PyObject *token, *exc;
    if (!PyArg_ParseTuple(args, "OO:exit", &token, &exc)) return NULL;
    if (zr_spec_exit(self, Py_NewRef(token), exc == Py_None ? NULL : exc) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *RetrySpec_result_rejected(zr_RetrySpecObject *self, PyObject *result)
{
    if (!spec_ready(self)) return NULL;
    int r = zr_spec_result_rejected(self, result);
    if (r < 0) return NULL;
    return PyBool_FromLong(r);
}

static PyObject *RetrySpec_attempt_info(zr_RetrySpecObject *self, PyObject *args)
{
    if (!spec_ready(self)) return NULL;
    PyObject *exc, *result = Py_None;
    unsigned long attempt;
    int has_start;
    double start, next_delay, total;
    if (!PyArg_ParseTuple(args, "Okpddd|O:attempt_info", &exc, &attempt, &has_start, &start,
                          &next_delay, &total, &result))
        return NULL;
    zr_call call = {(uint32_t)attempt, has_start, start, -1.0, total};
    return zr_spec_attempt_info(self, &call, exc == Py_None ? NULL : exc,
                                result == Py_None ? NULL : result, next_delay);
}

static PyObject *RetrySpec_stop_with(zr_RetrySpecObject *self, PyObject *error)
{
    if (!spec_ready(self)) return NULL;
    if (!PyExceptionInstance_Check(error)) {
        PyErr_Format(PyExc_TypeError, "error must be an exception, got %R", error);
        return NULL;
    }
    zr_call call = {0, 0, 0.0, -1.0, 0.0};
    return zr_spec_stop_with(self, &call, error);
}

#define OBJ_GETTER(field)                                                                     \
    static PyObject *get_##field(zr_RetrySpecObject *self, void *c)                           \
    {                                                                                         \
        (void)c;                                                                              \
        return Py_NewRef(self->field ? (PyObject *)self->field : Py_None);                    \
    }
OBJ_GETTER(strategy)
OBJ_GETTER(retry_on)
OBJ_GETTER(never_retry_on)
OBJ_GETTER(condition)
OBJ_GETTER(result_predicate)
OBJ_GETTER(delay_hint)
OBJ_GETTER(on_retry)
OBJ_GETTER(on_give_up)
OBJ_GETTER(sleep)
OBJ_GETTER(clock)
OBJ_GETTER(breaker)
OBJ_GETTER(budget)
OBJ_GETTER(fallback)
OBJ_GETTER(fallback_factory)
OBJ_GETTER(name)
OBJ_GETTER(metrics)
OBJ_GETTER(observer)

static PyObject *get_timeout(zr_RetrySpecObject *self, void *c)
{
    (void)c;
    if (self->timeout < 0.0) Py_RETURN_NONE;
    return PyFloat_FromDouble(self->timeout);
}
static PyObject *get_max_hint_delay(zr_RetrySpecObject *self, void *c)
{
    (void)c;
    if (self->max_hint_delay < 0.0) Py_RETURN_NONE;
    return PyFloat_FromDouble(self->max_hint_delay);
}
static PyObject *get_max_attempts(zr_RetrySpecObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(self->max_attempts);
}
static PyObject *get_reraise(zr_RetrySpecObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->reraise);
}
static PyObject *get_has_fallback(zr_RetrySpecObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->fallback != NULL || self->fallback_factory != NULL);
}

static PyGetSetDef RetrySpec_getset[] = {
    {"strategy", (getter)get_strategy, NULL, NULL, NULL},
    {"retry_on", (getter)get_retry_on, NULL, NULL, NULL},
    {"never_retry_on", (getter)get_never_retry_on, NULL, NULL, NULL},
    {"condition", (getter)get_condition, NULL, NULL, NULL},
    {"retry_on_result", (getter)get_result_predicate, NULL, NULL, NULL},
    {"delay_hint", (getter)get_delay_hint, NULL, NULL, NULL},
    {"on_retry", (getter)get_on_retry, NULL, NULL, NULL},
    {"on_give_up", (getter)get_on_give_up, NULL, NULL, NULL},
    {"sleep", (getter)get_sleep, NULL, NULL, NULL},
    {"clock", (getter)get_clock, NULL, NULL, NULL},
    {"breaker", (getter)get_breaker, NULL, NULL, NULL},
    {"budget", (getter)get_budget, NULL, NULL, NULL},
    {"fallback", (getter)get_fallback, NULL, NULL, NULL},
    {"fallback_factory", (getter)get_fallback_factory, NULL, NULL, NULL},
    {"has_fallback", (getter)get_has_fallback, NULL, NULL, NULL},
    {"name", (getter)get_name, NULL, NULL, NULL},
    {"metrics", (getter)get_metrics, NULL, NULL, NULL},
    {"observer", (getter)get_observer, NULL, NULL, NULL},
    {"timeout", (getter)get_timeout, NULL, NULL, NULL},
    {"max_attempts", (getter)get_max_attempts, NULL, NULL, NULL},
    {"max_hint_delay", (getter)get_max_hint_delay, NULL, NULL, NULL},
    {"reraise", (getter)get_reraise, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef RetrySpec_methods[] = {
    {"begin", (PyCFunction)RetrySpec_begin, METH_NOARGS,
     "begin() -> (has_start, start): start a call (clock, budget request)."},
    {"enter", (PyCFunction)RetrySpec_enter, METH_VARARGS,
     "enter(attempt=0) -> token: breaker admission before an attempt (raises when refused);"
     " with the attempt's number, the attempt is also counted and observed."},
    {"succeeded", (PyCFunction)RetrySpec_succeeded, METH_VARARGS,
     "succeeded(attempt, result=None): count and observe a successful call (block form)."},
    {"exit", (PyCFunction)RetrySpec_exit, METH_VARARGS,
     "exit(token, exc): report an attempt's outcome (exc None on success)."},
    {"result_rejected", (PyCFunction)RetrySpec_result_rejected, METH_O,
     "result_rejected(result) -> bool: True if retry_on_result asks for a retry."},
    {"after_failure", (PyCFunction)RetrySpec_after_failure, METH_VARARGS,
     "after_failure(exc, attempt, has_start, start, previous_delay, total_delay, result=None)"
     "\n-> ('retry', delay) or ('stop', value); raises the error that ends the call."},
    {"attempt_info", (PyCFunction)RetrySpec_attempt_info, METH_VARARGS,
     "attempt_info(exc, attempt, has_start, start, next_delay, total_delay, result=None) -> "
     "RetryAttempt"},
    {"stop_with", (PyCFunction)RetrySpec_stop_with, METH_O,
     "stop_with(error) -> fallback value, or raises error."},
    {NULL, NULL, 0, NULL},
};

static int RetrySpec_traverse(zr_RetrySpecObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->module);
    Py_VISIT(self->strategy);
    Py_VISIT(self->delay_method);
    Py_VISIT(self->record_method);
    Py_VISIT(self->retry_on);
    Py_VISIT(self->never_retry_on);
    Py_VISIT(self->condition);
    Py_VISIT(self->result_predicate);
    Py_VISIT(self->delay_hint);
    Py_VISIT(self->on_retry);
    Py_VISIT(self->on_give_up);
    Py_VISIT(self->sleep);
    Py_VISIT(self->clock);
    Py_VISIT(self->breaker);
    Py_VISIT(self->breaker_enter);
    Py_VISIT(self->breaker_exit);
    Py_VISIT(self->budget);
    Py_VISIT(self->budget_on_request);
    Py_VISIT(self->budget_try_retry);
    Py_VISIT(self->fallback);
    Py_VISIT(self->fallback_factory);
    Py_VISIT(self->name);
    Py_VISIT(self->metrics);
    Py_VISIT(self->observer);
    return 0;
}

static int RetrySpec_clear(zr_RetrySpecObject *self)
{
    Py_CLEAR(self->strategy);
    Py_CLEAR(self->delay_method);
    Py_CLEAR(self->record_method);
    Py_CLEAR(self->retry_on);
    Py_CLEAR(self->never_retry_on);
    Py_CLEAR(self->condition);
    Py_CLEAR(self->result_predicate);
    Py_CLEAR(self->delay_hint);
    Py_CLEAR(self->on_retry);
    Py_CLEAR(self->on_give_up);
    Py_CLEAR(self->sleep);
    Py_CLEAR(self->clock);
    Py_CLEAR(self->breaker);
    Py_CLEAR(self->breaker_enter);
    Py_CLEAR(self->breaker_exit);
    Py_CLEAR(self->budget);
    Py_CLEAR(self->budget_on_request);
    Py_CLEAR(self->budget_try_retry);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->fallback_factory);
    Py_CLEAR(self->name);
    Py_CLEAR(self->metrics);
    Py_CLEAR(self->observer);
    Py_CLEAR(self->module);
    return 0;
}

static void RetrySpec_dealloc(zr_RetrySpecObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    (void)RetrySpec_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *RetrySpec_repr(zr_RetrySpecObject *self)
{
    if (self->strategy == NULL) return PyUnicode_FromString("RetrySpec(<uninitialised>)");
    return PyUnicode_FromFormat("RetrySpec(name=%R, strategy=%R, retry_on=%R)", self->name,
                                (PyObject *)self->strategy, self->retry_on);
}

static PyType_Slot RetrySpec_slots[] = {
    {Py_tp_doc, "RetrySpec(strategy, *, retry_on=Exception, never_retry_on=(), condition=None, "
                "retry_on_result=None, delay_hint=None, on_retry=None, on_give_up=None, "
                "sleep=None, clock=None, timeout=None, reraise=False, breaker=None, "
                "budget=None, fallback=<none>, fallback_factory=None, name=None, "
                "max_hint_delay=None, metrics=None, observer=None)\n\n"
                "A compiled retry policy. Built by zenoo_retry.policies.RetryPolicy."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, RetrySpec_init},
    {Py_tp_repr, RetrySpec_repr},
    {Py_tp_dealloc, RetrySpec_dealloc},
    {Py_tp_traverse, RetrySpec_traverse},
    {Py_tp_clear, RetrySpec_clear},
    {Py_tp_methods, RetrySpec_methods},
    {Py_tp_getset, RetrySpec_getset},
    {0, NULL},
};

PyType_Spec zr_retry_spec_spec = {
    .name = "zenoo_retry._core.RetrySpec",
    .basicsize = sizeof(zr_RetrySpecObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = RetrySpec_slots,
};
