/*
 * async_retrying_type.c - zenoo_retry._core.AsyncRetrying: an async function wrapped
 * with a retry policy. Calling it (vectorcall) returns a RetryAwaitable that runs the
 * retry loop in C while driving the user's coroutines (retry_awaitable_type.c).
 */
#include "zr_module.h"

static int AsyncRetrying_init(zr_RetryingObject *self, PyObject *args, PyObject *kwds)
{
    if (zr_retrying_init_fields(self, args, kwds, "AsyncRetrying") < 0) return -1;
    self->vectorcall = zr_retry_awaitable_new; /* calls make awaitables directly */
    return 0;
}

static PyObject *AsyncRetrying_repr(zr_RetryingObject *self)
{
    return PyUnicode_FromFormat("<async retrying %R>", self->func ? self->func : Py_None);
}

static PyType_Slot AsyncRetrying_slots[] = {
    {Py_tp_doc, "AsyncRetrying(func, spec)\n\nAn async callable wrapped with a compiled retry "
                "policy; each call returns an awaitable running the retry loop in C. Made by "
                "zenoo_retry.async_retry()."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, AsyncRetrying_init},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_descr_get, zr_retrying_descr_get},
    {Py_tp_repr, AsyncRetrying_repr},
    {Py_tp_dealloc, zr_retrying_dealloc},
    {Py_tp_traverse, zr_retrying_traverse},
    {Py_tp_clear, zr_retrying_clear},
    {Py_tp_members, zr_retrying_members},
    {Py_tp_getset, zr_retrying_getset},
    {0, NULL},
};

PyType_Spec zr_async_retrying_spec = {
    .name = "zenoo_retry._core.AsyncRetrying",
    .basicsize = sizeof(zr_RetryingObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
             Py_TPFLAGS_METHOD_DESCRIPTOR,
    .slots = AsyncRetrying_slots,
};
