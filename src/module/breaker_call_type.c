/*
 * breaker_call_type.c - zenoo_retry._core.BreakerCall: a sync function wrapped by a circuit
 * breaker (what `@breaker` returns for a plain function).
 *
 * Calling it is one vectorcall: admission in C (zr_cb_acquire), the user's call through its
 * own vectorcall entry, the outcome in C (zr_cb_release). No Python frame, no allocation on
 * the success path. Binds as a method (__get__) and carries functools metadata in __dict__.
 */
#include "zr_module.h"

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    vectorcallfunc func_vectorcall; /* func's own entry, or NULL */
    PyObject *func;
    zr_CircuitBreakerObject *breaker;
    int is_async;                   /* func returns a coroutine: wrap it in a BreakerAwaitable */
    PyObject *dict;
    PyObject *weakreflist;
} zr_BreakerCallObject;

/* Any call the closed-state path below does not take: the general permit protocol. */
static ZR_NOINLINE PyObject *call_general(zr_BreakerCallObject *self, PyObject *const *args,
                                         size_t nargsf, PyObject *kwnames)
{
    zr_breaker_permit permit;
    if (ZR_UNLIKELY(zr_cb_acquire_inline(self->breaker, &permit) < 0)) return NULL;
    /* the caller holds `self`, which holds func and breaker for the whole call */
    vectorcallfunc vc = self->func_vectorcall;
    PyObject *res = vc ? vc(self->func, args, nargsf, kwnames)
                       : PyObject_Vectorcall(self->func, args, nargsf, kwnames);
    if (ZR_LIKELY(res != NULL)) {
        zr_cb_release_success_inline(self->breaker, &permit);
        return res;
    }
    PyObject *exc = zr_fetch_exception();
    zr_cb_release(self->breaker, &permit, exc);
    zr_restore_exception(exc);
    return NULL;
}

/* The outcome of a call admitted by zr_cb_closed_admit when it failed, or when the state
 * moved on during it: the general release with that closed epoch's permit. */
static ZR_NOINLINE PyObject *call_closed_finish(zr_CircuitBreakerObject *cb, uint64_t epoch,
                                               PyObject *res)
{
    zr_breaker_permit permit = zr_cb_closed_permit(epoch);
    if (res != NULL) {
        zr_cb_release(cb, &permit, NULL);
        return res;
    }
    PyObject *exc = zr_fetch_exception();
    zr_cb_release(cb, &permit, exc);
    zr_restore_exception(exc);
    return NULL;
}

ZR_HOT static PyObject *BreakerCall_vectorcall(PyObject *callable, PyObject *const *args,
                                        size_t nargsf, PyObject *kwnames)
{
    zr_BreakerCallObject *self = (zr_BreakerCallObject *)callable;
    zr_CircuitBreakerObject *cb = self->breaker;
    uint64_t epoch;
    if (ZR_LIKELY(zr_cb_closed_admit(cb, &epoch))) {
        /* closed plain breaker: count the call, run it, count the success; no permit */
        PyObject *res = self->func_vectorcall(self->func, args, nargsf, kwnames);
        if (ZR_LIKELY(res != NULL && zr_cb_closed_success(cb, epoch))) return res;
        return call_closed_finish(cb, epoch, res);
    }
    return call_general(self, args, nargsf, kwnames);
}

/* A function without a vectorcall entry of its own: always the general protocol. */
static PyObject *BreakerCall_vectorcall_plain(PyObject *callable, PyObject *const *args,
                                              size_t nargsf, PyObject *kwnames)
{
    return call_general((zr_BreakerCallObject *)callable, args, nargsf, kwnames);
}

/* async def: create the coroutine (no user code runs yet) and wrap it; the breaker is asked
 * when the awaitable first runs. */
static PyObject *BreakerCall_vectorcall_async(PyObject *callable, PyObject *const *args,
                                              size_t nargsf, PyObject *kwnames)
{
    zr_BreakerCallObject *self = (zr_BreakerCallObject *)callable;
    vectorcallfunc vc = self->func_vectorcall;
    PyObject *coro = vc ? vc(self->func, args, nargsf, kwnames)
                        : PyObject_Vectorcall(self->func, args, nargsf, kwnames);
    if (coro == NULL) return NULL;
    PyObject *aw = zr_breaker_awaitable_new(self->breaker, coro);
    Py_DECREF(coro);
    return aw;
}

static int BreakerCall_init(PyObject *op, PyObject *args, PyObject *kwds)
{
    zr_BreakerCallObject *self = (zr_BreakerCallObject *)op;
    PyObject *func, *breaker, *is_async = Py_False;
    if (kwds != NULL && PyDict_GET_SIZE(kwds) != 0) {
        PyErr_SetString(PyExc_TypeError, "BreakerCall() takes no keyword arguments");
        return -1;
    }
    if (!PyArg_UnpackTuple(args, "BreakerCall", 2, 3, &func, &breaker, &is_async)) return -1;
    int async_mode = PyObject_IsTrue(is_async);
    if (async_mode < 0) return -1;
    zr_module_state *st = zr_state_from_type(Py_TYPE(op));
    if (st == NULL) return -1;
    if (!PyCallable_Check(func)) {
        PyErr_Format(PyExc_TypeError, "func must be callable, got %R", func);
        return -1;
    }
    if (!PyObject_TypeCheck(breaker, st->CircuitBreaker_Type) ||
        ((zr_CircuitBreakerObject *)breaker)->state == NULL) {
        PyErr_Format(PyExc_TypeError, "breaker must be an initialised CircuitBreaker, got %R",
                     breaker);
        return -1;
    }
    if (self->func != NULL) {
        PyErr_SetString(PyExc_TypeError, "BreakerCall is immutable once initialised");
        return -1;
    }
    self->func = Py_NewRef(func);
    self->breaker = (zr_CircuitBreakerObject *)Py_NewRef(breaker);
    self->func_vectorcall = PyVectorcall_Function(func);
    self->is_async = async_mode;
    self->vectorcall = async_mode                       ? BreakerCall_vectorcall_async
                       : self->func_vectorcall != NULL ? BreakerCall_vectorcall
                                                       : BreakerCall_vectorcall_plain;
    return 0;
}

static PyObject *BreakerCall_descr_get(PyObject *self, PyObject *obj, PyObject *type)
{
    (void)type;
    if (obj == NULL || obj == Py_None) return Py_NewRef(self);
    return PyMethod_New(self, obj);
}

static int BreakerCall_traverse(PyObject *op, visitproc visit, void *arg)
{
    zr_BreakerCallObject *self = (zr_BreakerCallObject *)op;
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(self->func);
    Py_VISIT(self->breaker);
    Py_VISIT(self->dict);
    return 0;
}

static int BreakerCall_clear(PyObject *op)
{
    zr_BreakerCallObject *self = (zr_BreakerCallObject *)op;
    Py_CLEAR(self->func);
    Py_CLEAR(self->breaker);
    Py_CLEAR(self->dict);
    return 0;
}

static void BreakerCall_dealloc(PyObject *op)
{
    zr_BreakerCallObject *self = (zr_BreakerCallObject *)op;
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    if (self->weakreflist != NULL) PyObject_ClearWeakRefs(op);
    (void)BreakerCall_clear(op);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyObject *BreakerCall_repr(PyObject *op)
{
    zr_BreakerCallObject *self = (zr_BreakerCallObject *)op;
    return PyUnicode_FromFormat("<breaker-wrapped %R>", self->func ? self->func : Py_None);
}

static PyObject *get_func(PyObject *op, void *c)
{
    (void)c;
    zr_BreakerCallObject *self = (zr_BreakerCallObject *)op;
    return Py_NewRef(self->func ? self->func : Py_None);
}

static PyObject *get_breaker(PyObject *op, void *c)
{
    (void)c;
    zr_BreakerCallObject *self = (zr_BreakerCallObject *)op;
    return Py_NewRef(self->breaker ? (PyObject *)self->breaker : Py_None);
}

static PyMemberDef BreakerCall_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(zr_BreakerCallObject, vectorcall), READONLY,
     NULL},
    {"__dictoffset__", T_PYSSIZET, offsetof(zr_BreakerCallObject, dict), READONLY, NULL},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(zr_BreakerCallObject, weakreflist), READONLY,
     NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef BreakerCall_getset[] = {
    {"func", get_func, NULL, "The wrapped callable.", NULL},
    {"breaker", get_breaker, NULL, "The circuit breaker.", NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot BreakerCall_slots[] = {
    {Py_tp_doc, "BreakerCall(func, breaker, is_async=False)\n\nfunc run through a circuit "
                "breaker, in C (async: each call returns an awaitable). Made by applying a "
                "CircuitBreaker as a decorator."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, BreakerCall_init},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_descr_get, BreakerCall_descr_get},
    {Py_tp_repr, BreakerCall_repr},
    {Py_tp_dealloc, BreakerCall_dealloc},
    {Py_tp_traverse, BreakerCall_traverse},
    {Py_tp_clear, BreakerCall_clear},
    {Py_tp_members, BreakerCall_members},
    {Py_tp_getset, BreakerCall_getset},
    {0, NULL},
};

PyType_Spec zr_breaker_call_spec = {
    .name = "zenoo_retry._core.BreakerCall",
    .basicsize = sizeof(zr_BreakerCallObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
             Py_TPFLAGS_METHOD_DESCRIPTOR,
    .slots = BreakerCall_slots,
};
