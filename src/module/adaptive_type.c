/*
 * adaptive_type.c - zenoo_retry._core.AdaptiveBackoff: a Backoff whose delays follow the
 * recent success rate (src/core/zr_adaptive.c has the formula and the outcome window).
 *
 * It is a subtype of Backoff, so it is usable wherever a strategy is: the Backoff part
 * holds max_attempts, base_delay, max_delay, the jitter kind and the seedable generator;
 * this part adds the immutable zr_adaptive_config and a pointer to the zr_adaptive_state
 * (today `local`, inside the object; a shared-memory segment in issue 5). Every access to
 * *state goes through adaptive_lock / adaptive_unlock.
 *
 * Retry-engine protocol: _zr_record(success) after each attempt and get_delay(attempt,
 * previous). RetrySpec recognises this type (zr_adaptive_fast_ok) and calls
 * zr_adaptive_object_record / zr_adaptive_object_delay directly.
 */
#include "zr_module.h"

#include "../core/zr_adaptive.h"
#include "../core/zr_shared_state.h"

typedef struct {
    zr_BackoffObject base;
    zr_adaptive_config acfg;   /* immutable once initialised */
    zr_adaptive_state *state;  /* &local now; a shared-memory segment later (issue 5) */
    zr_adaptive_state local;
    zr_shared *shm;            /* segment holding *state (shared=name, issue 5), or NULL */
} zr_AdaptiveObject;

/* ---- the one lock/unlock pair -------------------------------------------------------- */

/* Take exclusive access to *self->state (and the generator). A private state needs
 * nothing: the GIL serialises callers and nothing between the pair calls into Python or
 * releases the GIL. A state in a shared segment (shared="name") takes the segment's
 * robust mutex, which repairs the state if the previous holder died. 0, or -1 with an
 * exception set. */
static int adaptive_lock(zr_AdaptiveObject *self)
{
    if (ZR_LIKELY(self->shm == NULL)) return 0;
    return zr_shared_lock_obj((PyObject *)self, self->shm);
}

/* Release what adaptive_lock took. */
static void adaptive_unlock(zr_AdaptiveObject *self)
{
    if (ZR_UNLIKELY(self->shm != NULL)) zr_shared_unlock(self->shm);
}

/* Turn a failed engine status into a Python exception; returns -1. */
static int status_error(zr_status rc)
{
    PyErr_Format(PyExc_RuntimeError, "adaptive strategy state is unusable (%s)",
                 zr_status_str(rc));
    return -1;
}

/* ---- C entry points (RetrySpec fast path) ------------------------------------------- */

int zr_adaptive_object_record(PyObject *obj, int success)
{
    zr_AdaptiveObject *self = (zr_AdaptiveObject *)obj;
    if (adaptive_lock(self) < 0) return -1;
    zr_status rc = zr_adaptive_record(&self->acfg, self->state, success);
    adaptive_unlock(self);
    return rc == ZR_OK ? 0 : status_error(rc);
}

int zr_adaptive_object_delay(PyObject *obj, uint64_t attempt, double prev, double *out)
{
    zr_AdaptiveObject *self = (zr_AdaptiveObject *)obj;
    if (attempt == 0) {
        PyErr_SetString(PyExc_ValueError, "attempt must be >= 1, got 0");
        return -1;
    }
    if (adaptive_lock(self) < 0) return -1;
    zr_status rc = zr_adaptive_delay(&self->acfg, self->state, &self->base.cfg, &self->base.rng,
                                     attempt, prev, out);
    adaptive_unlock(self);
    return rc == ZR_OK ? 0 : status_error(rc);
}

/* 1 if `obj`'s attribute `name` is the one `base` defines, 0 if overridden, -1 on error. */
static int same_attr(PyObject *obj, PyTypeObject *base, const char *name)
{
    PyObject *mine = PyObject_GetAttrString((PyObject *)Py_TYPE(obj), name);
    if (mine == NULL) return -1;
    PyObject *theirs = PyObject_GetAttrString((PyObject *)base, name);
    int same = theirs != NULL && mine == theirs;
    Py_DECREF(mine);
    Py_XDECREF(theirs);
    return PyErr_Occurred() ? -1 : same;
}

int zr_adaptive_fast_ok(zr_module_state *st, PyObject *obj)
{
    if (st->AdaptiveBackoff_Type == NULL || !PyObject_TypeCheck(obj, st->AdaptiveBackoff_Type))
        return 0;
    int a = same_attr(obj, st->AdaptiveBackoff_Type, "get_delay");
    if (a <= 0) return a;
    return same_attr(obj, st->AdaptiveBackoff_Type, "_zr_record");
}

int zr_is_adaptive(zr_module_state *st, PyObject *obj)
{
    return st->AdaptiveBackoff_Type != NULL && PyObject_TypeCheck(obj, st->AdaptiveBackoff_Type);
}

/* ---- construction -------------------------------------------------------------------- */

static PyObject *Adaptive_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    zr_module_state *st = zr_state_from_type(type);
    if (st == NULL) return NULL;
    /* Backoff's constructor: default schedule, OS-seeded generator */
    zr_AdaptiveObject *self = (zr_AdaptiveObject *)st->Backoff_Type->tp_new(type, args, kwds);
    if (self == NULL) return NULL;
    zr_adaptive_config_default(&self->acfg);
    self->state = &self->local;
    self->base.cfg.max_attempts = 5;
    self->base.cfg.jitter = ZR_JITTER_NONE;
    if (zr_adaptive_init(&self->acfg, self->state) != ZR_OK) {
        Py_DECREF(self);
        PyErr_SetString(PyExc_RuntimeError, "could not initialise the adaptive strategy");
        return NULL;
    }
    return (PyObject *)self;
}

#define as_double(name, obj, out) zr_parse_real((name), (obj), 0, (out))

/* An int parameter in [lo, hi]; InvalidConfigurationError names it otherwise. */
static int as_bounded_int(zr_module_state *st, const char *name, PyObject *obj, long long lo,
                          long long hi, const char *requirement, uint32_t *out)
{
    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, got %R", name, obj);
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (overflow || v < lo || v > hi) return zr_config_error_int(st, name, obj, requirement);
    *out = (uint32_t)v;
    return 0;
}

static const char *requirement_for(const char *field)
{
    if (strcmp(field, "success_threshold") == 0) return "must be a number in [0, 1]";
    if (strcmp(field, "jitter_factor") == 0) return "must be a number in [0, 1]";
    if (strcmp(field, "max_attempts") == 0) return "must be an integer in [1, 4294967295]";
    return "must be a finite number >= 0";
}

static int Adaptive_init(zr_AdaptiveObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"max_attempts",      "base_delay",        "max_delay",
                             "success_threshold", "adaptation_window", "min_samples",
                             "jitter",            "jitter_factor",     "seed",
                             "shared",            NULL};
    PyObject *max_attempts = NULL, *base_delay = NULL, *max_delay = NULL, *threshold = NULL,
             *window = NULL, *min_samples = NULL, *jitter = NULL, *jitter_factor = NULL,
             *seed = Py_None, *shared = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOOOOO$OOOO:AdaptiveBackoff", kwlist,
                                     &max_attempts, &base_delay, &max_delay, &threshold,
                                     &window, &min_samples, &jitter, &jitter_factor, &seed,
                                     &shared))
        return -1;
    if (self->shm != NULL) {
        PyErr_SetString(PyExc_TypeError, "a shared AdaptiveBackoff is configured once");
        return -1;
    }
    zr_module_state *st = zr_state_from_type(Py_TYPE(self));
    if (st == NULL) return -1;

    zr_adaptive_config acfg;
    zr_adaptive_config_default(&acfg);
    zr_backoff_config bcfg;
    zr_backoff_config_default(&bcfg);
    bcfg.max_attempts = 5;
    bcfg.jitter = ZR_JITTER_NONE;
    if (max_attempts != NULL &&
        as_bounded_int(st, "max_attempts", max_attempts, 1, (long long)UINT32_MAX,
                       requirement_for("max_attempts"), &bcfg.max_attempts) < 0)
        return -1;
    struct {
        const char *name;
        PyObject *obj;
        double *dst;
    } nums[] = {{"base_delay", base_delay, &acfg.base_delay},
                {"max_delay", max_delay, &acfg.max_delay},
                {"success_threshold", threshold, &acfg.success_threshold},
                {"jitter_factor", jitter_factor, &bcfg.jitter_factor}};
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
        if (nums[i].obj != NULL && as_double(nums[i].name, nums[i].obj, nums[i].dst) < 0)
            return -1;
    if (window != NULL &&
        as_bounded_int(st, "adaptation_window", window, 1, ZR_ADAPTIVE_MAX_WINDOW,
                       "must be an integer in [1, 16384]", &acfg.window) < 0)
        return -1;
    if (min_samples != NULL) {
        if (!PyLong_Check(min_samples) || PyBool_Check(min_samples)) {
            PyErr_Format(PyExc_TypeError, "min_samples must be an int, got %R", min_samples);
            return -1;
        }
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(min_samples, &overflow);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (overflow || v < 0 || v > (long long)acfg.window) {
            PyObject *msg = PyUnicode_FromFormat("must be an integer in [0, adaptation_window=%u]",
                                                 (unsigned)acfg.window);
            if (msg == NULL) return -1;
            const char *req = PyUnicode_AsUTF8(msg);
            int rc = req ? zr_config_error_int(st, "min_samples", min_samples, req) : -1;
            Py_DECREF(msg);
            return rc;
        }
        acfg.min_samples = (uint32_t)v;
    }
    if (jitter != NULL) {
        if (!PyUnicode_Check(jitter)) {
            PyErr_Format(PyExc_TypeError, "jitter must be a str, got %R", jitter);
            return -1;
        }
        const char *s = PyUnicode_AsUTF8(jitter);
        if (s == NULL) return -1;
        if (zr_jitter_from_name(s, &bcfg.jitter) != ZR_OK)
            return zr_config_error_int(st, "jitter", jitter,
                                       "must be one of 'none', 'full', 'equal', 'decorrelated' "
                                       "('decorr'), 'proportional', 'additive'");
    }
    const char *field = NULL;
    if (zr_adaptive_validate(&acfg, &field) != ZR_OK) {
        PyObject *value = Py_None;
        for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
            if (strcmp(nums[i].name, field) == 0 && nums[i].obj != NULL) value = nums[i].obj;
        return zr_config_error_int(st, field, value, requirement_for(field));
    }
    bcfg.schedule = ZR_SCHEDULE_EXPONENTIAL; /* unused: the adaptive formula replaces it */
    bcfg.base_delay = acfg.base_delay;
    bcfg.max_delay = acfg.max_delay;
    bcfg.multiplier = 2.0;
    if (zr_backoff_validate(&bcfg, &field) != ZR_OK) {
        PyObject *value = Py_None;
        for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
            if (strcmp(nums[i].name, field) == 0 && nums[i].obj != NULL) value = nums[i].obj;
        return zr_config_error_int(st, field, value, requirement_for(field));
    }
    if (seed != Py_None) {
        if (!PyLong_Check(seed) || PyBool_Check(seed)) {
            PyErr_Format(PyExc_TypeError, "seed must be an int or None, got %R", seed);
            return -1;
        }
        unsigned long long s = PyLong_AsUnsignedLongLongMask(seed);
        if (s == (unsigned long long)-1 && PyErr_Occurred()) return -1;
        zr_rng_seed(&self->base.rng, (uint64_t)s);
    }
    if (shared != Py_None) { /* issue 5: the window lives in (and may already be) a segment */
        self->base.cfg = bcfg;
        self->acfg = acfg;
        if (zr_shared_new((PyObject *)self, &self->shm, shared, ZR_SHM_KIND_ADAPTIVE,
                          zr_shared_adaptive_fingerprint(&self->acfg), sizeof(zr_adaptive_state),
                          zr_shared_adaptive_init, &self->acfg, zr_shared_adaptive_repair,
                          &self->acfg) < 0)
            return -1;
        self->state = zr_shared_payload(self->shm);
        return 0;
    }
    if (adaptive_lock(self) < 0) return -1;
    self->base.cfg = bcfg;
    self->acfg = acfg;
    zr_status rc = zr_adaptive_init(&self->acfg, self->state);
    adaptive_unlock(self);
    return rc == ZR_OK ? 0 : status_error(rc);
}

/* ---- methods ------------------------------------------------------------------------- */

static PyObject *Adaptive_get_delay(zr_AdaptiveObject *self, PyObject *args, PyObject *kwds)
{
    uint64_t attempt;
    double prev, d;
    if (zr_parse_delay_args(args, kwds, &attempt, &prev) < 0) return NULL;
    if (zr_adaptive_object_delay((PyObject *)self, attempt, prev, &d) < 0) return NULL;
    return PyFloat_FromDouble(d);
}

static PyObject *Adaptive_raw_delay(zr_AdaptiveObject *self, PyObject *attempt_obj)
{
    uint64_t attempt;
    if (zr_parse_attempt(attempt_obj, &attempt) < 0) return NULL;
    if (adaptive_lock(self) < 0) return NULL;
    double d = 0.0;
    zr_status rc = zr_adaptive_raw_delay(&self->acfg, self->state, attempt, &d);
    adaptive_unlock(self);
    if (rc != ZR_OK) return status_error(rc), NULL;
    return PyFloat_FromDouble(d);
}

static PyObject *Adaptive_delays(zr_AdaptiveObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"count", NULL};
    PyObject *count_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:delays", kwlist, &count_obj)) return NULL;
    Py_ssize_t n;
    if (count_obj == Py_None) {
        n = (Py_ssize_t)self->base.cfg.max_attempts - 1;
    }
    else {
        if (!PyLong_Check(count_obj) || PyBool_Check(count_obj)) {
            PyErr_Format(PyExc_TypeError, "count must be an int or None, got %R", count_obj);
            return NULL;
        }
        n = PyLong_AsSsize_t(count_obj);
        if (n == -1 && PyErr_Occurred()) return NULL;
        if (n < 0 || n > 10000000) {
            PyErr_Format(PyExc_ValueError, "count must be in [0, 10000000], got %R", count_obj);
            return NULL;
        }
    }
    PyObject *list = PyList_New(n);
    if (list == NULL) return NULL;
    double prev = -1.0;
    for (Py_ssize_t i = 0; i < n; i++) {
        double d;
        PyObject *f = NULL;
        if (zr_adaptive_object_delay((PyObject *)self, (uint64_t)i + 1, prev, &d) < 0 ||
            (f = PyFloat_FromDouble(d)) == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, f);
        prev = d;
    }
    return list;
}

static PyObject *Adaptive_record(zr_AdaptiveObject *self, PyObject *arg)
{
    int ok = PyObject_IsTrue(arg);
    if (ok < 0) return NULL;
    if (zr_adaptive_object_record((PyObject *)self, ok) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Adaptive_record_success(zr_AdaptiveObject *self, PyObject *noargs)
{
    (void)noargs;
    if (zr_adaptive_object_record((PyObject *)self, 1) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Adaptive_record_failure(zr_AdaptiveObject *self, PyObject *noargs)
{
    (void)noargs;
    if (zr_adaptive_object_record((PyObject *)self, 0) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Adaptive_reset(zr_AdaptiveObject *self, PyObject *noargs)
{
    (void)noargs;
    if (adaptive_lock(self) < 0) return NULL;
    zr_status rc = zr_adaptive_reset(&self->acfg, self->state);
    adaptive_unlock(self);
    if (rc != ZR_OK) return status_error(rc), NULL;
    Py_RETURN_NONE;
}

/* A consistent copy of the numbers stats() and the properties report. */
typedef struct {
    double rate, pressure;
    uint32_t samples, successes;
    uint64_t total_successes, total_failures;
} adaptive_view;

static int take_view(zr_AdaptiveObject *self, adaptive_view *v)
{
    if (adaptive_lock(self) < 0) return -1;
    zr_status rc = zr_adaptive_rate(&self->acfg, self->state, &v->rate, &v->samples);
    if (rc == ZR_OK) rc = zr_adaptive_pressure(&self->acfg, self->state, &v->pressure);
    v->successes = self->state->successes;
    v->total_successes = self->state->total_successes;
    v->total_failures = self->state->total_failures;
    adaptive_unlock(self);
    return rc == ZR_OK ? 0 : status_error(rc);
}

static PyObject *Adaptive_stats(zr_AdaptiveObject *self, PyObject *noargs)
{
    (void)noargs;
    adaptive_view v;
    if (take_view(self, &v) < 0) return NULL;
    return Py_BuildValue("{s:I,s:I,s:d,s:d,s:K,s:K}", "samples", (unsigned)v.samples,
                         "successes", (unsigned)v.successes, "success_rate", v.rate,
                         "pressure", v.pressure, "total_successes",
                         (unsigned long long)v.total_successes, "total_failures",
                         (unsigned long long)v.total_failures);
}

static PyObject *get_success_rate(zr_AdaptiveObject *self, void *c)
{
    (void)c;
    adaptive_view v;
    if (take_view(self, &v) < 0) return NULL;
    return PyFloat_FromDouble(v.rate);
}
static PyObject *get_samples(zr_AdaptiveObject *self, void *c)
{
    (void)c;
    adaptive_view v;
    if (take_view(self, &v) < 0) return NULL;
    return PyLong_FromUnsignedLong(v.samples);
}
static PyObject *get_pressure(zr_AdaptiveObject *self, void *c)
{
    (void)c;
    adaptive_view v;
    if (take_view(self, &v) < 0) return NULL;
    return PyFloat_FromDouble(v.pressure);
}
static PyObject *get_success_threshold(zr_AdaptiveObject *self, void *c)
{
    (void)c;
    return PyFloat_FromDouble(self->acfg.success_threshold);
}
static PyObject *get_adaptation_window(zr_AdaptiveObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(self->acfg.window);
}
static PyObject *get_min_samples(zr_AdaptiveObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(self->acfg.min_samples);
}

static PyObject *get_shared(zr_AdaptiveObject *self, void *c)
{
    (void)c;
    if (self->shm == NULL) Py_RETURN_NONE;
    return PyUnicode_FromString(self->shm->name);
}

/* Close the segment, then the Backoff part's dealloc (issue 5). */
static void Adaptive_dealloc(PyObject *op)
{
    zr_AdaptiveObject *self = (zr_AdaptiveObject *)op;
    zr_shared_free(self->shm);
    self->shm = NULL;
    PyTypeObject *tp = Py_TYPE(op);
    while (tp != NULL && tp->tp_dealloc != Adaptive_dealloc) tp = tp->tp_base;
    tp->tp_base->tp_dealloc(op);
}

static PyGetSetDef Adaptive_getset[] = {
    {"shared", (getter)get_shared, NULL, "The shared-memory segment name, or None.", NULL},
    {"success_threshold", (getter)get_success_threshold, NULL,
     "Success rate at or above which delays stay at base_delay.", NULL},
    {"adaptation_window", (getter)get_adaptation_window, NULL, "Outcomes remembered.", NULL},
    {"min_samples", (getter)get_min_samples, NULL, "Samples needed before adapting.", NULL},
    {"success_rate", (getter)get_success_rate, NULL, "Successes / samples in the window.",
     NULL},
    {"samples", (getter)get_samples, NULL, "Outcomes in the window.", NULL},
    {"pressure", (getter)get_pressure, NULL, "p in [0, 1] of the delay formula.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Adaptive_methods[] = {
    {"get_delay", (PyCFunction)(void (*)(void))Adaptive_get_delay, METH_VARARGS | METH_KEYWORDS,
     "get_delay(attempt, previous=None) -> float\n\nDelay after attempt `attempt` failed, "
     "from the current success rate, with jitter."},
    {"raw_delay", (PyCFunction)Adaptive_raw_delay, METH_O,
     "raw_delay(attempt) -> float\n\nThe adaptive delay without jitter, capped."},
    {"delays", (PyCFunction)(void (*)(void))Adaptive_delays, METH_VARARGS | METH_KEYWORDS,
     "delays(count=None) -> list[float]\n\nPreview the waits of one call at the current "
     "success rate (default: max_attempts - 1 of them)."},
    {"record", (PyCFunction)Adaptive_record, METH_O,
     "record(success)\n\nRemember one attempt's outcome (retry policies do it for you)."},
    {"record_success", (PyCFunction)Adaptive_record_success, METH_NOARGS,
     "record_success()\n\nRemember a successful attempt."},
    {"record_failure", (PyCFunction)Adaptive_record_failure, METH_NOARGS,
     "record_failure()\n\nRemember a failed attempt."},
    {"reset", (PyCFunction)Adaptive_reset, METH_NOARGS, "reset()\n\nForget every outcome."},
    {"stats", (PyCFunction)Adaptive_stats, METH_NOARGS,
     "stats() -> dict\n\nSamples, successes, success_rate, pressure and lifetime totals."},
    {"_zr_record", (PyCFunction)Adaptive_record, METH_O,
     "Retry-engine protocol: an attempt ended (success: bool)."},
    {NULL, NULL, 0, NULL},
};

/* GC: the Backoff part's objects (this part holds none). Dealloc is Backoff's. */
static int Adaptive_traverse(zr_AdaptiveObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->base.custom);
    Py_VISIT(self->base.dict);
    return 0;
}

static int Adaptive_clear(zr_AdaptiveObject *self)
{
    Py_CLEAR(self->base.custom);
    Py_CLEAR(self->base.dict);
    return 0;
}

static PyType_Slot Adaptive_slots[] = {
    {Py_tp_doc, "AdaptiveBackoff(max_attempts=5, base_delay=1.0, max_delay=60.0, "
                "success_threshold=0.8, adaptation_window=100, min_samples=10, *, "
                "jitter='none', jitter_factor=0.3, seed=None, shared=None)\n\n"
                "A Backoff whose delays follow the recent success rate (computed in C). "
                "Use zenoo_retry.AdaptiveStrategy."},
    {Py_tp_new, Adaptive_new},
    {Py_tp_init, Adaptive_init},
    {Py_tp_methods, Adaptive_methods},
    {Py_tp_getset, Adaptive_getset},
    {Py_tp_dealloc, Adaptive_dealloc},
    {Py_tp_traverse, Adaptive_traverse},
    {Py_tp_clear, Adaptive_clear},
    {0, NULL},
};

PyType_Spec zr_adaptive_spec = {
    .name = "zenoo_retry._core.AdaptiveBackoff",
    .basicsize = sizeof(zr_AdaptiveObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = Adaptive_slots,
};
