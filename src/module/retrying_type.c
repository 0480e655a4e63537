/*
 * retrying_type.c - zenoo_retry._core.Retrying: a function wrapped with a retry policy.
 *
 * Calling it runs the retry loop in C through vectorcall. On the success path of a
 * simple policy it makes exactly one call - the user's - and allocates nothing; anything
 * else (breaker, budget, hooks, deadline, result predicate) is consulted through the
 * zr_spec_* functions of retry_spec_type.c. Safe to call from many threads: per-call
 * state lives on the C stack.
 *
 * Also holds what both callable types (this one and AsyncRetrying) share: __get__ for
 * methods, an instance __dict__ for functools metadata, GC support.
 */
#include "zr_module.h"

/* Sleep `delay` seconds with the spec's sleep (time.sleep by default, which Ctrl-C
 * interrupts). A zero delay never sleeps. 0 or -1. */
static int sync_sleep(zr_RetrySpecObject *spec, double delay)
{
    if (delay <= 0.0) return 0;
    int skip = zr_test_skip_sleep(spec->st, delay);
    if (skip != 0) return skip < 0 ? -1 : 0;
    PyObject *fn = spec->sleep ? spec->sleep : spec->st->time_sleep;
    PyObject *arg = PyFloat_FromDouble(delay);
    if (arg == NULL) return -1;
    Py_INCREF(fn);
    PyObject *r = PyObject_Vectorcall(fn, &arg, 1, NULL);
    Py_DECREF(fn);
    Py_DECREF(arg);
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

/* Call the on_retry hook with a RetryAttempt. 0 or -1. */
static int sync_on_retry(zr_RetrySpecObject *spec, zr_call *call, PyObject *exc,
                         PyObject *result, double delay)
{
    if (spec->on_retry == NULL) return 0;
    PyObject *info = zr_spec_attempt_info(spec, call, exc, result, delay);
    if (info == NULL) return -1;
    PyObject *fn = Py_NewRef(spec->on_retry);
    PyObject *r = PyObject_Vectorcall(fn, &info, 1, NULL);
    Py_DECREF(fn);
    Py_DECREF(info);
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

/* The general loop. `first_exc` (owned, may be NULL) is the error of a first attempt the
 * fast path already made; the loop then continues from attempt 1's failure. */
static PyObject *run_loop(zr_RetryingObject *self, PyObject *const *args, size_t nargsf,
                          PyObject *kwnames, PyObject *first_exc)
{
    zr_RetrySpecObject *spec = self->spec;
    zr_call call;
    PyObject *exc = first_exc;
    if (zr_spec_begin(spec, &call) < 0) {
        Py_XDECREF(exc);
        zr_obs_abort(spec, &call);
        return NULL;
    }
    if (exc != NULL) {
        call.attempt = 1;
        zr_obs_attempt(spec, &call);
    }
    for (;;) {
        PyObject *res = NULL;
        if (exc == NULL) {
            call.attempt++;
            PyObject *token;
            if (zr_spec_enter(spec, &token) < 0) {
                /* refused by the breaker (or it failed): the call ends here */
                PyObject *err = zr_fetch_exception();
                if (err == NULL) return NULL;
                zr_obs_refused(spec, &call, err);
                PyObject *out = zr_spec_stop_with(spec, &call, err);
                Py_DECREF(err);
                return out;
            }
            zr_obs_attempt(spec, &call);
            res = PyObject_Vectorcall(self->func, args, nargsf, kwnames);
            if (res == NULL) exc = zr_fetch_exception();
            if (zr_spec_exit(spec, token, exc) < 0) {
                Py_XDECREF(res);
                Py_XDECREF(exc);
                zr_obs_abort(spec, &call);
                return NULL;
            }
            if (res != NULL) {
                int rejected = zr_spec_result_rejected(spec, res);
                if (rejected == 0) {
                    zr_obs_success(spec, &call, res);
                    return res;
                }
                if (rejected < 0) {
                    Py_DECREF(res);
                    zr_obs_abort(spec, &call);
                    return NULL;
                }
            }
        }
        double delay = 0.0;
        PyObject *out = NULL;
        int next = zr_spec_after_failure(spec, &call, exc, res, &delay, &out);
        if (next != ZR_NEXT_RETRY) {
            Py_XDECREF(res);
            Py_XDECREF(exc);
            if (next < 0) zr_obs_abort(spec, &call);
            return next < 0 ? NULL : out;
        }
        int rc = sync_on_retry(spec, &call, exc, res, delay);
        Py_XDECREF(res);
        Py_CLEAR(exc);
        if (rc < 0 || sync_sleep(spec, delay) < 0) {
            zr_obs_abort(spec, &call);
            return NULL;
        }
    }
}

/* A call admitted by zr_cb_closed_admit that failed, or whose breaker moved on during it:
 * release with that closed epoch's permit, then finish as the general loop would. */
static ZR_NOINLINE PyObject *breaker_closed_finish(zr_RetryingObject *self, PyObject *const *args,
                                                  size_t nargsf, PyObject *kwnames,
                                                  zr_CircuitBreakerObject *cb, uint64_t epoch,
                                                  PyObject *res)
{
    zr_breaker_permit permit = zr_cb_closed_permit(epoch);
    if (res != NULL) {
        zr_cb_release(cb, &permit, NULL);
        zr_MetricsObject *mo = self->spec->metrics;
        if (mo != NULL) zr_metrics_first_try(&mo->m);
        return res;
    }
    PyObject *exc = zr_fetch_exception();
    zr_cb_release(cb, &permit, exc);
    return run_loop(self, args, nargsf, kwnames, exc);
}

/* Every call the inline paths of Retrying_vectorcall do not finish. */
static ZR_NOINLINE PyObject *vectorcall_general(zr_RetryingObject *self, PyObject *const *args,
                                               size_t nargsf, PyObject *kwnames)
{
    if (self->spec->simple) { /* func has no vectorcall entry of its own */
        PyObject *res = PyObject_Vectorcall(self->func, args, nargsf, kwnames);
        if (res != NULL) {
            if (self->spec->metrics != NULL) zr_metrics_first_try(&self->spec->metrics->m);
            return res;
        }
        return run_loop(self, args, nargsf, kwnames, zr_fetch_exception());
    }
    if (self->spec->breaker_fast) {
        /* circuit breakers (issue 4): a closed C breaker admits without a clock read or a
         * token; any other state takes the general loop (nothing was acquired here) */
        zr_CircuitBreakerObject *cb = (zr_CircuitBreakerObject *)self->spec->breaker;
        zr_breaker_permit permit;
        if (ZR_LIKELY(cb->shm == NULL) && zr_breaker_acquire_fast(&cb->cfg, cb->state, &permit)) {
            vectorcallfunc vc = self->func_vectorcall;
            PyObject *res = vc ? vc(self->func, args, nargsf, kwnames)
                               : PyObject_Vectorcall(self->func, args, nargsf, kwnames);
            if (ZR_LIKELY(res != NULL)) {
                zr_cb_release_success_inline(cb, &permit);
                if (self->spec->metrics != NULL) zr_metrics_first_try(&self->spec->metrics->m);
                return res;
            }
            PyObject *exc = zr_fetch_exception();
            zr_cb_release(cb, &permit, exc);
            return run_loop(self, args, nargsf, kwnames, exc);
        }
    }
    return run_loop(self, args, nargsf, kwnames, NULL);
}

/* The first attempt of a simple spec failed: decide and go on as the general loop. */
static ZR_NOINLINE PyObject *first_failed(zr_RetryingObject *self, PyObject *const *args,
                                         size_t nargsf, PyObject *kwnames)
{
    return run_loop(self, args, nargsf, kwnames, zr_fetch_exception());
}

ZR_HOT static PyObject *Retrying_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                                     PyObject *kwnames)
{
    zr_RetryingObject *self = (zr_RetryingObject *)callable;
    if (ZR_LIKELY(self->first_in_place)) {
        /* success path of a simple spec: the user's call and nothing else */
        PyObject *res = self->func_vectorcall(self->func, args, nargsf, kwnames);
        if (ZR_LIKELY(res != NULL)) {
            zr_MetricsObject *mo = self->spec->metrics;
            if (mo != NULL) zr_metrics_first_try(&mo->m);
            return res;
        }
        return first_failed(self, args, nargsf, kwnames);
    }
    if (self->breaker_in_place) {
        /* a plain closed C breaker (issue 4): admit, call, count the success, inline */
        zr_CircuitBreakerObject *cb = (zr_CircuitBreakerObject *)self->spec->breaker;
        uint64_t epoch;
        if (ZR_LIKELY(zr_cb_closed_admit(cb, &epoch))) {
            PyObject *res = self->func_vectorcall(self->func, args, nargsf, kwnames);
            if (ZR_LIKELY(res != NULL && zr_cb_closed_success(cb, epoch))) {
                zr_MetricsObject *mo = self->spec->metrics;
                if (mo != NULL) zr_metrics_first_try(&mo->m);
                return res;
            }
            return breaker_closed_finish(self, args, nargsf, kwnames, cb, epoch, res);
        }
    }
    return vectorcall_general(self, args, nargsf, kwnames);
}

/* ---- shared by Retrying and AsyncRetrying ------------------------------------------- */

int zr_retrying_init_fields(zr_RetryingObject *self, PyObject *args, PyObject *kwds,
                            const char *type_name)
{
    PyObject *func, *spec;
    if (kwds != NULL && PyDict_GET_SIZE(kwds) != 0) {
        PyErr_Format(PyExc_TypeError, "%s() takes no keyword arguments", type_name);
        return -1;
    }
    if (!PyArg_UnpackTuple(args, type_name, 2, 2, &func, &spec)) return -1;
    zr_module_state *st = zr_state_from_type(Py_TYPE(self));
    if (st == NULL) return -1;
    if (!PyCallable_Check(func)) {
        PyErr_Format(PyExc_TypeError, "func must be callable, got %R", func);
        return -1;
    }
    if (!PyObject_TypeCheck(spec, st->RetrySpec_Type) ||
        ((zr_RetrySpecObject *)spec)->name == NULL) { /* name: set last by RetrySpec_init */
        PyErr_Format(PyExc_TypeError, "spec must be an initialised RetrySpec, got %R", spec);
        return -1;
    }
    if (self->func != NULL) {
        PyErr_Format(PyExc_TypeError, "%s is immutable once initialised", type_name);
        return -1;
    }
    self->func = Py_NewRef(func);
    self->spec = (zr_RetrySpecObject *)Py_NewRef(spec);
    self->func_vectorcall = PyVectorcall_Function(func);
    self->first_in_place = self->spec->simple && self->func_vectorcall != NULL;
    self->breaker_in_place = self->spec->breaker_fast && self->func_vectorcall != NULL;
    return 0;
}

PyObject *zr_retrying_descr_get(PyObject *self, PyObject *obj, PyObject *type)
{
    (void)type;
    if (obj == NULL || obj == Py_None) return Py_NewRef(self);
    return PyMethod_New(self, obj);
}

int zr_retrying_traverse(zr_RetryingObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->func);
    Py_VISIT(self->spec);
    Py_VISIT(self->dict);
    Py_VISIT(self->idle);
    return 0;
}

int zr_retrying_clear(zr_RetryingObject *self)
{
    Py_CLEAR(self->func);
    Py_CLEAR(self->spec);
    Py_CLEAR(self->dict);
    Py_CLEAR(self->idle);
    return 0;
}

void zr_retrying_dealloc(zr_RetryingObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) PyObject_ClearWeakRefs((PyObject *)self);
    (void)zr_retrying_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *get_func(zr_RetryingObject *self, void *c)
{
    (void)c;
    return Py_NewRef(self->func ? self->func : Py_None);
}

static PyObject *get_spec(zr_RetryingObject *self, void *c)
{
    (void)c;
    return Py_NewRef(self->spec ? (PyObject *)self->spec : Py_None);
}

PyMemberDef zr_retrying_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(zr_RetryingObject, vectorcall), READONLY, NULL},
    {"__dictoffset__", T_PYSSIZET, offsetof(zr_RetryingObject, dict), READONLY, NULL},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(zr_RetryingObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

PyGetSetDef zr_retrying_getset[] = {
    {"func", (getter)get_func, NULL, "The wrapped callable.", NULL},
    {"retry_spec", (getter)get_spec, NULL, "The compiled policy (RetrySpec).", NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static int Retrying_init(zr_RetryingObject *self, PyObject *args, PyObject *kwds)
{
    if (zr_retrying_init_fields(self, args, kwds, "Retrying") < 0) return -1;
    self->vectorcall = Retrying_vectorcall;
    return 0;
}

static PyObject *Retrying_repr(zr_RetryingObject *self)
{
    return PyUnicode_FromFormat("<retrying %R>", self->func ? self->func : Py_None);
}

static PyType_Slot Retrying_slots[] = {
    {Py_tp_doc, "Retrying(func, spec)\n\nfunc wrapped with a compiled retry policy; calls run "
                "the retry loop in C. Made by zenoo_retry.retry()."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, Retrying_init},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_descr_get, zr_retrying_descr_get},
    {Py_tp_repr, Retrying_repr},
    {Py_tp_dealloc, zr_retrying_dealloc},
    {Py_tp_traverse, zr_retrying_traverse},
    {Py_tp_clear, zr_retrying_clear},
    {Py_tp_members, zr_retrying_members},
    {Py_tp_getset, zr_retrying_getset},
    {0, NULL},
};

PyType_Spec zr_retrying_spec = {
    .name = "zenoo_retry._core.Retrying",
    .basicsize = sizeof(zr_RetryingObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
             Py_TPFLAGS_METHOD_DESCRIPTOR,
    .slots = Retrying_slots,
};
