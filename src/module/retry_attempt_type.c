/*
 * retry_attempt_type.c - zenoo_retry._core.RetryAttempt: what hooks and conditions see.
 *
 * Created only on the failure path (never when no hook, condition or event needs one).
 * number is the attempt that just ended (1-based); next_delay the wait before the next
 * one (None when not decided yet, or when there is no next attempt).
 */
#include "zr_module.h"

typedef struct {
    PyObject_HEAD
    PyObject *last_exception; /* or None */
    PyObject *last_result;    /* or None */
    PyObject *next_delay;     /* float or None */
    PyObject *name;           /* operation name */
    unsigned long number;
    unsigned long max_attempts;
    double elapsed;
    double total_delay;
} zr_RetryAttemptObject;

PyObject *zr_spec_attempt_info(zr_RetrySpecObject *spec, zr_call *call, PyObject *exc,
                               PyObject *result, double next_delay)
{
    PyTypeObject *tp = spec->st->RetryAttempt_Type;
    double now = 0.0;
    if (call->has_start && zr_spec_now(spec, &now) < 0) return NULL;
    PyObject *delay = next_delay >= 0.0 ? PyFloat_FromDouble(next_delay) : Py_NewRef(Py_None);
    if (delay == NULL) return NULL;
    zr_RetryAttemptObject *a = (zr_RetryAttemptObject *)tp->tp_alloc(tp, 0);
    if (a == NULL) {
        Py_DECREF(delay);
        return NULL;
    }
    a->last_exception = Py_NewRef(exc ? exc : Py_None);
    a->last_result = Py_NewRef(result ? result : Py_None);
    a->next_delay = delay;
    a->name = Py_NewRef(spec->name);
    a->number = call->attempt;
    a->max_attempts = spec->max_attempts;
    a->elapsed = call->has_start ? now - call->start : 0.0;
    if (a->elapsed < 0.0) a->elapsed = 0.0;
    a->total_delay = call->total_delay;
    return (PyObject *)a;
}

static PyObject *RetryAttempt_repr(zr_RetryAttemptObject *self)
{
    return PyUnicode_FromFormat("RetryAttempt(name=%R, number=%lu, max_attempts=%lu, "
                                "last_exception=%R, next_delay=%R)",
                                self->name, self->number, self->max_attempts,
                                self->last_exception, self->next_delay);
}

static int RetryAttempt_traverse(zr_RetryAttemptObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->last_exception);
    Py_VISIT(self->last_result);
    Py_VISIT(self->next_delay);
    Py_VISIT(self->name);
    return 0;
}

static int RetryAttempt_clear(zr_RetryAttemptObject *self)
{
    Py_CLEAR(self->last_exception);
    Py_CLEAR(self->last_result);
    Py_CLEAR(self->next_delay);
    Py_CLEAR(self->name);
    return 0;
}

static void RetryAttempt_dealloc(zr_RetryAttemptObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    (void)RetryAttempt_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMemberDef RetryAttempt_members[] = {
    {"number", T_ULONG, offsetof(zr_RetryAttemptObject, number), READONLY,
     "The attempt that just ended (1-based)."},
    {"max_attempts", T_ULONG, offsetof(zr_RetryAttemptObject, max_attempts), READONLY,
     "Every call allowed, the first included."},
    {"last_exception", T_OBJECT, offsetof(zr_RetryAttemptObject, last_exception), READONLY,
     "The error of that attempt (None when its result was rejected)."},
    {"last_result", T_OBJECT, offsetof(zr_RetryAttemptObject, last_result), READONLY,
     "The rejected result (None when the attempt raised)."},
    {"next_delay", T_OBJECT, offsetof(zr_RetryAttemptObject, next_delay), READONLY,
     "Seconds before the next attempt, or None."},
    {"elapsed", T_DOUBLE, offsetof(zr_RetryAttemptObject, elapsed), READONLY,
     "Seconds since the call started (0 when no clock was needed)."},
    {"total_delay", T_DOUBLE, offsetof(zr_RetryAttemptObject, total_delay), READONLY,
     "Seconds waited so far in this call."},
    {"name", T_OBJECT, offsetof(zr_RetryAttemptObject, name), READONLY, "Operation name."},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot RetryAttempt_slots[] = {
    {Py_tp_doc, "What retry hooks and conditions receive about the attempt that ended."},
    {Py_tp_repr, RetryAttempt_repr},
    {Py_tp_dealloc, RetryAttempt_dealloc},
    {Py_tp_traverse, RetryAttempt_traverse},
    {Py_tp_clear, RetryAttempt_clear},
    {Py_tp_members, RetryAttempt_members},
    {0, NULL},
};

PyType_Spec zr_retry_attempt_spec = {
    .name = "zenoo_retry._core.RetryAttempt",
    .basicsize = sizeof(zr_RetryAttemptObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
#if PY_VERSION_HEX >= 0x030A0000
             | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
    ,
    .slots = RetryAttempt_slots,
};
