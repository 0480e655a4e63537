/*
 * breaker_awaitable_type.c - zenoo_retry._core.BreakerAwaitable: one call of an `async def`
 * function decorated with a circuit breaker.
 *
 * BreakerCall (async mode) creates the inner coroutine and wraps it in this object. The first
 * step asks the breaker (refused: CircuitBreakerOpenError, the inner coroutine is closed
 * unstarted); every step forwards to the inner coroutine (PyIter_Send / throw / close); the
 * end of the coroutine reports the outcome: its return is a success, its exception is
 * classified by zr_cb_release (CancelledError and GeneratorExit are never failures). An
 * awaitable dropped while running returns its permit (counted as ignored).
 */
#include "zr_module.h"

#include <string.h>

enum { BA_INIT = 0, BA_RUNNING = 1, BA_DONE = 2 };

typedef struct {
    PyObject_HEAD
    zr_CircuitBreakerObject *breaker;
    PyObject *coro;              /* the inner coroutine; NULL once done */
    zr_breaker_permit permit;    /* valid while phase == BA_RUNNING */
    int phase;
    int executing;               /* re-entrancy guard */
    PyObject *weakreflist;
} zr_BreakerAwaitableObject;

PyObject *zr_breaker_awaitable_new(zr_CircuitBreakerObject *breaker, PyObject *coro)
{
    PyTypeObject *tp = breaker->st->BreakerAwaitable_Type;
    zr_BreakerAwaitableObject *self = PyObject_GC_New(zr_BreakerAwaitableObject, tp);
    if (self == NULL) return NULL;
    self->breaker = (zr_CircuitBreakerObject *)Py_NewRef((PyObject *)breaker);
    self->coro = Py_NewRef(coro);
    self->phase = BA_INIT;
    self->executing = 0;
    self->weakreflist = NULL;
    memset(&self->permit, 0, sizeof self->permit);
    PyObject_GC_Track((PyObject *)self);
    return (PyObject *)self;
}

/* The inner coroutine finished (sr != PYGEN_NEXT): report the outcome. For PYGEN_ERROR the
 * exception is still set on return. */
static void finish(zr_BreakerAwaitableObject *self, int errored)
{
    int had_permit = self->phase == BA_RUNNING;
    self->phase = BA_DONE;
    Py_CLEAR(self->coro);
    if (!had_permit) return;
    if (!errored) {
        zr_cb_release_success_inline(self->breaker, &self->permit);
        return;
    }
    PyObject *exc = zr_fetch_exception();
    if (exc != NULL && PyErr_GivenExceptionMatches(exc, PyExc_StopIteration)) {
        zr_cb_release_success_inline(self->breaker, &self->permit); /* throw() that returned */
    }
    else {
        zr_cb_release(self->breaker, &self->permit, exc);
    }
    if (exc != NULL) zr_restore_exception(exc);
}

static int guard(zr_BreakerAwaitableObject *self)
{
    if (self->executing) {
        PyErr_SetString(PyExc_ValueError, "circuit-breaker awaitable already executing");
        return -1;
    }
    if (self->phase == BA_DONE) {
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited coroutine");
        return -1;
    }
    return 0;
}

/* Admission on the first step. 0, or -1 with the refusal set (the awaitable is done). */
static int start(zr_BreakerAwaitableObject *self)
{
    if (self->phase != BA_INIT) return 0;
    if (zr_cb_acquire_inline(self->breaker, &self->permit) < 0) {
        PyObject *err = zr_fetch_exception();
        PyObject *coro = self->coro;
        self->coro = NULL;
        self->phase = BA_DONE;
        PyObject *r = PyObject_CallMethod(coro, "close", NULL); /* never started: no warning */
        if (r == NULL) PyErr_WriteUnraisable(coro);
        Py_XDECREF(r);
        Py_DECREF(coro);
        zr_restore_exception(err);
        return -1;
    }
    self->phase = BA_RUNNING;
    return 0;
}

static PySendResult BA_am_send(PyObject *op, PyObject *arg, PyObject **result)
{
    zr_BreakerAwaitableObject *self = (zr_BreakerAwaitableObject *)op;
    *result = NULL;
    if (guard(self) < 0) return PYGEN_ERROR;
    if (arg == NULL) arg = Py_None;
    if (self->phase == BA_INIT && arg != Py_None) {
        PyErr_SetString(PyExc_TypeError, "can't send non-None value to a just-started coroutine");
        return PYGEN_ERROR;
    }
    if (start(self) < 0) return PYGEN_ERROR;
    self->executing = 1;
    PyObject *r = NULL;
    PySendResult sr = PyIter_Send(self->coro, arg, &r);
    self->executing = 0;
    if (ZR_LIKELY(sr == PYGEN_NEXT)) {
        *result = r;
        return PYGEN_NEXT;
    }
    finish(self, sr == PYGEN_ERROR);
    *result = r;
    return sr;
}

static PyObject *BA_iternext(PyObject *op)
{
    zr_CircuitBreakerObject *cb = ((zr_BreakerAwaitableObject *)op)->breaker;
    zr_module_state *st = cb ? cb->st : PyType_GetModuleState(Py_TYPE(op));
    PyObject *r = NULL;
    PySendResult sr = BA_am_send(op, Py_None, &r);
    return zr_iter_result(st, sr, r, 1);
}

static PyObject *BA_send(PyObject *op, PyObject *arg)
{
    PyObject *r = NULL;
    PySendResult sr = BA_am_send(op, arg, &r);
    return zr_iter_result(NULL, sr, r, 0);
}

static PyObject *BA_throw(PyObject *op, PyObject *args)
{
    zr_BreakerAwaitableObject *self = (zr_BreakerAwaitableObject *)op;
    if (guard(self) < 0) return NULL;
    /* a throw before the first step reaches the coroutine unstarted: no permit taken */
    PyObject *meth = PyObject_GetAttrString(self->coro, "throw");
    if (meth == NULL) return NULL;
    if (self->phase == BA_INIT) {
        /* thrown in before the first step: the coroutine never starts, no permit taken */
        self->phase = BA_DONE;
        PyObject *r = PyObject_Call(meth, args, NULL);
        Py_DECREF(meth);
        Py_CLEAR(self->coro);
        return r;
    }
    self->executing = 1;
    PyObject *r = PyObject_Call(meth, args, NULL);
    self->executing = 0;
    Py_DECREF(meth);
    if (r != NULL) return r; /* it caught the error and suspended again */
    finish(self, 1);
    return NULL;
}

static PyObject *BA_close(PyObject *op, PyObject *noargs)
{
    (void)noargs;
    zr_BreakerAwaitableObject *self = (zr_BreakerAwaitableObject *)op;
    if (self->phase == BA_DONE) Py_RETURN_NONE;
    if (self->executing) {
        PyErr_SetString(PyExc_ValueError, "circuit-breaker awaitable already executing");
        return NULL;
    }
    PyObject *coro = Py_NewRef(self->coro);
    PyObject *r = PyObject_CallMethod(coro, "close", NULL);
    Py_DECREF(coro);
    if (r == NULL) {
        finish(self, 1);
        return NULL;
    }
    Py_DECREF(r);
    if (self->phase == BA_RUNNING) {
        self->phase = BA_DONE;
        Py_CLEAR(self->coro);
        zr_cb_release_ignored(self->breaker, &self->permit);
    }
    else {
        self->phase = BA_DONE;
        Py_CLEAR(self->coro);
    }
    Py_RETURN_NONE;
}

static PyObject *BA_await(PyObject *op) { return Py_NewRef(op); }

static int BA_traverse(PyObject *op, visitproc visit, void *arg)
{
    zr_BreakerAwaitableObject *self = (zr_BreakerAwaitableObject *)op;
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(self->breaker);
    Py_VISIT(self->coro);
    return 0;
}

static int BA_clear(PyObject *op)
{
    zr_BreakerAwaitableObject *self = (zr_BreakerAwaitableObject *)op;
    Py_CLEAR(self->coro);
    Py_CLEAR(self->breaker);
    return 0;
}

static void BA_dealloc(PyObject *op)
{
    zr_BreakerAwaitableObject *self = (zr_BreakerAwaitableObject *)op;
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    if (self->weakreflist != NULL) PyObject_ClearWeakRefs(op);
    if (self->phase == BA_RUNNING && self->breaker != NULL) {
        /* abandoned mid-call: give the permit back (an ignored outcome never transitions,
         * so no listener runs here) */
        self->phase = BA_DONE;
        PyObject *pending = PyErr_Occurred() ? zr_fetch_exception() : NULL;
        zr_cb_release_ignored(self->breaker, &self->permit);
        if (pending != NULL) zr_restore_exception(pending);
    }
    (void)BA_clear(op);
    PyObject_GC_Del(op);
    Py_DECREF(tp);
}

static PyObject *BA_repr(PyObject *op)
{
    zr_BreakerAwaitableObject *self = (zr_BreakerAwaitableObject *)op;
    return PyUnicode_FromFormat("<breaker awaitable %R>", self->coro ? self->coro : Py_None);
}

static PyMethodDef BA_methods[] = {
    {"send", BA_send, METH_O, "send(value): step the call."},
    {"throw", BA_throw, METH_VARARGS, "throw(exc): raise exc inside the call."},
    {"close", BA_close, METH_NOARGS, "close(): stop the call (its permit is returned)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef BA_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(zr_BreakerAwaitableObject, weakreflist), READONLY,
     NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot BA_slots[] = {
    {Py_tp_doc, "One call of an async function through a circuit breaker (an awaitable)."},
    {Py_am_await, BA_await},
#if PY_VERSION_HEX >= 0x030A0000
    {Py_am_send, BA_am_send},
#endif
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, BA_iternext},
    {Py_tp_methods, BA_methods},
    {Py_tp_members, BA_members},
    {Py_tp_repr, BA_repr},
    {Py_tp_dealloc, BA_dealloc},
    {Py_tp_traverse, BA_traverse},
    {Py_tp_clear, BA_clear},
    {0, NULL},
};

PyType_Spec zr_breaker_awaitable_spec = {
    .name = "zenoo_retry._core.BreakerAwaitable",
    .basicsize = sizeof(zr_BreakerAwaitableObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = BA_slots,
};
