/*
 * breaker_type.c - zenoo_retry._core.CircuitBreaker: the C state machine of
 * src/core/zr_breaker.c behind a Python object (zenoo_retry.circuit_breaker subclasses it).
 *
 * The object owns an immutable zr_breaker_config and reaches its mutable state only through
 * `self->state`, always between zr_cb_lock / zr_cb_unlock. In-process the state is private
 * memory and the lock is a no-op: the GIL is held and no Python code runs while the state is
 * touched. The shared-memory layer (issue 5) points `state` into a segment and sets `shm`;
 * the same helpers then take the segment's robust mutex (repairing the state if its last
 * holder died). Listeners and clocks (Python code) are only ever called outside the lock.
 *
 * Outcome classification (one place: classify()):
 *   no exception                                     -> success
 *   an Exception matching expected_exception         -> failure
 *   any other Exception                              -> success (the service answered)
 *   BaseException that is not an Exception            -> ignored (permit returned, nothing
 *   (CancelledError, KeyboardInterrupt, SystemExit,      counted)
 *    GeneratorExit)
 */
#include "zr_module.h"

#include <string.h>

#include "../core/zr_shm.h"

#define CB(o) ((zr_CircuitBreakerObject *)(o))

/* ---- the one lock pair ----------------------------------------------------------------- */

/* zr_cb_lock / zr_cb_unlock (zr_module.h) are no-ops for private state; for shared state
 * they call zr_cb_lock_shared / zr_cb_unlock_shared (shared_objects.c, issue 5). */

/* ---- clock, listeners, errors ---------------------------------------------------------- */

/* Current time on the breaker's clock. 0 or -1 with an exception set. */
static int cb_now(zr_CircuitBreakerObject *cb, double *now)
{
    if (ZR_LIKELY(cb->clock == NULL)) {
        *now = cb->precise ? zr_clock_monotonic() : zr_clock_coarse();
        return 0;
    }
    return zr_call_clock(cb->clock, "clock", now);
}

/* Tell every listener about a mode change. Listener errors go to sys.unraisablehook; an
 * exception already set is preserved. */
static void fire(zr_CircuitBreakerObject *cb, const zr_breaker_change *ch)
{
    if (!ch->changed || PyTuple_GET_SIZE(cb->listeners) == 0) return;
    PyObject *pending = PyErr_Occurred() ? zr_fetch_exception() : NULL;
    PyObject *ls = Py_NewRef(cb->listeners); /* listeners may be replaced meanwhile */
    PyObject *args[3] = {(PyObject *)cb, Py_NewRef(cb->st->breaker_mode_names[ch->from]),
                         Py_NewRef(cb->st->breaker_mode_names[ch->to])};
    Py_INCREF(cb);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(ls); i++) {
        PyObject *fn = Py_NewRef(PyTuple_GET_ITEM(ls, i));
        PyObject *r = PyObject_Vectorcall(fn, args, 3, NULL);
        if (r == NULL) PyErr_WriteUnraisable(fn);
        Py_XDECREF(r);
        Py_DECREF(fn);
    }
    Py_DECREF(args[1]);
    Py_DECREF(args[2]);
    Py_DECREF(cb);
    Py_DECREF(ls);
    if (pending != NULL) zr_restore_exception(pending);
}

/* Raise CircuitBreakerOpenError for a refusal in `mode`. Always -1. */
static int raise_open(zr_CircuitBreakerObject *cb, uint32_t mode, double retry_after)
{
    zr_module_state *st = cb->st;
    PyObject *kwargs = PyDict_New();
    if (kwargs == NULL) return -1;
    PyObject *ra = PyFloat_FromDouble(retry_after);
    int bad = ra == NULL || PyDict_SetItemString(kwargs, "name", cb->name) < 0 ||
              PyDict_SetItemString(kwargs, "retry_after", ra) < 0 ||
              PyDict_SetItemString(kwargs, "state", st->breaker_mode_names[mode]) < 0;
    Py_XDECREF(ra);
    PyObject *args = NULL;
    if (!bad) {
        if (mode == ZR_BREAKER_ISOLATED) {
            PyObject *msg = PyUnicode_FromFormat(
                "circuit breaker %R is isolated (opened by hand); reset() closes it", cb->name);
            args = msg ? PyTuple_Pack(1, msg) : NULL;
            Py_XDECREF(msg);
        }
        else {
            args = PyTuple_New(0);
        }
    }
    PyObject *err = args ? PyObject_Call(st->CircuitBreakerOpenError, args, kwargs) : NULL;
    Py_XDECREF(args);
    Py_DECREF(kwargs);
    if (err == NULL) return -1;
    PyErr_SetObject(st->CircuitBreakerOpenError, err);
    Py_DECREF(err);
    return -1;
}

static zr_breaker_outcome classify(zr_CircuitBreakerObject *cb, PyObject *exc)
{
    if (exc == NULL) return ZR_OUTCOME_SUCCESS;
    if (!PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_Exception)) return ZR_OUTCOME_IGNORED;
    PyObject *expected = Py_NewRef(cb->expected); /* __instancecheck__ may run Python */
    int m = PyObject_IsInstance(exc, expected);
    if (m < 0) PyErr_WriteUnraisable(expected);
    Py_DECREF(expected);
    if (m < 0) return ZR_OUTCOME_FAILURE;
    return m ? ZR_OUTCOME_FAILURE : ZR_OUTCOME_SUCCESS;
}

/* ---- the C API used by decorators and RetrySpec ------------------------------------------ */

/* acquire without raising on refusal: 1 admitted, 0 refused (*mode, *retry_after), -1 error */
static int try_acquire(zr_CircuitBreakerObject *cb, zr_breaker_permit *permit, uint32_t *mode,
                       double *retry_after)
{
    double now;
    if (cb_now(cb, &now) < 0) return -1;
    zr_breaker_change ch;
    if (zr_cb_lock(cb) < 0) return -1;
    zr_status rc = zr_breaker_acquire(&cb->cfg, cb->state, now, cb->owner, permit, retry_after,
                                      &ch);
    if (ZR_UNLIKELY(rc == ZR_EREJECTED && cb->shm != NULL) && zr_cb_reap_shared(cb))
        rc = zr_breaker_acquire(&cb->cfg, cb->state, now, cb->owner, permit, retry_after, &ch);
    *mode = cb->state->mode;
    zr_cb_unlock(cb);
    if (ZR_UNLIKELY(ch.changed)) fire(cb, &ch);
    if (ZR_LIKELY(rc == ZR_OK)) return 1;
    if (rc == ZR_EREJECTED) return 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%g", now);
    PyErr_Format(PyExc_ValueError, "circuit breaker: the clock returned %s", buf);
    return -1;
}

int zr_cb_acquire(zr_CircuitBreakerObject *cb, zr_breaker_permit *permit)
{
    if (cb->shm != NULL && zr_cb_acquire_shared_fast(cb, permit)) return 0; /* issue 5 */
    if (zr_cb_lock(cb) < 0) return -1;
    int fast = zr_breaker_acquire_fast(&cb->cfg, cb->state, permit);
    zr_cb_unlock(cb);
    if (fast) return 0;
    uint32_t mode;
    double retry_after = 0.0;
    int r = try_acquire(cb, permit, &mode, &retry_after);
    if (ZR_LIKELY(r == 1)) return 0;
    if (r < 0) return -1;
    return raise_open(cb, mode <= ZR_BREAKER_DISABLED ? mode : ZR_BREAKER_OPEN, retry_after);
}

void zr_cb_release(zr_CircuitBreakerObject *cb, const zr_breaker_permit *permit, PyObject *exc)
{
    zr_breaker_outcome o = classify(cb, exc);
    if (o == ZR_OUTCOME_SUCCESS) {
        if (cb->shm != NULL && zr_cb_release_shared_fast(cb, permit)) return; /* issue 5 */
        if (zr_cb_lock(cb) < 0) {
            PyErr_WriteUnraisable((PyObject *)cb);
            return;
        }
        int fast = zr_breaker_release_success_fast(&cb->cfg, cb->state, permit);
        zr_cb_unlock(cb);
        if (fast) return;
    }
    double now;
    if (cb_now(cb, &now) < 0) {
        PyErr_WriteUnraisable((PyObject *)cb);
        now = permit->start;
        o = ZR_OUTCOME_IGNORED; /* no usable time: return the permit, count nothing */
    }
    zr_breaker_change ch;
    if (zr_cb_lock(cb) < 0) {
        PyErr_WriteUnraisable((PyObject *)cb);
        return;
    }
    (void)zr_breaker_release(&cb->cfg, cb->state, now, permit, o, -1.0, &ch);
    zr_cb_unlock(cb);
    if (ZR_UNLIKELY(ch.changed)) fire(cb, &ch);
}

void zr_cb_release_ignored(zr_CircuitBreakerObject *cb, const zr_breaker_permit *permit)
{
    zr_breaker_change ch;
    if (zr_cb_lock(cb) < 0) {
        PyErr_WriteUnraisable((PyObject *)cb);
        return;
    }
    /* `now` is only used for a counted outcome; an ignored one is not counted */
    (void)zr_breaker_release(&cb->cfg, cb->state, permit->start, permit, ZR_OUTCOME_IGNORED,
                             0.0, &ch);
    zr_cb_unlock(cb);
}

int zr_cb_enter(PyObject *breaker, PyObject **token)
{
    zr_CircuitBreakerObject *cb = CB(breaker);
    zr_breaker_permit p;
    if (zr_cb_acquire(cb, &p) < 0) return -1;
    if (p.slot == ZR_BREAKER_NO_SLOT && !cb->precise) {
        /* closed-state permits differ only by epoch: reuse one token per epoch */
        if (cb->token_cache != NULL && cb->token_epoch == p.epoch) {
            *token = Py_NewRef(cb->token_cache);
            return 0;
        }
        p.start = 0.0;
        PyObject *t = PyBytes_FromStringAndSize((const char *)&p, sizeof p);
        if (t == NULL) return -1;
        Py_XSETREF(cb->token_cache, Py_NewRef(t));
        cb->token_epoch = p.epoch;
        *token = t;
        return 0;
    }
    PyObject *t = PyBytes_FromStringAndSize((const char *)&p, sizeof p);
    if (t == NULL) {
        /* give the permit back so a probe slot is not lost */
        PyObject *err = zr_fetch_exception();
        zr_cb_release(cb, &p, NULL);
        zr_restore_exception(err);
        return -1;
    }
    *token = t;
    return 0;
}

static int decode_token(PyObject *token, zr_breaker_permit *p)
{
    if (!PyBytes_Check(token) || PyBytes_GET_SIZE(token) != (Py_ssize_t)sizeof *p) {
        PyErr_Format(PyExc_TypeError, "token must be the value _zr_enter() returned, got %R",
                     token);
        return -1;
    }
    memcpy(p, PyBytes_AS_STRING(token), sizeof *p);
    return 0;
}

int zr_cb_exit(PyObject *breaker, PyObject *token, PyObject *exc)
{
    zr_breaker_permit p;
    int rc = decode_token(token, &p);
    Py_DECREF(token);
    if (rc < 0) return -1;
    zr_cb_release(CB(breaker), &p, exc);
    return 0;
}

int zr_cb_is_native(zr_module_state *st, PyObject *breaker)
{
    PyTypeObject *tp = Py_TYPE(breaker);
    if (!PyObject_TypeCheck(breaker, st->CircuitBreaker_Type)) return 0;
    if (tp == st->CircuitBreaker_Type) return 1;
    static const char *names[] = {"_zr_enter", "_zr_exit"};
    for (int i = 0; i < 2; i++) {
        PyObject *mine = PyObject_GetAttrString((PyObject *)tp, names[i]);
        PyObject *base = mine ? PyObject_GetAttrString((PyObject *)st->CircuitBreaker_Type,
                                                       names[i])
                              : NULL;
        int same = mine != NULL && mine == base;
        Py_XDECREF(mine);
        Py_XDECREF(base);
        if (PyErr_Occurred()) PyErr_Clear();
        if (!same) return 0;
    }
    return 1;
}

int zr_cb_refuses_after(PyObject *breaker, double delay)
{
    zr_CircuitBreakerObject *cb = CB(breaker);
    double now;
    if (cb_now(cb, &now) < 0) return -1;
    if (zr_cb_lock(cb) < 0) return -1;
    uint32_t mode = cb->state->mode;
    double until = cb->state->open_until;
    zr_cb_unlock(cb);
    if (mode == ZR_BREAKER_ISOLATED)
        (void)raise_open(cb, mode, INFINITY);
    else if (mode == ZR_BREAKER_OPEN && until > now + delay)
        (void)raise_open(cb, mode, until - now);
    else
        return 0;
    return PyErr_ExceptionMatches(cb->st->CircuitBreakerOpenError) ? 1 : -1;
}

/* ---- construction ----------------------------------------------------------------------- */

static int is_number(PyObject *v) { return !PyBool_Check(v) && (PyLong_Check(v) || PyFloat_Check(v)); }

static int arg_u32(zr_module_state *st, const char *name, PyObject *v, long long lo, long long hi,
                   uint32_t *out)
{
    if (PyBool_Check(v) || !PyLong_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, got %R", name, v);
        return -1;
    }
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (overflow || x < lo || x > hi) {
        char req[96];
        snprintf(req, sizeof req, "must be an int in [%lld, %lld]", lo, hi);
        return zr_config_error_int(st, name, v, req);
    }
    *out = (uint32_t)x;
    return 0;
}

/* A finite number >= lo (> lo when strict), <= hi. */
static int arg_num(zr_module_state *st, const char *name, PyObject *v, double lo, int strict,
                   double hi, double *out)
{
    if (!is_number(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be a number, got %R", name, v);
        return -1;
    }
    double x = PyFloat_AsDouble(v);
    if (x == -1.0 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return -1;
        PyErr_Clear();
        x = HUGE_VAL;
    }
    if (!isfinite(x) || x < lo || (strict && x == lo) || x > hi) {
        char req[96];
        if (hi < HUGE_VAL)
            snprintf(req, sizeof req, "must be a number in %s%g, %g]", strict ? "(" : "[", lo, hi);
        else
            snprintf(req, sizeof req, "must be a finite number %s %g", strict ? ">" : ">=", lo);
        return zr_config_error_int(st, name, v, req);
    }
    *out = x;
    return 0;
}

static int exception_classes(const char *name, PyObject *v, PyObject **out)
{
    PyObject *t;
    if (PyExceptionClass_Check(v)) {
        t = PyTuple_Pack(1, v);
    }
    else if (PyTuple_Check(v) || PyList_Check(v) || PyAnySet_Check(v) ||
             PyObject_TypeCheck(v, &PyFrozenSet_Type)) {
        t = PySequence_Tuple(v);
    }
    else {
        PyErr_Format(PyExc_TypeError,
                     "%s must be an exception class or a tuple/list of them, got %R", name, v);
        return -1;
    }
    if (t == NULL) return -1;
    if (PyTuple_GET_SIZE(t) == 0) {
        PyErr_Format(PyExc_TypeError, "%s must name at least one exception class, got %R", name,
                     v);
        Py_DECREF(t);
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t); i++) {
        if (!PyExceptionClass_Check(PyTuple_GET_ITEM(t, i))) {
            PyErr_Format(PyExc_TypeError, "%s must contain exception classes, got %R", name,
                         PyTuple_GET_ITEM(t, i));
            Py_DECREF(t);
            return -1;
        }
    }
    *out = t;
    return 0;
}

static int CircuitBreaker_init(PyObject *op, PyObject *args, PyObject *kwds)
{
    zr_CircuitBreakerObject *self = CB(op);
    static char *kwlist[] = {"failure_threshold", "recovery_timeout", "expected_exception",
                             "name", "success_threshold", "half_open_max_calls", "window",
                             "window_size", "window_buckets", "minimum_calls",
                             "failure_rate_threshold", "slow_call_duration",
                             "slow_call_rate_threshold", "break_multiplier",
                             "max_break_duration", "permit_lease", "clock", "listeners",
                             "shared", NULL};
    PyObject *ft = NULL, *rt = NULL, *expected = PyExc_Exception, *name = Py_None;
    PyObject *sth = NULL, *homc = NULL, *window = Py_None, *wsize = Py_None, *wbuckets = NULL;
    PyObject *minc = Py_None, *frt = NULL, *scd = Py_None, *scrt = NULL, *mult = NULL;
    PyObject *maxb = Py_None, *lease = Py_None, *clock = Py_None, *listeners = NULL;
    PyObject *shared = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOO$OOOOOOOOOOOOOOOO:CircuitBreaker", kwlist,
                                     &ft, &rt, &expected, &name, &sth, &homc, &window, &wsize,
                                     &wbuckets, &minc, &frt, &scd, &scrt, &mult, &maxb, &lease,
                                     &clock, &listeners, &shared))
        return -1;
    if (self->state != NULL) {
        PyErr_SetString(PyExc_TypeError, "a CircuitBreaker is configured once, at construction");
        return -1;
    }
    zr_module_state *st = zr_state_from_type(Py_TYPE(op));
    if (st == NULL) return -1;
    zr_breaker_config c;
    zr_breaker_config_default(&c);
    if (ft && arg_u32(st, "failure_threshold", ft, 0, UINT32_MAX, &c.failure_threshold) < 0)
        return -1;
    if (rt && arg_num(st, "recovery_timeout", rt, 0.0, 0, HUGE_VAL, &c.recovery_timeout) < 0)
        return -1;
    if (sth && arg_u32(st, "success_threshold", sth, 1, UINT32_MAX, &c.success_threshold) < 0)
        return -1;
    if (homc && arg_u32(st, "half_open_max_calls", homc, 1, ZR_BREAKER_MAX_PROBES,
                        &c.half_open_max_calls) < 0)
        return -1;
    if (window == Py_None) {
        c.window_kind = ZR_WINDOW_NONE;
    }
    else if (PyUnicode_Check(window) && PyUnicode_CompareWithASCIIString(window, "count") == 0) {
        c.window_kind = ZR_WINDOW_COUNT;
        if (wsize != Py_None &&
            arg_u32(st, "window_size", wsize, 1, ZR_BREAKER_MAX_WINDOW_CALLS, &c.window_calls) < 0)
            return -1;
    }
    else if (PyUnicode_Check(window) && PyUnicode_CompareWithASCIIString(window, "time") == 0) {
        c.window_kind = ZR_WINDOW_TIME;
        if (wsize != Py_None &&
            arg_num(st, "window_size", wsize, 0.0, 1, HUGE_VAL, &c.window_duration) < 0)
            return -1;
        if (wbuckets && arg_u32(st, "window_buckets", wbuckets, 1, ZR_BREAKER_MAX_BUCKETS,
                                &c.window_buckets) < 0)
            return -1;
    }
    else {
        return zr_config_error_int(st, "window", window, "must be None, 'count' or 'time'");
    }
    if (c.window_kind == ZR_WINDOW_NONE && wsize != Py_None)
        return zr_config_error_int(st, "window_size", wsize,
                                   "needs window='count' or window='time'");
    if (minc != Py_None) {
        if (arg_u32(st, "minimum_calls", minc, 1, UINT32_MAX, &c.minimum_calls) < 0) return -1;
    }
    else if (c.window_kind == ZR_WINDOW_COUNT && c.window_calls < c.minimum_calls) {
        c.minimum_calls = c.window_calls;
    }
    if (frt && arg_num(st, "failure_rate_threshold", frt, 0.0, 0, 1.0,
                       &c.failure_rate_threshold) < 0)
        return -1;
    if (scd != Py_None) {
        if (arg_num(st, "slow_call_duration", scd, 0.0, 1, HUGE_VAL, &c.slow_call_duration) < 0)
            return -1;
        if (c.window_kind == ZR_WINDOW_NONE)
            return zr_config_error_int(st, "slow_call_duration", scd,
                                       "needs window='count' or window='time'");
    }
    if (scrt && arg_num(st, "slow_call_rate_threshold", scrt, 0.0, 0, 1.0,
                        &c.slow_call_rate_threshold) < 0)
        return -1;
    if (mult && arg_num(st, "break_multiplier", mult, 1.0, 0, HUGE_VAL, &c.break_multiplier) < 0)
        return -1;
    if (maxb != Py_None) {
        if (arg_num(st, "max_break_duration", maxb, c.recovery_timeout, 0, HUGE_VAL,
                    &c.max_break) < 0)
            return -1;
    }
    else {
        c.max_break = c.break_multiplier > 1.0 ? c.recovery_timeout * 10.0 : c.recovery_timeout;
        if (!isfinite(c.max_break)) c.max_break = c.recovery_timeout;
    }
    if (lease != Py_None) {
        if (arg_num(st, "permit_lease", lease, 0.0, 1, HUGE_VAL, &c.permit_lease) < 0) return -1;
    }
    else {
        c.permit_lease = c.recovery_timeout > 30.0 ? c.recovery_timeout : 30.0;
    }
    if (c.failure_threshold == 0 && c.window_kind == ZR_WINDOW_NONE)
        return zr_config_error_int(st, "failure_threshold", ft ? ft : Py_None,
                                   "must be >= 1 unless a window rule can trip the breaker");
    const char *field = NULL;
    if (zr_breaker_config_check(&c, &field) != ZR_OK) {
        PyObject *none = Py_None;
        return zr_config_error_int(st, field, none, "is out of range for this combination");
    }
    PyObject *exp = NULL;
    if (exception_classes("expected_exception", expected, &exp) < 0) return -1;
    if (clock != Py_None && !PyCallable_Check(clock)) {
        Py_DECREF(exp);
        PyErr_Format(PyExc_TypeError, "clock must be callable or None, got %R", clock);
        return -1;
    }
    PyObject *ls = listeners ? PySequence_Tuple(listeners) : PyTuple_New(0);
    if (ls == NULL) {
        Py_DECREF(exp);
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "listeners must be a sequence of callables, got %R",
                         listeners);
        }
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(ls); i++) {
        if (!PyCallable_Check(PyTuple_GET_ITEM(ls, i))) {
            PyErr_Format(PyExc_TypeError, "listeners must be callables, got %R",
                         PyTuple_GET_ITEM(ls, i));
            Py_DECREF(exp);
            Py_DECREF(ls);
            return -1;
        }
    }
    PyObject *nm;
    if (name == Py_None) {
        nm = PyUnicode_FromString("");
    }
    else if (PyUnicode_Check(name)) {
        nm = Py_NewRef(name);
    }
    else {
        Py_DECREF(exp);
        Py_DECREF(ls);
        PyErr_Format(PyExc_TypeError, "name must be a str or None, got %R", name);
        return -1;
    }
    if (nm == NULL) {
        Py_DECREF(exp);
        Py_DECREF(ls);
        return -1;
    }
    size_t size = zr_breaker_state_size(&c);
    void *mem = PyMem_Calloc(1, size);
    if (mem == NULL) {
        Py_DECREF(exp);
        Py_DECREF(ls);
        Py_DECREF(nm);
        PyErr_NoMemory();
        return -1;
    }
    (void)zr_breaker_state_init(&c, (zr_breaker_state *)mem, size);
    self->st = st;
    self->module = Py_NewRef(PyType_GetModule(st->CircuitBreaker_Type));
    self->cfg = c;
    self->own_state = mem;
    self->state = (zr_breaker_state *)mem;
    self->shm = NULL;
    self->owner = 0;
    self->expected = exp;
    self->clock = clock == Py_None ? NULL : Py_NewRef(clock);
    self->listeners = ls;
    self->name = nm;
    self->precise = c.slow_call_duration > 0.0;
    if (shared != Py_None && zr_cb_attach_shared(self, shared) < 0) return -1; /* issue 5 */
    self->plain = self->shm == NULL && c.window_kind == ZR_WINDOW_NONE &&
                  !(c.slow_call_duration > 0.0);
    return 0;
}

/* ---- methods ---------------------------------------------------------------------------- */

static int ready(zr_CircuitBreakerObject *self)
{
    if (self->state != NULL) return 1;
    PyErr_SetString(PyExc_TypeError, "CircuitBreaker.__init__ was not called");
    return 0;
}

static PyObject *CB_enter(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    if (!ready(CB(self))) return NULL;
    PyObject *token;
    if (zr_cb_enter(self, &token) < 0) return NULL;
    return token;
}

static PyObject *CB_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "_zr_exit(token, exc) takes 2 arguments, got %zd", nargs);
        return NULL;
    }
    if (!ready(CB(self))) return NULL;
    PyObject *exc = args[1];
    if (exc != Py_None && !PyExceptionInstance_Check(exc)) {
        PyErr_Format(PyExc_TypeError, "exc must be an exception or None, got %R", exc);
        return NULL;
    }
    if (zr_cb_exit(self, Py_NewRef(args[0]), exc == Py_None ? NULL : exc) < 0) return NULL;
    Py_RETURN_NONE;
}

/* `with breaker:` - the permit goes on a per-context stack (a ContextVar holding a tuple),
 * so nested blocks, threads and asyncio tasks each get their own. */
static PyObject *CB_cm_enter(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    zr_CircuitBreakerObject *cb = CB(self);
    if (!ready(cb)) return NULL;
    if (cb->cm_var == NULL &&
        (cb->cm_var = PyContextVar_New("zenoo_retry.circuit_breaker.permits", NULL)) == NULL)
        return NULL;
    PyObject *token;
    if (zr_cb_enter(self, &token) < 0) return NULL;
    PyObject *stack = NULL;
    if (PyContextVar_Get(cb->cm_var, NULL, &stack) < 0) goto fail;
    Py_ssize_t n = stack ? PyTuple_GET_SIZE(stack) : 0;
    PyObject *grown = PyTuple_New(n + 1);
    if (grown == NULL) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) PyTuple_SET_ITEM(grown, i, Py_NewRef(PyTuple_GET_ITEM(stack, i)));
    PyTuple_SET_ITEM(grown, n, Py_NewRef(token));
    PyObject *ctx_token = PyContextVar_Set(cb->cm_var, grown);
    Py_DECREF(grown);
    if (ctx_token == NULL) goto fail;
    Py_DECREF(ctx_token);
    Py_XDECREF(stack);
    Py_DECREF(token);
    return Py_NewRef(self);
fail:
    Py_XDECREF(stack);
    {
        PyObject *err = zr_fetch_exception();
        (void)zr_cb_exit(self, token, NULL); /* return the permit */
        zr_restore_exception(err);
    }
    return NULL;
}

static PyObject *CB_cm_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    zr_CircuitBreakerObject *cb = CB(self);
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "__exit__ takes 3 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *stack = NULL;
    if (cb->cm_var != NULL && PyContextVar_Get(cb->cm_var, NULL, &stack) < 0) return NULL;
    if (stack == NULL || PyTuple_GET_SIZE(stack) == 0) {
        Py_XDECREF(stack);
        PyErr_SetString(PyExc_RuntimeError,
                        "circuit breaker __exit__ without a matching __enter__ in this context");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(stack);
    PyObject *token = Py_NewRef(PyTuple_GET_ITEM(stack, n - 1));
    PyObject *rest = PyTuple_GetSlice(stack, 0, n - 1);
    Py_DECREF(stack);
    PyObject *ctx_token = rest ? PyContextVar_Set(cb->cm_var, rest) : NULL;
    Py_XDECREF(rest);
    if (ctx_token == NULL) {
        Py_DECREF(token);
        return NULL;
    }
    Py_DECREF(ctx_token);
    PyObject *exc = args[1];
    if (exc != Py_None && !PyExceptionInstance_Check(exc)) exc = Py_None; /* (type, None, tb) */
    if (zr_cb_exit(self, token, exc == Py_None ? NULL : exc) < 0) return NULL;
    Py_RETURN_FALSE;
}

static PyObject *CB_call(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "call(fn, /, *args, **kwargs) needs a callable");
        return NULL;
    }
    if (!ready(CB(self))) return NULL;
    zr_breaker_permit p;
    if (zr_cb_acquire(CB(self), &p) < 0) return NULL;
    PyObject *fn = Py_NewRef(args[0]);
    PyObject *res = PyObject_Vectorcall(fn, args + 1, (size_t)(nargs - 1), kwnames);
    Py_DECREF(fn);
    if (res != NULL) {
        zr_cb_release(CB(self), &p, NULL);
        return res;
    }
    PyObject *exc = zr_fetch_exception();
    zr_cb_release(CB(self), &p, exc);
    zr_restore_exception(exc);
    return NULL;
}

static PyObject *CB_should_allow(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    if (!ready(CB(self))) return NULL;
    zr_breaker_permit p;
    uint32_t mode;
    double ra;
    int r = try_acquire(CB(self), &p, &mode, &ra);
    if (r < 0) return NULL;
    return PyBool_FromLong(r);
}

static PyObject *record(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                        zr_breaker_outcome o, const char *fname)
{
    zr_CircuitBreakerObject *cb = CB(self);
    if (!ready(cb)) return NULL;
    double duration = 0.0;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "%s(duration=None) takes at most 1 argument", fname);
        return NULL;
    }
    if (nargs == 1 && args[0] != Py_None &&
        arg_num(cb->st, "duration", args[0], 0.0, 0, HUGE_VAL, &duration) < 0)
        return NULL;
    double now;
    if (cb_now(cb, &now) < 0) return NULL;
    zr_breaker_change ch;
    if (zr_cb_lock(cb) < 0) return NULL;
    (void)zr_breaker_record(&cb->cfg, cb->state, now, cb->owner, o, duration, &ch);
    zr_cb_unlock(cb);
    fire(cb, &ch);
    Py_RETURN_NONE;
}

static PyObject *CB_record_success(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return record(self, args, nargs, ZR_OUTCOME_SUCCESS, "record_success");
}

static PyObject *CB_record_failure(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return record(self, args, nargs, ZR_OUTCOME_FAILURE, "record_failure");
}

typedef void (*manual_fn)(const zr_breaker_config *, zr_breaker_state *, double,
                          zr_breaker_change *);

static PyObject *manual(PyObject *self, manual_fn fn)
{
    zr_CircuitBreakerObject *cb = CB(self);
    if (!ready(cb)) return NULL;
    double now;
    if (cb_now(cb, &now) < 0) return NULL;
    zr_breaker_change ch;
    if (zr_cb_lock(cb) < 0) return NULL;
    fn(&cb->cfg, cb->state, now, &ch);
    zr_cb_unlock(cb);
    fire(cb, &ch);
    Py_RETURN_NONE;
}

static PyObject *CB_isolate(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    return manual(self, zr_breaker_isolate);
}

static PyObject *CB_reset(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    return manual(self, zr_breaker_reset);
}

static PyObject *CB_disable(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    return manual(self, zr_breaker_disable);
}

/* Apply pending time transitions and return the mode. -1 on error. */
static int current_mode(zr_CircuitBreakerObject *cb, double *now_out)
{
    double now;
    if (cb_now(cb, &now) < 0) return -1;
    zr_breaker_change ch;
    if (zr_cb_lock(cb) < 0) return -1;
    (void)zr_breaker_poll(&cb->cfg, cb->state, now, &ch);
    int mode = (int)cb->state->mode;
    zr_cb_unlock(cb);
    fire(cb, &ch);
    if (now_out) *now_out = now;
    return mode <= ZR_BREAKER_DISABLED ? mode : ZR_BREAKER_OPEN;
}

#define SET_ITEM(d, key, expr)                                                                \
    do {                                                                                      \
        PyObject *v_ = (expr);                                                                \
        if (v_ == NULL || PyDict_SetItemString(d, key, v_) < 0) {                             \
            Py_XDECREF(v_);                                                                   \
            Py_DECREF(d);                                                                     \
            return NULL;                                                                      \
        }                                                                                     \
        Py_DECREF(v_);                                                                        \
    } while (0)

static PyObject *CB_stats(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    zr_CircuitBreakerObject *cb = CB(self);
    if (!ready(cb)) return NULL;
    double now;
    if (current_mode(cb, &now) < 0) return NULL;
    zr_breaker_stats s;
    if (zr_cb_lock(cb) < 0) return NULL;
    zr_breaker_stats_get(&cb->cfg, cb->state, now, &s);
    zr_cb_unlock(cb);
    PyObject *d = PyDict_New();
    if (d == NULL) return NULL;
    uint32_t mode = s.mode <= ZR_BREAKER_DISABLED ? s.mode : ZR_BREAKER_OPEN;
    SET_ITEM(d, "name", Py_NewRef(cb->name));
    SET_ITEM(d, "state", Py_NewRef(cb->st->breaker_mode_names[mode]));
    SET_ITEM(d, "failure_count", PyLong_FromUnsignedLong(s.failure_count));
    SET_ITEM(d, "success_count", PyLong_FromUnsignedLong(s.success_count));
    SET_ITEM(d, "last_failure_time",
             s.has_last_failure ? PyFloat_FromDouble(s.last_failure_time) : Py_NewRef(Py_None));
    SET_ITEM(d, "opened_at",
             mode == ZR_BREAKER_OPEN || mode == ZR_BREAKER_HALF_OPEN
                 ? PyFloat_FromDouble(s.opened_at)
                 : Py_NewRef(Py_None));
    SET_ITEM(d, "retry_after", PyFloat_FromDouble(s.retry_after));
    SET_ITEM(d, "break_duration", PyFloat_FromDouble(s.break_duration));
    SET_ITEM(d, "half_open_successes", PyLong_FromUnsignedLong(s.half_open_successes));
    SET_ITEM(d, "probes_in_flight", PyLong_FromUnsignedLong(s.probes_in_flight));
    SET_ITEM(d, "consecutive_trips", PyLong_FromUnsignedLong(s.consecutive_trips));
    SET_ITEM(d, "window_calls", PyLong_FromUnsignedLongLong(s.window_calls));
    SET_ITEM(d, "window_failures", PyLong_FromUnsignedLongLong(s.window_failures));
    SET_ITEM(d, "window_slow_calls", PyLong_FromUnsignedLongLong(s.window_slow));
    SET_ITEM(d, "calls_admitted", PyLong_FromUnsignedLongLong(s.admitted));
    SET_ITEM(d, "calls_rejected", PyLong_FromUnsignedLongLong(s.rejected));
    SET_ITEM(d, "total_successes", PyLong_FromUnsignedLongLong(s.successes));
    SET_ITEM(d, "total_failures", PyLong_FromUnsignedLongLong(s.failures));
    SET_ITEM(d, "slow_calls", PyLong_FromUnsignedLongLong(s.slow_calls));
    SET_ITEM(d, "ignored_calls", PyLong_FromUnsignedLongLong(s.ignored));
    SET_ITEM(d, "stale_outcomes", PyLong_FromUnsignedLongLong(s.stale));
    SET_ITEM(d, "transitions", PyLong_FromUnsignedLongLong(s.transitions));
    SET_ITEM(d, "trips", PyLong_FromUnsignedLongLong(s.trips));
    SET_ITEM(d, "reclaimed_permits", PyLong_FromUnsignedLongLong(s.reclaimed));
    return d;
}

static PyObject *CB_add_listener(PyObject *self, PyObject *fn)
{
    zr_CircuitBreakerObject *cb = CB(self);
    if (!ready(cb)) return NULL;
    if (!PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError, "listener must be callable(breaker, old, new), got %R", fn);
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(cb->listeners);
    PyObject *t = PyTuple_New(n + 1);
    if (t == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        PyTuple_SET_ITEM(t, i, Py_NewRef(PyTuple_GET_ITEM(cb->listeners, i)));
    PyTuple_SET_ITEM(t, n, Py_NewRef(fn));
    Py_SETREF(cb->listeners, t);
    Py_RETURN_NONE;
}

static PyObject *CB_remove_listener(PyObject *self, PyObject *fn)
{
    zr_CircuitBreakerObject *cb = CB(self);
    if (!ready(cb)) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(cb->listeners), at = -1;
    for (Py_ssize_t i = 0; i < n && at < 0; i++) {
        int eq = PyObject_RichCompareBool(PyTuple_GET_ITEM(cb->listeners, i), fn, Py_EQ);
        if (eq < 0) return NULL;
        if (eq) at = i;
    }
    if (at < 0) {
        PyErr_Format(PyExc_ValueError, "listener %R is not registered", fn);
        return NULL;
    }
    PyObject *t = PyTuple_New(n - 1);
    if (t == NULL) return NULL;
    for (Py_ssize_t i = 0, j = 0; i < n; i++)
        if (i != at) PyTuple_SET_ITEM(t, j++, Py_NewRef(PyTuple_GET_ITEM(cb->listeners, i)));
    Py_SETREF(cb->listeners, t);
    Py_RETURN_NONE;
}

static PyObject *CB_wrap(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "_wrap(func, is_async=False)");
        return NULL;
    }
    if (!ready(CB(self))) return NULL;
    PyObject *call_args[3] = {args[0], self, nargs > 1 ? args[1] : Py_False};
    return PyObject_Vectorcall((PyObject *)CB(self)->st->BreakerCall_Type, call_args, 3, NULL);
}

/* ---- attributes ------------------------------------------------------------------------- */

static PyObject *get_state(PyObject *self, void *c)
{
    (void)c;
    if (!ready(CB(self))) return NULL;
    int mode = current_mode(CB(self), NULL);
    if (mode < 0) return NULL;
    return Py_NewRef(CB(self)->st->breaker_mode_names[mode]);
}

static PyObject *get_config(PyObject *self, void *c)
{
    (void)c;
    zr_CircuitBreakerObject *cb = CB(self);
    if (!ready(cb)) return NULL;
    const zr_breaker_config *k = &cb->cfg;
    PyObject *d = PyDict_New();
    if (d == NULL) return NULL;
    SET_ITEM(d, "failure_threshold", PyLong_FromUnsignedLong(k->failure_threshold));
    SET_ITEM(d, "recovery_timeout", PyFloat_FromDouble(k->recovery_timeout));
    SET_ITEM(d, "expected_exception", Py_NewRef(cb->expected));
    SET_ITEM(d, "name", Py_NewRef(cb->name));
    SET_ITEM(d, "success_threshold", PyLong_FromUnsignedLong(k->success_threshold));
    SET_ITEM(d, "half_open_max_calls", PyLong_FromUnsignedLong(k->half_open_max_calls));
    if (k->window_kind == ZR_WINDOW_COUNT) {
        SET_ITEM(d, "window", PyUnicode_FromString("count"));
        SET_ITEM(d, "window_size", PyLong_FromUnsignedLong(k->window_calls));
    }
    else if (k->window_kind == ZR_WINDOW_TIME) {
        SET_ITEM(d, "window", PyUnicode_FromString("time"));
        SET_ITEM(d, "window_size", PyFloat_FromDouble(k->window_duration));
        SET_ITEM(d, "window_buckets", PyLong_FromUnsignedLong(k->window_buckets));
    }
    else {
        SET_ITEM(d, "window", Py_NewRef(Py_None));
    }
    if (k->window_kind != ZR_WINDOW_NONE) {
        SET_ITEM(d, "minimum_calls", PyLong_FromUnsignedLong(k->minimum_calls));
        SET_ITEM(d, "failure_rate_threshold", PyFloat_FromDouble(k->failure_rate_threshold));
        SET_ITEM(d, "slow_call_duration",
                 k->slow_call_duration > 0 ? PyFloat_FromDouble(k->slow_call_duration)
                                           : Py_NewRef(Py_None));
        SET_ITEM(d, "slow_call_rate_threshold", PyFloat_FromDouble(k->slow_call_rate_threshold));
    }
    SET_ITEM(d, "break_multiplier", PyFloat_FromDouble(k->break_multiplier));
    SET_ITEM(d, "max_break_duration", PyFloat_FromDouble(k->max_break));
    SET_ITEM(d, "permit_lease", PyFloat_FromDouble(k->permit_lease));
    SET_ITEM(d, "clock", Py_NewRef(cb->clock ? cb->clock : Py_None));
    SET_ITEM(d, "listeners", Py_NewRef(cb->listeners));
    SET_ITEM(d, "shared", zr_cb_shared_name(cb));
    return d;
}

#define CFG_GETTER(field, conv)                                                               \
    static PyObject *get_##field(PyObject *self, void *c)                                     \
    {                                                                                         \
        (void)c;                                                                              \
        if (!ready(CB(self))) return NULL;                                                    \
        return conv(CB(self)->cfg.field);                                                     \
    }
CFG_GETTER(failure_threshold, PyLong_FromUnsignedLong)
CFG_GETTER(success_threshold, PyLong_FromUnsignedLong)
CFG_GETTER(half_open_max_calls, PyLong_FromUnsignedLong)
CFG_GETTER(recovery_timeout, PyFloat_FromDouble)

static PyObject *get_name(PyObject *self, void *c)
{
    (void)c;
    if (!ready(CB(self))) return NULL;
    return Py_NewRef(CB(self)->name);
}

static PyObject *get_expected(PyObject *self, void *c)
{
    (void)c;
    if (!ready(CB(self))) return NULL;
    return Py_NewRef(CB(self)->expected);
}

static PyObject *get_listeners(PyObject *self, void *c)
{
    (void)c;
    if (!ready(CB(self))) return NULL;
    return Py_NewRef(CB(self)->listeners);
}

static PyObject *get_state_size(PyObject *self, void *c)
{
    (void)c;
    if (!ready(CB(self))) return NULL;
    return PyLong_FromSize_t(zr_breaker_state_size(&CB(self)->cfg));
}

static PyObject *get_shared(PyObject *self, void *c)
{
    (void)c;
    if (!ready(CB(self))) return NULL;
    return zr_cb_shared_name(CB(self));
}

/* ---- hooks of the Redis backend (issue 5) ---------------------------------------------- */

/* _zr_sync_view() -> (mode, epoch, successes, failures, consecutive_failures, admitted,
 * rejected, probes_in_use): what the Redis backend reads each sync round, in one lock. */
static PyObject *CB_sync_view(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    zr_CircuitBreakerObject *cb = CB(self);
    if (zr_cb_lock(cb) < 0) return NULL;
    zr_breaker_state v = *cb->state; /* the header only: plain data */
    zr_cb_unlock(cb);
    return Py_BuildValue("(IKKKIKKI)", (unsigned int)v.mode, (unsigned long long)v.epoch,
                         (unsigned long long)v.successes, (unsigned long long)v.failures,
                         (unsigned int)v.consecutive_failures, (unsigned long long)v.admitted,
                         (unsigned long long)v.rejected, (unsigned int)v.probes_in_use);
}

/* _zr_adopt(mode, remaining, expect_epoch) -> bool: take the fleet's mode (zr_breaker_adopt
 * on the breaker's clock). False when the breaker changed since epoch `expect_epoch` or is
 * isolated/disabled (nothing done); listeners hear an adopted transition like any other. */
static PyObject *CB_adopt(PyObject *self, PyObject *args)
{
    zr_CircuitBreakerObject *cb = CB(self);
    unsigned int mode;
    double remaining, now;
    unsigned long long epoch;
    if (!PyArg_ParseTuple(args, "IdK:_zr_adopt", &mode, &remaining, &epoch)) return NULL;
    if (cb_now(cb, &now) < 0) return NULL;
    zr_breaker_change ch;
    if (zr_cb_lock(cb) < 0) return NULL;
    zr_status rc = zr_breaker_adopt(&cb->cfg, cb->state, now, (uint64_t)epoch, (uint32_t)mode,
                                    remaining, &ch);
    zr_cb_unlock(cb);
    if (rc == ZR_EINVAL) {
        PyErr_Format(PyExc_ValueError,
                     "_zr_adopt: mode must be 0, 1 or 2 and remaining finite >= 0, got %R", args);
        return NULL;
    }
    if (ch.changed) fire(cb, &ch);
    return PyBool_FromLong(rc == ZR_OK);
}

static PyMethodDef CB_methods[] = {
    {"_zr_enter", CB_enter, METH_NOARGS,
     "_zr_enter() -> token: admit one call or raise CircuitBreakerOpenError."},
    {"_zr_exit", (PyCFunction)(void (*)(void))CB_exit, METH_FASTCALL,
     "_zr_exit(token, exc): report the outcome of the call _zr_enter admitted."},
    {"__enter__", CB_cm_enter, METH_NOARGS, "with breaker: admit the block or raise."},
    {"__exit__", (PyCFunction)(void (*)(void))CB_cm_exit, METH_FASTCALL,
     "Report the block's outcome; never suppresses its exception."},
    {"call", (PyCFunction)(void (*)(void))CB_call, METH_FASTCALL | METH_KEYWORDS,
     "call(fn, /, *args, **kwargs): run fn through the breaker."},
    {"should_allow_request", CB_should_allow, METH_NOARGS,
     "should_allow_request() -> bool: admit one call (report it with record_success/"
     "record_failure; a half-open probe slot is held until then or until permit_lease)."},
    {"record_success", (PyCFunction)(void (*)(void))CB_record_success, METH_FASTCALL,
     "record_success(duration=None): count a success (after should_allow_request)."},
    {"record_failure", (PyCFunction)(void (*)(void))CB_record_failure, METH_FASTCALL,
     "record_failure(duration=None): count a failure (after should_allow_request)."},
    {"isolate", CB_isolate, METH_NOARGS, "isolate(): refuse every call until reset()."},
    {"reset", CB_reset, METH_NOARGS, "reset(): close the breaker and clear its counts."},
    {"disable", CB_disable, METH_NOARGS, "disable(): admit every call, never trip, until reset()."},
    {"_stats", CB_stats, METH_NOARGS, "_stats() -> dict of counters (see stats())."},
    {"add_listener", CB_add_listener, METH_O,
     "add_listener(fn): fn(breaker, old_state, new_state) after each state change."},
    {"remove_listener", CB_remove_listener, METH_O, "remove_listener(fn)."},
    {"_wrap", (PyCFunction)(void (*)(void))CB_wrap, METH_FASTCALL,
     "_wrap(func, is_async=False) -> C wrapper running func through the breaker (async: "
     "each call returns an awaitable)."},
    {"_zr_sync_view", CB_sync_view, METH_NOARGS,
     "_zr_sync_view() -> tuple: the counters the Redis backend syncs."},
    {"_zr_adopt", CB_adopt, METH_VARARGS,
     "_zr_adopt(mode, remaining, expect_epoch) -> bool: take the fleet's mode (Redis)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef CB_getset[] = {
    {"state", get_state, NULL,
     "'closed', 'open', 'half_open', 'isolated' or 'disabled' (an open breaker whose "
     "recovery timeout passed reports 'half_open')", NULL},
    {"config", get_config, NULL, "The constructor arguments, normalised (dict).", NULL},
    {"name", get_name, NULL, NULL, NULL},
    {"expected_exception", get_expected, NULL, "Exception classes counted as failures.", NULL},
    {"listeners", get_listeners, NULL, NULL, NULL},
    {"failure_threshold", get_failure_threshold, NULL, NULL, NULL},
    {"success_threshold", get_success_threshold, NULL, NULL, NULL},
    {"half_open_max_calls", get_half_open_max_calls, NULL, NULL, NULL},
    {"recovery_timeout", get_recovery_timeout, NULL, NULL, NULL},
    {"_state_size", get_state_size, NULL, "Bytes of the mutable state.", NULL},
    {"shared", get_shared, NULL, "The shared-memory segment name, or None (private).", NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef CB_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(zr_CircuitBreakerObject, dict), READONLY, NULL},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(zr_CircuitBreakerObject, weakreflist), READONLY,
     NULL},
    {NULL, 0, 0, 0, NULL},
};

static int CB_traverse(PyObject *op, visitproc visit, void *arg)
{
    zr_CircuitBreakerObject *self = CB(op);
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(self->module);
    Py_VISIT(self->expected);
    Py_VISIT(self->clock);
    Py_VISIT(self->listeners);
    Py_VISIT(self->name);
    Py_VISIT(self->token_cache);
    Py_VISIT(self->cm_var);
    Py_VISIT(self->dict);
    return 0;
}

static int CB_clear(PyObject *op)
{
    zr_CircuitBreakerObject *self = CB(op);
    Py_CLEAR(self->expected);
    Py_CLEAR(self->clock);
    Py_CLEAR(self->listeners);
    Py_CLEAR(self->name);
    Py_CLEAR(self->token_cache);
    Py_CLEAR(self->cm_var);
    Py_CLEAR(self->dict);
    return 0;
}

static void CB_dealloc(PyObject *op)
{
    zr_CircuitBreakerObject *self = CB(op);
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    if (self->weakreflist != NULL) PyObject_ClearWeakRefs(op);
    (void)CB_clear(op);
    zr_cb_detach_shared(self);
    self->state = NULL;
    PyMem_Free(self->own_state);
    self->own_state = NULL;
    Py_CLEAR(self->module);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyObject *CB_repr(PyObject *op)
{
    zr_CircuitBreakerObject *self = CB(op);
    if (self->state == NULL) return PyUnicode_FromFormat("<%s (uninitialised)>", Py_TYPE(op)->tp_name);
    uint32_t mode = self->state->mode <= ZR_BREAKER_DISABLED ? self->state->mode : ZR_BREAKER_OPEN;
    PyObject *rt = PyFloat_FromDouble(self->cfg.recovery_timeout);
    if (rt == NULL) return NULL;
    PyObject *r = PyUnicode_FromFormat("<%s %R state=%s failure_threshold=%u recovery_timeout=%R>",
                                       Py_TYPE(op)->tp_name, self->name, zr_breaker_mode_name(mode),
                                       (unsigned)self->cfg.failure_threshold, rt);
    Py_DECREF(rt);
    return r;
}

static PyType_Slot CB_slots[] = {
    {Py_tp_doc,
     "CircuitBreaker(failure_threshold=5, recovery_timeout=30.0, expected_exception=Exception, "
     "*, name=None, success_threshold=1, half_open_max_calls=1, window=None, window_size=None, "
     "window_buckets=10, minimum_calls=None, failure_rate_threshold=0.5, "
     "slow_call_duration=None, slow_call_rate_threshold=1.0, break_multiplier=1.0, "
     "max_break_duration=None, permit_lease=None, clock=None, listeners=(), shared=None)\n\n"
     "The C circuit breaker; use zenoo_retry.circuit_breaker.CircuitBreaker."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, CircuitBreaker_init},
    {Py_tp_repr, CB_repr},
    {Py_tp_dealloc, CB_dealloc},
    {Py_tp_traverse, CB_traverse},
    {Py_tp_clear, CB_clear},
    {Py_tp_methods, CB_methods},
    {Py_tp_getset, CB_getset},
    {Py_tp_members, CB_members},
    {0, NULL},
};

PyType_Spec zr_circuit_breaker_spec = {
    .name = "zenoo_retry._core.CircuitBreaker",
    .basicsize = sizeof(zr_CircuitBreakerObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .slots = CB_slots,
};
