/*
 * backoff_type.c - zenoo_retry._core.Backoff: a delay schedule with jitter and its own RNG.
 *
 * The Python strategies (zenoo_retry/strategies.py) subclass this type and only translate
 * their seed-004 parameters; all validation and arithmetic happens here and in
 * src/core/zr_backoff.c.
 */
#include "zr_module.h"

#include <float.h>

static PyObject *Backoff_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    zr_BackoffObject *self = (zr_BackoffObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    zr_backoff_config_default(&self->cfg);
    (void)zr_rng_seed_os(&self->rng); /* falls back to a clock seed on failure */
    self->custom = NULL;
    self->dict = NULL;
    self->weakreflist = NULL;
    return (PyObject *)self;
}

/* Convert a real number argument; TypeError names the parameter for non-numbers. */
int zr_parse_real(const char *name, PyObject *obj, int accept_bool, double *out)
{
    if ((!accept_bool && PyBool_Check(obj)) || (!PyFloat_Check(obj) && !PyLong_Check(obj))) {
        PyErr_Format(PyExc_TypeError, "%s must be a real number, got %R", name, obj);
        return -1;
    }
    double v = PyFloat_AsDouble(obj);
    if (v == -1.0 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return -1;
        PyErr_Clear();
        int positive = PyObject_RichCompareBool(obj, Py_False, Py_GT); /* False == 0 */
        if (positive < 0) return -1;
        v = positive ? HUGE_VAL : -HUGE_VAL;
    }
    *out = v;
    return 0;
}

/* Backoff has always taken bools as numbers (True == 1). */
#define as_double(name, obj, out) zr_parse_real((name), (obj), 1, (out))

/* Parse a kind name with a converter; InvalidConfigurationError lists the choices. */
static int parse_kind(zr_module_state *st, const char *param, PyObject *obj, int is_jitter,
                      int *out)
{
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str, got %R", param, obj);
        return -1;
    }
    const char *s = PyUnicode_AsUTF8(obj);
    if (s == NULL) return -1;
    zr_status rc;
    if (is_jitter) {
        zr_jitter_kind k;
        rc = zr_jitter_from_name(s, &k);
        *out = (int)k;
    }
    else {
        zr_schedule_kind k;
        rc = zr_schedule_from_name(s, &k);
        *out = (int)k;
    }
    if (rc != ZR_OK) {
        return zr_config_error_int(
            st, param, obj,
            is_jitter ? "must be one of 'none', 'full', 'equal', 'decorrelated' ('decorr'), "
                        "'proportional', 'additive'"
                      : "must be one of 'fixed', 'linear', 'exponential', 'fibonacci', 'custom'");
    }
    return 0;
}

static const char *requirement_for(const char *field)
{
    if (strcmp(field, "max_attempts") == 0) return "must be an integer >= 1";
    if (strcmp(field, "multiplier") == 0) return "must be a finite number >= 1";
    if (strcmp(field, "jitter_factor") == 0) return "must be a number in [0, 1]";
    return "must be a finite number >= 0";
}

static int Backoff_init(zr_BackoffObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"schedule",  "max_attempts", "base_delay", "increment",
                             "multiplier", "max_delay",   "jitter",     "jitter_factor",
                             "seed",       "custom",      NULL};
    PyObject *schedule = NULL, *max_attempts = NULL, *base_delay = NULL, *increment = NULL,
             *multiplier = NULL, *max_delay = NULL, *jitter = NULL, *jitter_factor = NULL,
             *seed = Py_None, *custom = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O$OOOOOOOOO:Backoff", kwlist, &schedule,
                                     &max_attempts, &base_delay, &increment, &multiplier,
                                     &max_delay, &jitter, &jitter_factor, &seed, &custom))
        return -1;
    zr_module_state *st = zr_state_from_type(Py_TYPE(self));
    if (st == NULL) return -1;

    zr_backoff_config cfg;
    zr_backoff_config_default(&cfg);
    int kind;
    if (schedule != NULL) {
        if (parse_kind(st, "schedule", schedule, 0, &kind) < 0) return -1;
        cfg.schedule = (zr_schedule_kind)kind;
    }
    if (jitter != NULL) {
        if (parse_kind(st, "jitter", jitter, 1, &kind) < 0) return -1;
        cfg.jitter = (zr_jitter_kind)kind;
    }
    if (max_attempts != NULL) {
        if (!PyLong_Check(max_attempts) || PyBool_Check(max_attempts)) {
            PyErr_Format(PyExc_TypeError, "max_attempts must be an int, got %R", max_attempts);
            return -1;
        }
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(max_attempts, &overflow);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (overflow != 0 || v < 1 || v > (long long)UINT32_MAX)
            return zr_config_error_int(st, "max_attempts", max_attempts,
                                       "must be an integer in [1, 4294967295]");
        cfg.max_attempts = (uint32_t)v;
    }
    struct {
        const char *name;
        PyObject *obj;
        double *dst;
    } nums[] = {{"base_delay", base_delay, &cfg.base_delay},
                {"increment", increment, &cfg.increment},
                {"multiplier", multiplier, &cfg.multiplier},
                {"max_delay", max_delay, &cfg.max_delay},
                {"jitter_factor", jitter_factor, &cfg.jitter_factor}};
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        if (nums[i].obj != NULL && as_double(nums[i].name, nums[i].obj, nums[i].dst) < 0)
            return -1;
    }
    if (custom != Py_None) {
        if (!PyCallable_Check(custom)) {
            PyErr_Format(PyExc_TypeError, "custom must be callable, got %R", custom);
            return -1;
        }
        if (schedule != NULL && cfg.schedule != ZR_SCHEDULE_CUSTOM)
            return zr_config_error_int(st, "schedule", schedule,
                                       "must be 'custom' when a custom callable is given");
        cfg.schedule = ZR_SCHEDULE_CUSTOM;
    }
    else if (cfg.schedule == ZR_SCHEDULE_CUSTOM) {
        return zr_config_error_int(st, "custom", custom,
                                   "must be a callable(attempt, base_delay) when schedule is "
                                   "'custom'");
    }
    const char *field = NULL;
    if (zr_backoff_validate(&cfg, &field) != ZR_OK) {
        PyObject *value = Py_None;
        for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
            if (strcmp(nums[i].name, field) == 0 && nums[i].obj) value = nums[i].obj;
        return zr_config_error_int(st, field, value, requirement_for(field));
    }
    if (seed != Py_None) {
        if (!PyLong_Check(seed)) {
            PyErr_Format(PyExc_TypeError, "seed must be an int or None, got %R", seed);
            return -1;
        }
        unsigned long long s = PyLong_AsUnsignedLongLongMask(seed);
        if (s == (unsigned long long)-1 && PyErr_Occurred()) return -1;
        zr_rng_seed(&self->rng, (uint64_t)s);
    }
    self->cfg = cfg;
    Py_XSETREF(self->custom, custom == Py_None ? NULL : Py_NewRef(custom));
    return 0;
}

/* The custom schedule's raw delay for `attempt`: calls the user's callable (which may
 * re-enter and even re-initialise self) and validates its result. 0 or -1. */
static int custom_raw(zr_BackoffObject *self, uint64_t attempt, double *out)
{
    PyObject *fn = self->custom;
    if (fn == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "custom schedule has no callable");
        return -1;
    }
    Py_INCREF(fn); /* the callable may re-enter and replace self->custom */
    PyObject *res = PyObject_CallFunction(fn, "Kd", (unsigned long long)attempt,
                                          self->cfg.base_delay);
    Py_DECREF(fn);
    if (res == NULL) return -1;
    if (!PyFloat_Check(res) && !PyLong_Check(res)) {
        PyErr_Format(PyExc_TypeError,
                     "custom schedule must return a number of seconds, got %R for "
                     "attempt %llu",
                     res, (unsigned long long)attempt);
        Py_DECREF(res);
        return -1;
    }
    double raw = PyFloat_AsDouble(res);
    if (raw == -1.0 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            Py_DECREF(res);
            return -1;
        }
        PyErr_Clear();
        raw = HUGE_VAL; /* a huge int: saturate at max_delay */
    }
    if (isnan(raw) || raw < 0.0) {
        PyErr_Format(PyExc_ValueError,
                     "custom schedule returned %R for attempt %llu; delays must be "
                     "numbers >= 0",
                     res, (unsigned long long)attempt);
        Py_DECREF(res);
        return -1;
    }
    Py_DECREF(res);
    *out = raw;
    return 0;
}

int zr_backoff_object_delay(zr_BackoffObject *self, uint64_t attempt, double prev, double *out)
{
    double raw;
    if (self->cfg.schedule == ZR_SCHEDULE_CUSTOM) {
        if (custom_raw(self, attempt, &raw) < 0) return -1;
    }
    else if (zr_backoff_raw(&self->cfg, attempt, &raw) != ZR_OK) {
        PyErr_Format(PyExc_ValueError, "attempt must be >= 1, got %llu",
                     (unsigned long long)attempt);
        return -1;
    }
    /* (the custom callable may have re-initialised self: cfg is read afresh here) */
    if (zr_backoff_jitter(&self->cfg, &self->rng, raw, prev, out) != ZR_OK) {
        PyErr_SetString(PyExc_ValueError, "invalid delay");
        return -1;
    }
    return 0;
}

/* Parse an attempt number (int >= 1). */
int zr_parse_attempt(PyObject *obj, uint64_t *out)
{
    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "attempt must be an int, got %R", obj);
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (overflow < 0 || (overflow == 0 && v < 1)) {
        PyErr_Format(PyExc_ValueError, "attempt must be >= 1, got %R", obj);
        return -1;
    }
    *out = overflow > 0 ? UINT64_MAX : (uint64_t)v;
    return 0;
}

int zr_parse_delay_args(PyObject *args, PyObject *kwds, uint64_t *attempt, double *prev)
{
    static char *kwlist[] = {"attempt", "previous", NULL};
    PyObject *attempt_obj, *prev_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:get_delay", kwlist, &attempt_obj,
                                     &prev_obj))
        return -1;
    if (zr_parse_attempt(attempt_obj, attempt) < 0) return -1;
    *prev = -1.0; /* the engine reads any negative or NaN value as "no previous delay" */
    return prev_obj == Py_None ? 0 : as_double("previous", prev_obj, prev);
}

static PyObject *Backoff_get_delay(zr_BackoffObject *self, PyObject *args, PyObject *kwds)
{
    uint64_t attempt;
    double prev, d;
    if (zr_parse_delay_args(args, kwds, &attempt, &prev) < 0) return NULL;
    if (zr_backoff_object_delay(self, attempt, prev, &d) < 0) return NULL;
    return PyFloat_FromDouble(d);
}

static PyObject *Backoff_raw_delay(zr_BackoffObject *self, PyObject *attempt_obj)
{
    uint64_t attempt;
    if (zr_parse_attempt(attempt_obj, &attempt) < 0) return NULL;
    if (self->cfg.schedule == ZR_SCHEDULE_CUSTOM) {
        /* no jitter, capped; the configuration is never modified (the callable may
         * re-enter get_delay or re-initialise self while it runs) */
        double raw;
        if (custom_raw(self, attempt, &raw) < 0) return NULL;
        return PyFloat_FromDouble(zr_clamp(raw, 0.0, self->cfg.max_delay));
    }
    double d;
    if (zr_backoff_raw(&self->cfg, attempt, &d) != ZR_OK) return NULL;
    return PyFloat_FromDouble(d);
}

static PyObject *Backoff_delays(zr_BackoffObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"count", NULL};
    PyObject *count_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:delays", kwlist, &count_obj)) return NULL;
    Py_ssize_t n;
    if (count_obj == Py_None) {
        n = (Py_ssize_t)self->cfg.max_attempts - 1;
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
        if (zr_backoff_object_delay(self, (uint64_t)i + 1, prev, &d) < 0) {
            Py_DECREF(list);
            return NULL;
        }
        PyObject *f = PyFloat_FromDouble(d);
        if (f == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, f);
        prev = d;
    }
    return list;
}

static PyObject *Backoff_reseed(zr_BackoffObject *self, PyObject *args)
{
    PyObject *seed = Py_None;
    if (!PyArg_ParseTuple(args, "|O:reseed", &seed)) return NULL;
    if (seed == Py_None) {
        (void)zr_rng_seed_os(&self->rng);
        Py_RETURN_NONE;
    }
    if (!PyLong_Check(seed)) {
        PyErr_Format(PyExc_TypeError, "seed must be an int or None, got %R", seed);
        return NULL;
    }
    unsigned long long s = PyLong_AsUnsignedLongLongMask(seed);
    if (s == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    zr_rng_seed(&self->rng, (uint64_t)s);
    Py_RETURN_NONE;
}

static PyObject *get_schedule(zr_BackoffObject *self, void *c)
{
    (void)c;
    return PyUnicode_FromString(zr_schedule_name(self->cfg.schedule));
}
static PyObject *get_jitter(zr_BackoffObject *self, void *c)
{
    (void)c;
    return PyUnicode_FromString(zr_jitter_name(self->cfg.jitter));
}
static PyObject *get_max_attempts(zr_BackoffObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(self->cfg.max_attempts);
}
static PyObject *get_custom(zr_BackoffObject *self, void *c)
{
    (void)c;
    return Py_NewRef(self->custom ? self->custom : Py_None);
}
#define DOUBLE_GETTER(field)                                                                  \
    static PyObject *get_##field(zr_BackoffObject *self, void *c)                             \
    {                                                                                         \
        (void)c;                                                                              \
        return PyFloat_FromDouble(self->cfg.field);                                           \
    }
DOUBLE_GETTER(base_delay)
DOUBLE_GETTER(increment)
DOUBLE_GETTER(multiplier)
DOUBLE_GETTER(max_delay)
DOUBLE_GETTER(jitter_factor)

static PyGetSetDef Backoff_getset[] = {
    {"schedule", (getter)get_schedule, NULL, "Schedule kind name.", NULL},
    {"jitter_kind", (getter)get_jitter, NULL, "Jitter kind name ('none' when off).", NULL},
    {"max_attempts", (getter)get_max_attempts, NULL, "Every call, the first included.", NULL},
    {"base_delay", (getter)get_base_delay, NULL, "Base delay in seconds.", NULL},
    {"increment", (getter)get_increment, NULL, "Linear increment in seconds.", NULL},
    {"multiplier", (getter)get_multiplier, NULL, "Exponential multiplier.", NULL},
    {"max_delay", (getter)get_max_delay, NULL, "Cap on every delay, seconds.", NULL},
    {"jitter_factor", (getter)get_jitter_factor, NULL, "Proportional/additive factor.", NULL},
    {"custom", (getter)get_custom, NULL, "Custom schedule callable or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Backoff_methods[] = {
    {"get_delay", (PyCFunction)(void (*)(void))Backoff_get_delay, METH_VARARGS | METH_KEYWORDS,
     "get_delay(attempt, previous=None) -> float\n\nDelay in seconds after attempt `attempt` "
     "(1-based) failed, with jitter; `previous` is the prior delay of the sequence "
     "(decorrelated jitter uses it)."},
    {"raw_delay", (PyCFunction)Backoff_raw_delay, METH_O,
     "raw_delay(attempt) -> float\n\nThe schedule's delay without jitter, capped."},
    {"delays", (PyCFunction)(void (*)(void))Backoff_delays, METH_VARARGS | METH_KEYWORDS,
     "delays(count=None) -> list[float]\n\nPreview a whole sequence of delays (default: the "
     "max_attempts - 1 waits of one call). Advances the generator."},
    {"reseed", (PyCFunction)Backoff_reseed, METH_VARARGS,
     "reseed(seed=None)\n\nReseed the generator (None: from the OS)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Backoff_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(zr_BackoffObject, dict), READONLY, NULL},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(zr_BackoffObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static int Backoff_traverse(zr_BackoffObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->custom);
    Py_VISIT(self->dict);
    return 0;
}

static int Backoff_clear(zr_BackoffObject *self)
{
    Py_CLEAR(self->custom);
    Py_CLEAR(self->dict);
    return 0;
}

static void Backoff_dealloc(zr_BackoffObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) PyObject_ClearWeakRefs((PyObject *)self);
    (void)Backoff_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot Backoff_slots[] = {
    {Py_tp_doc, "Backoff(schedule='exponential', *, max_attempts=3, base_delay=1.0, "
                "increment=1.0, multiplier=2.0, max_delay=60.0, jitter='full', "
                "jitter_factor=0.3, seed=None, custom=None)\n\n"
                "A delay schedule with jitter, computed in C. Base of every strategy."},
    {Py_tp_new, Backoff_new},
    {Py_tp_init, Backoff_init},
    {Py_tp_dealloc, Backoff_dealloc},
    {Py_tp_traverse, Backoff_traverse},
    {Py_tp_clear, Backoff_clear},
    {Py_tp_methods, Backoff_methods},
    {Py_tp_getset, Backoff_getset},
    {Py_tp_members, Backoff_members},
    {0, NULL},
};

PyType_Spec zr_backoff_spec = {
    .name = "zenoo_retry._core.Backoff",
    .basicsize = sizeof(zr_BackoffObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = Backoff_slots,
};
