/*
 * awaitable_return_type.c - zenoo_retry._core.AwaitableReturn: the StopIteration a C
 * awaitable (RetryAwaitable, BreakerAwaitable) raises from __next__ to return a value.
 *
 * From CPython 3.12 on, `await` drives any awaitable that is not a native coroutine through
 * tp_iternext, so every successful `await` of one of our awaitables ends with a
 * StopIteration carrying the result, which the interpreter reads and drops at once.
 * Building a fresh StopIteration costs more than the rest of the call; this subclass keeps
 * a small freelist instead, so raising one is a few stores. It is a StopIteration to every
 * reader (`except StopIteration`, `.value`); only its `.args` is () rather than (value,),
 * which spares a tuple per call (the interpreter reads `.value` only).
 */
#include "zr_module.h"

#define ZR_RETURN_FREELIST ((int)(sizeof(((zr_module_state *)0)->return_freelist) / \
                                  sizeof(PyObject *)))

void zr_raise_return(zr_module_state *st, PyObject *value)
{
    PyObject *args = PyTuple_New(0); /* the shared empty tuple */
    if (args == NULL) {
        Py_DECREF(value);
        return;
    }
    PyTypeObject *tp = st->AwaitableReturn_Type;
    PyStopIterationObject *e;
    if (st->return_free > 0) { /* recycled: untracked, every field NULL (dealloc cleared it) */
        e = (PyStopIterationObject *)st->return_freelist[--st->return_free];
        (void)PyObject_Init((PyObject *)e, tp);
    }
    else if ((e = PyObject_GC_New(PyStopIterationObject, tp)) == NULL) {
        Py_DECREF(args);
        Py_DECREF(value);
        return;
    }
    e->dict = NULL;
    e->args = args;
#if PY_VERSION_HEX >= 0x030B0000
    e->notes = NULL;
#endif
    e->traceback = NULL;
    e->context = NULL;
    e->cause = NULL;
    e->suppress_context = 0;
    e->value = value;
    PyObject_GC_Track(e);
    zr_restore_exception((PyObject *)e); /* as is: no implicit chaining, nothing to chain */
}

/* GC: a heap type's instances visit their type, then StopIteration's own fields. */
static int AwaitableReturn_traverse(PyObject *op, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(op));
    return ((PyTypeObject *)PyExc_StopIteration)->tp_traverse(op, visit, arg);
}

static int AwaitableReturn_clear(PyObject *op)
{
    return ((PyTypeObject *)PyExc_StopIteration)->tp_clear(op);
}

/* Clear every field (StopIteration's tp_clear), then recycle the memory while the module
 * (reached through the type, still referenced here) keeps a free slot. */
static void AwaitableReturn_dealloc(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    (void)AwaitableReturn_clear(op);
    zr_module_state *st = (zr_module_state *)PyType_GetModuleState(tp);
    if (st != NULL && tp == st->AwaitableReturn_Type && st->return_free < ZR_RETURN_FREELIST)
        st->return_freelist[st->return_free++] = op;
    else
        PyObject_GC_Del(op);
    Py_DECREF(tp);
}

void zr_return_freelist_clear(zr_module_state *st)
{
    while (st->return_free > 0) PyObject_GC_Del(st->return_freelist[--st->return_free]);
}

static PyType_Slot AwaitableReturn_slots[] = {
    {Py_tp_doc, "StopIteration raised by a zenoo_retry awaitable's __next__ to return its "
                "value (recycled; otherwise a plain StopIteration)."},
    {Py_tp_dealloc, AwaitableReturn_dealloc},
    {Py_tp_traverse, AwaitableReturn_traverse},
    {Py_tp_clear, AwaitableReturn_clear},
    {0, NULL},
};

PyType_Spec zr_awaitable_return_spec = {
    .name = "zenoo_retry._core.AwaitableReturn",
    .basicsize = sizeof(PyStopIterationObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = AwaitableReturn_slots,
};
