/*
 * metrics_type.c - zenoo_retry._core.OperationMetrics: the retry counters of one
 * operation (a zr_metrics kept in C) plus its per-error-type counts.
 *
 * A RetrySpec built with metrics=<OperationMetrics> bumps the counters directly from the
 * retry loops (observe.c); reading them (snapshot) is a copy of a few hundred bytes.
 * zenoo_retry.metrics.RetryMetrics keeps one OperationMetrics per operation name and sums
 * them with _core.metrics_snapshot.
 */
#include "zr_module.h"

static int MetricsObject_init(zr_MetricsObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"name", "operation_type", "tags", NULL};
    PyObject *name = NULL, *op_type = Py_None, *tags = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|U$OO:OperationMetrics", kwlist, &name,
                                     &op_type, &tags))
        return -1;
    if (self->errors != NULL) {
        PyErr_SetString(PyExc_TypeError, "OperationMetrics is immutable once initialised");
        return -1;
    }
    if (op_type != Py_None && !PyUnicode_Check(op_type)) {
        PyErr_Format(PyExc_TypeError, "operation_type must be a str or None, got %R", op_type);
        return -1;
    }
    PyObject *t = PyDict_New();
    if (t == NULL) return -1;
    if (tags != Py_None) {
        if (!PyDict_Check(tags)) {
            PyErr_Format(PyExc_TypeError, "tags must be a dict of str to str, got %R", tags);
            Py_DECREF(t);
            return -1;
        }
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        while (PyDict_Next(tags, &pos, &k, &v)) {
            if (!PyUnicode_Check(k) || !PyUnicode_Check(v)) {
                PyErr_Format(PyExc_TypeError, "tags must be a dict of str to str, got %R", tags);
                Py_DECREF(t);
                return -1;
            }
            if (PyDict_SetItem(t, k, v) < 0) {
                Py_DECREF(t);
                return -1;
            }
        }
    }
    self->errors = PyDict_New();
    if (self->errors == NULL) {
        Py_DECREF(t);
        return -1;
    }
    self->tags = t;
    self->name = name ? Py_NewRef(name) : PyUnicode_FromString("");
    if (self->name == NULL) return -1;
    self->operation_type = Py_NewRef(op_type);
    zr_metrics_reset(&self->m);
    return 0;
}

/* out[key] += n for a dict of str/int keys to ints. 0 or -1. */
static int dict_add(PyObject *out, PyObject *key, PyObject *n)
{
    PyObject *cur = PyDict_GetItemWithError(out, key);
    if (cur == NULL) {
        if (PyErr_Occurred()) return -1;
        return PyDict_SetItem(out, key, n);
    }
    PyObject *sum = PyNumber_Add(cur, n);
    if (sum == NULL) return -1;
    int rc = PyDict_SetItem(out, key, sum);
    Py_DECREF(sum);
    return rc;
}

/* Add the per-error-type counts of `mo` into `out`, keyed by the class's __qualname__. */
static int merge_errors(PyObject *out, zr_MetricsObject *mo)
{
    PyObject *k, *v;
    PyObject *items = PyDict_Items(mo->errors); /* a copy: names may run Python code */
    if (items == NULL) return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *pair = PyList_GET_ITEM(items, i);
        k = PyTuple_GET_ITEM(pair, 0);
        v = PyTuple_GET_ITEM(pair, 1);
        PyObject *name = PyObject_GetAttrString(k, "__qualname__");
        if (name == NULL || dict_add(out, name, v) < 0) {
            Py_XDECREF(name);
            Py_DECREF(items);
            return -1;
        }
        Py_DECREF(name);
    }
    Py_DECREF(items);
    return 0;
}

static int set_u64(PyObject *d, const char *key, uint64_t v)
{
    PyObject *o = PyLong_FromUnsignedLongLong(v);
    if (o == NULL) return -1;
    int rc = PyDict_SetItemString(d, key, o);
    Py_DECREF(o);
    return rc;
}

static int set_double(PyObject *d, const char *key, double v)
{
    PyObject *o = PyFloat_FromDouble(v);
    if (o == NULL) return -1;
    int rc = PyDict_SetItemString(d, key, o);
    Py_DECREF(o);
    return rc;
}

/* {n: count} for the non-zero slots of a per-attempt array. */
static PyObject *per_attempt(const uint64_t *slots)
{
    PyObject *d = PyDict_New();
    if (d == NULL) return NULL;
    for (unsigned i = 0; i <= ZR_METRICS_MAX_ATTEMPT; i++) {
        if (slots[i] == 0) continue;
        PyObject *k = PyLong_FromUnsignedLong(i);
        PyObject *v = k ? PyLong_FromUnsignedLongLong(slots[i]) : NULL;
        int rc = v ? PyDict_SetItem(d, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

/* [(upper_bound, count), ...] with +inf last; counts are per bucket (not cumulative). */
static PyObject *buckets(const zr_metrics *m)
{
    PyObject *l = PyList_New(ZR_METRICS_DELAY_BOUNDS + 1);
    if (l == NULL) return NULL;
    for (unsigned i = 0; i <= ZR_METRICS_DELAY_BOUNDS; i++) {
        double bound = HUGE_VAL;
        if (i < ZR_METRICS_DELAY_BOUNDS) (void)zr_metrics_delay_bound(i, &bound);
        PyObject *t = Py_BuildValue("(dK)", bound, (unsigned long long)m->delay_buckets[i]);
        if (t == NULL) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, i, t);
    }
    return l;
}

static int set_obj(PyObject *d, const char *key, PyObject *v)
{
    if (v == NULL) return -1;
    int rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc;
}

/* The snapshot dict of counters `m` with merged per-error-type counts `errors` (stolen). */
static PyObject *snapshot_dict(const zr_metrics *m, PyObject *errors)
{
    zr_metrics_summary s;
    zr_metrics_summarize(m, &s);
    PyObject *d = PyDict_New();
    if (d == NULL) {
        Py_DECREF(errors);
        return NULL;
    }
    if (set_u64(d, "operations", m->operations) < 0 || set_u64(d, "attempts", m->attempts) < 0 ||
        set_u64(d, "successes", m->successes) < 0 || set_u64(d, "failures", m->failures) < 0 ||
        set_u64(d, "give_ups", m->give_ups) < 0 || set_u64(d, "cancelled", m->cancelled) < 0 ||
        set_u64(d, "retries", m->retries) < 0 || set_u64(d, "dead_letters", m->dead_letters) < 0 ||
        set_u64(d, "not_retryable", m->give_up_reasons[ZR_GIVE_UP_NOT_RETRYABLE]) < 0 ||
        set_u64(d, "exhausted", m->give_up_reasons[ZR_GIVE_UP_EXHAUSTED]) < 0 ||
        set_u64(d, "timeouts", m->give_up_reasons[ZR_GIVE_UP_TIMEOUT]) < 0 ||
        set_u64(d, "budget_rejections", m->give_up_reasons[ZR_GIVE_UP_BUDGET]) < 0 ||
        set_u64(d, "breaker_rejections", m->give_up_reasons[ZR_GIVE_UP_BREAKER]) < 0 ||
        set_u64(d, "finished", s.finished) < 0 || set_double(d, "total_delay", m->total_delay) < 0 ||
        set_double(d, "max_delay", m->max_delay) < 0 ||
        set_double(d, "success_rate", s.success_rate) < 0 ||
        set_double(d, "failure_rate", s.failure_rate) < 0 ||
        set_double(d, "average_retries", s.average_retries) < 0 ||
        set_double(d, "average_delay", s.average_delay) < 0 ||
        set_double(d, "average_attempts", s.average_attempts) < 0 ||
        set_obj(d, "delay_buckets", buckets(m)) < 0 ||
        set_obj(d, "attempts_histogram", per_attempt(m->finished_at)) < 0 ||
        set_obj(d, "failures_by_attempt", per_attempt(m->failures_at)) < 0 ||
        set_obj(d, "errors", errors) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

/* _core.metrics_snapshot(iterable of OperationMetrics) -> dict: the sum of their counters. */
PyObject *zr_metrics_snapshot(PyObject *module, PyObject *iterable)
{
    zr_module_state *st = (zr_module_state *)PyModule_GetState(module);
    PyObject *seq = PySequence_Fast(iterable, "metrics_snapshot() needs an iterable");
    if (seq == NULL) return NULL;
    zr_metrics total;
    zr_metrics_reset(&total);
    PyObject *errors = PyDict_New();
    if (errors == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyObject_TypeCheck(item, st->OperationMetrics_Type) ||
            ((zr_MetricsObject *)item)->errors == NULL) {
            PyErr_Format(PyExc_TypeError, "metrics_snapshot() needs OperationMetrics, got %R",
                         item);
            goto error;
        }
        zr_MetricsObject *mo = (zr_MetricsObject *)item;
        zr_metrics copy = mo->m; /* merge_errors may run Python code */
        if (merge_errors(errors, mo) < 0) goto error;
        zr_metrics_add(&total, &copy);
    }
    Py_DECREF(seq);
    return snapshot_dict(&total, errors);
error:
    Py_DECREF(seq);
    Py_DECREF(errors);
    return NULL;
}

static int check_ready(zr_MetricsObject *self)
{
    if (self->errors != NULL) return 0;
    PyErr_SetString(PyExc_TypeError, "OperationMetrics is not initialised");
    return -1;
}

static PyObject *Metrics_snapshot(zr_MetricsObject *self, PyObject *noargs)
{
    (void)noargs;
    if (check_ready(self) < 0) return NULL;
    PyObject *errors = PyDict_New();
    if (errors == NULL) return NULL;
    zr_metrics copy = self->m;
    if (merge_errors(errors, self) < 0) {
        Py_DECREF(errors);
        return NULL;
    }
    return snapshot_dict(&copy, errors);
}

static PyObject *Metrics_reset(zr_MetricsObject *self, PyObject *noargs)
{
    (void)noargs;
    if (check_ready(self) < 0) return NULL;
    zr_metrics_reset(&self->m);
    PyDict_Clear(self->errors);
    Py_RETURN_NONE;
}

static PyObject *Metrics_record_dead_letter(zr_MetricsObject *self, PyObject *noargs)
{
    (void)noargs;
    if (check_ready(self) < 0) return NULL;
    zr_metrics_dead_letter(&self->m);
    Py_RETURN_NONE;
}

/* merge(other): add other's counters and per-error-type counts into self. */
static PyObject *Metrics_merge(zr_MetricsObject *self, PyObject *arg)
{
    if (check_ready(self) < 0) return NULL;
    zr_module_state *st = zr_state_from_type(Py_TYPE(self));
    if (st == NULL) return NULL;
    if (!PyObject_TypeCheck(arg, st->OperationMetrics_Type) ||
        ((zr_MetricsObject *)arg)->errors == NULL) {
        PyErr_Format(PyExc_TypeError, "merge() needs an OperationMetrics, got %R", arg);
        return NULL;
    }
    zr_MetricsObject *other = (zr_MetricsObject *)arg;
    if (other == self) {
        PyErr_SetString(PyExc_ValueError, "cannot merge OperationMetrics into itself");
        return NULL;
    }
    PyObject *items = PyDict_Items(other->errors);
    if (items == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *pair = PyList_GET_ITEM(items, i);
        if (dict_add(self->errors, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1)) < 0) {
            Py_DECREF(items);
            return NULL;
        }
    }
    Py_DECREF(items);
    zr_metrics_add(&self->m, &other->m);
    Py_RETURN_NONE;
}

static PyObject *Metrics_error_types(zr_MetricsObject *self, PyObject *noargs)
{
    (void)noargs;
    if (check_ready(self) < 0) return NULL;
    return PyDict_Copy(self->errors);
}

#define U64_GETTER(field)                                                                     \
    static PyObject *get_##field(zr_MetricsObject *self, void *c)                            \
    {                                                                                         \
        (void)c;                                                                              \
        return PyLong_FromUnsignedLongLong(self->m.field);                                    \
    }
U64_GETTER(operations)
U64_GETTER(attempts)
U64_GETTER(successes)
U64_GETTER(failures)
U64_GETTER(give_ups)
U64_GETTER(cancelled)
U64_GETTER(retries)
U64_GETTER(dead_letters)

static PyObject *get_total_delay(zr_MetricsObject *self, void *c)
{
    (void)c;
    return PyFloat_FromDouble(self->m.total_delay);
}

static PyObject *get_name(zr_MetricsObject *self, void *c)
{
    (void)c;
    return Py_NewRef(self->name ? self->name : Py_None);
}

static PyObject *get_operation_type(zr_MetricsObject *self, void *c)
{
    (void)c;
    return Py_NewRef(self->operation_type ? self->operation_type : Py_None);
}

static PyObject *get_tags(zr_MetricsObject *self, void *c)
{
    (void)c;
    return self->tags ? PyDict_Copy(self->tags) : PyDict_New();
}

static PyGetSetDef Metrics_getset[] = {
    {"name", (getter)get_name, NULL, "Operation name.", NULL},
    {"operation_type", (getter)get_operation_type, NULL, "Operation type (seed 002).", NULL},
    {"tags", (getter)get_tags, NULL, "Tags (a copy).", NULL},
    {"operations", (getter)get_operations, NULL, "Calls started.", NULL},
    {"attempts", (getter)get_attempts, NULL, "Attempts run.", NULL},
    {"successes", (getter)get_successes, NULL, "Calls that returned a value.", NULL},
    {"failures", (getter)get_failures, NULL, "Failed attempts.", NULL},
    {"give_ups", (getter)get_give_ups, NULL, "Calls that ended with an error.", NULL},
    {"cancelled", (getter)get_cancelled, NULL, "Calls cancelled or interrupted.", NULL},
    {"retries", (getter)get_retries, NULL, "Retries scheduled.", NULL},
    {"dead_letters", (getter)get_dead_letters, NULL, "Calls sent to a dead-letter handler.",
     NULL},
    {"total_delay", (getter)get_total_delay, NULL, "Seconds of backoff scheduled.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Metrics_methods[] = {
    {"snapshot", (PyCFunction)Metrics_snapshot, METH_NOARGS,
     "snapshot() -> dict of every counter and the rates derived from them."},
    {"reset", (PyCFunction)Metrics_reset, METH_NOARGS, "reset(): zero every counter."},
    {"record_dead_letter", (PyCFunction)Metrics_record_dead_letter, METH_NOARGS,
     "record_dead_letter(): count a failed call handed to a dead-letter handler."},
    {"merge", (PyCFunction)Metrics_merge, METH_O,
     "merge(other): add another OperationMetrics' counters into this one."},
    {"error_types", (PyCFunction)Metrics_error_types, METH_NOARGS,
     "error_types() -> {exception class: failed attempts}."},
    {NULL, NULL, 0, NULL},
};

static int Metrics_traverse(zr_MetricsObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->errors);
    Py_VISIT(self->name);
    Py_VISIT(self->operation_type);
    Py_VISIT(self->tags);
    return 0;
}

static int Metrics_clear(zr_MetricsObject *self)
{
    Py_CLEAR(self->errors);
    Py_CLEAR(self->name);
    Py_CLEAR(self->operation_type);
    Py_CLEAR(self->tags);
    return 0;
}

static void Metrics_dealloc(zr_MetricsObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) PyObject_ClearWeakRefs((PyObject *)self);
    (void)Metrics_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *Metrics_repr(zr_MetricsObject *self)
{
    return PyUnicode_FromFormat("OperationMetrics(name=%R, operations=%llu, attempts=%llu, "
                                "successes=%llu, give_ups=%llu)",
                                self->name ? self->name : Py_None,
                                (unsigned long long)self->m.operations,
                                (unsigned long long)self->m.attempts,
                                (unsigned long long)self->m.successes,
                                (unsigned long long)self->m.give_ups);
}

static PyMemberDef Metrics_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(zr_MetricsObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot Metrics_slots[] = {
    {Py_tp_doc, "OperationMetrics(name='', *, operation_type=None, tags=None)\n\n"
                "Retry counters of one operation, kept in C and bumped by the retry loops. "
                "Usually made by zenoo_retry.metrics.RetryMetrics.operation()."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, MetricsObject_init},
    {Py_tp_repr, Metrics_repr},
    {Py_tp_dealloc, Metrics_dealloc},
    {Py_tp_traverse, Metrics_traverse},
    {Py_tp_clear, Metrics_clear},
    {Py_tp_methods, Metrics_methods},
    {Py_tp_getset, Metrics_getset},
    {Py_tp_members, Metrics_members},
    {0, NULL},
};

PyType_Spec zr_operation_metrics_spec = {
    .name = "zenoo_retry._core.OperationMetrics",
    .basicsize = sizeof(zr_MetricsObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .slots = Metrics_slots,
};

/* _set_log_hook(fn or None): zenoo_retry.logs installs the callable(kind, info, error)
 * told of failure-side events of every retry loop. Returns the previous hook. */
static PyObject *zr_set_log_hook(PyObject *module, PyObject *fn)
{
    if (fn != Py_None && !PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError, "log hook must be callable or None, got %R", fn);
        return NULL;
    }
    zr_module_state *st = (zr_module_state *)PyModule_GetState(module);
    PyObject *prev = st->log_hook ? st->log_hook : Py_NewRef(Py_None);
    st->log_hook = fn == Py_None ? NULL : Py_NewRef(fn);
    return prev;
}

/* _metrics_delay_bounds() -> tuple of the histogram's finite upper bounds (seconds). */
static PyObject *zr_metrics_delay_bounds(PyObject *module, PyObject *noargs)
{
    (void)module;
    (void)noargs;
    PyObject *t = PyTuple_New(ZR_METRICS_DELAY_BOUNDS);
    if (t == NULL) return NULL;
    for (unsigned i = 0; i < ZR_METRICS_DELAY_BOUNDS; i++) {
        double b = 0.0;
        (void)zr_metrics_delay_bound(i, &b);
        PyObject *f = PyFloat_FromDouble(b);
        if (f == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, f);
    }
    return t;
}

PyMethodDef zr_observability_functions[] = {
    {"metrics_snapshot", (PyCFunction)zr_metrics_snapshot, METH_O,
     "metrics_snapshot(iterable of OperationMetrics) -> dict: their counters summed."},
    {"_set_log_hook", (PyCFunction)zr_set_log_hook, METH_O,
     "_set_log_hook(fn or None) -> previous hook (zenoo_retry.logs)."},
    {"_metrics_delay_bounds", (PyCFunction)zr_metrics_delay_bounds, METH_NOARGS,
     "_metrics_delay_bounds() -> the delay histogram's finite upper bounds."},
    {NULL, NULL, 0, NULL},
};
