/*
 * budget_type.c - zenoo_retry._core.RetryBudget: a token-bucket or ratio retry budget
 * whose accounting is src/core/zr_budget.c.
 *
 * The object holds the immutable zr_budget_config and a pointer to its zr_budget_state.
 * Today the pointer targets `local`, inside the object; issue 5 points it into a named
 * shared-memory segment instead, with no other change: every access to *state goes through
 * one lock/unlock pair (budget_lock / budget_unlock below) and through budget_op(), and the
 * clock is read before the lock is taken (a Python clock may run arbitrary code).
 *
 * Retry-engine protocol: _zr_on_request() when a logical call starts, _zr_try_retry() ->
 * bool before each retry. RetrySpec recognises this type (zr_budget_fast_ok) and calls
 * zr_budget_object_on_request / zr_budget_object_try_retry directly, without the bound
 * methods.
 */
#include "zr_module.h"

#include "../core/zr_budget.h"
#include "../core/zr_shared_state.h"

#include <time.h>

typedef struct {
    PyObject_HEAD
    zr_budget_config cfg;   /* immutable once initialised */
    zr_budget_state *state; /* &local now; a shared-memory segment later (issue 5) */
    PyObject *clock;        /* callable() -> seconds, or NULL for CLOCK_MONOTONIC */
    PyObject *weakreflist;
    zr_budget_state local;
    zr_shared *shm;              /* segment holding *state (shared=name, issue 5), or NULL */
    zr_shared_budget_arg sarg;   /* its init/repair argument (config + latest now) */
    zr_shared_tally *tally;      /* shared: lock-free counts next to the state, or NULL */
} zr_RetryBudgetObject;

/* ---- the one lock/unlock pair -------------------------------------------------------- */

/* Take exclusive access to *self->state. A private state needs nothing: the GIL
 * serialises every caller and nothing between budget_lock and budget_unlock calls into
 * Python or releases the GIL. A state in a shared segment (shared="name", issue 5) takes
 * the segment's robust mutex (which repairs the state when the previous holder died) and
 * folds the lock-free request tally into the state. Returns 0, or -1 with an exception
 * set. */
static int budget_lock(zr_RetryBudgetObject *self)
{
    if (ZR_LIKELY(self->shm == NULL)) return 0;
    if (zr_shared_lock_obj((PyObject *)self, self->shm) < 0) return -1;
    if (__atomic_load_n(&self->tally->requests, __ATOMIC_RELAXED) != 0) /* issue 5 */
        self->state->total_requests = zr_sat_add_u64(
            self->state->total_requests, zr_shared_tally_take(&self->tally->requests));
    return 0;
}

/* Release what budget_lock took. */
static void budget_unlock(zr_RetryBudgetObject *self)
{
    if (ZR_UNLIKELY(self->shm != NULL)) zr_shared_unlock(self->shm);
}

/* ---- operations ---------------------------------------------------------------------- */

typedef enum {
    OP_REQUEST,
    OP_ACQUIRE,
    OP_RETURN,
    OP_AVAILABLE,
    OP_DRAIN,
    OP_RESET,
    OP_SNAPSHOT
} budget_op_kind;

/* The default budget clock: CLOCK_MONOTONIC_COARSE where the platform has it (Linux: the
 * kernel tick, 1-10 ms resolution, read in ~10 ns where a precise read can cost 25-150 ns
 * in virtual machines); budgets need no finer time. Same epoch as CLOCK_MONOTONIC, so
 * processes sharing a budget agree. Elsewhere zr_clock_monotonic(). */
static double budget_default_now(void)
{
#ifdef CLOCK_MONOTONIC_COARSE
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0)
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
#endif
    return zr_clock_monotonic();
}

/* Current time from the budget's clock: 0, or -1 with an exception set. */
static int budget_now(zr_RetryBudgetObject *self, double *now)
{
    if (self->clock == NULL) {
        *now = budget_default_now();
        return 0;
    }
    return zr_call_clock(self->clock, "budget clock", now);
}

/* Run one operation on the state under the lock. `n` is the token count (ACQUIRE,
 * RETURN); *granted (ACQUIRE) and *avail (AVAILABLE) receive results; *snap (SNAPSHOT)
 * a copy of the state. 0, or -1 with an exception set. */
static int budget_op(zr_RetryBudgetObject *self, budget_op_kind op, uint64_t n, int *granted,
                     double *avail, zr_budget_state *snap)
{
    if (self->shm != NULL && op == OP_REQUEST && self->cfg.mode == ZR_BUDGET_TOKEN) {
        /* issue 5: a token bucket's request only bumps a lifetime total: an atomic add on
         * the segment's tally, folded into the state under the next lock */
        zr_shared_tally_bump(&self->tally->requests);
        return 0;
    }
    double now = 0.0;
    /* a token bucket counts a request without looking at the time (zr_budget_on_request) */
    if (!(op == OP_REQUEST && self->cfg.mode == ZR_BUDGET_TOKEN) && budget_now(self, &now) < 0)
        return -1;
    if (!(op == OP_REQUEST && self->cfg.mode == ZR_BUDGET_TOKEN))
        self->sarg.now = now; /* a repair after a dead lock holder starts from now */
    if (budget_lock(self) < 0) return -1;
    zr_status rc = ZR_OK;
    switch (op) {
    case OP_REQUEST: rc = zr_budget_on_request(&self->cfg, self->state, now); break;
    case OP_ACQUIRE: rc = zr_budget_try_acquire(&self->cfg, self->state, now, n, granted); break;
    case OP_RETURN: rc = zr_budget_return(&self->cfg, self->state, now, n); break;
    case OP_AVAILABLE: rc = zr_budget_available(&self->cfg, self->state, now, avail); break;
    case OP_DRAIN: rc = zr_budget_drain(&self->cfg, self->state, now); break;
    case OP_RESET: rc = zr_budget_reset(&self->cfg, self->state, now); break;
    case OP_SNAPSHOT:
        rc = zr_budget_available(&self->cfg, self->state, now, avail);
        *snap = *self->state;
        break;
    }
    budget_unlock(self);
    if (rc != ZR_OK) {
        PyErr_Format(PyExc_RuntimeError, "retry budget state is unusable (%s)",
                     zr_status_str(rc));
        return -1;
    }
    return 0;
}

/* ---- C fast path for RetrySpec ------------------------------------------------------- */

/* 1 if obj's attribute `name` is the one defined by `base` (not overridden), 0 if not,
 * -1 on error. */
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

int zr_budget_fast_ok(zr_module_state *st, PyObject *obj)
{
    if (st->RetryBudget_Type == NULL || !PyObject_TypeCheck(obj, st->RetryBudget_Type)) return 0;
    int a = same_attr(obj, st->RetryBudget_Type, "_zr_on_request");
    if (a <= 0) return a;
    return same_attr(obj, st->RetryBudget_Type, "_zr_try_retry");
}

int zr_budget_object_on_request(PyObject *budget)
{
    return budget_op((zr_RetryBudgetObject *)budget, OP_REQUEST, 0, NULL, NULL, NULL);
}

int zr_budget_object_try_retry(PyObject *budget, int *granted)
{
    *granted = 0;
    return budget_op((zr_RetryBudgetObject *)budget, OP_ACQUIRE, 1, granted, NULL, NULL);
}

/* ---- construction -------------------------------------------------------------------- */

/* A real number argument (int or float, not bool); huge ints become +-inf so validation
 * names them. 0 or -1 with TypeError. */
#define as_double(name, obj, out) zr_parse_real((name), (obj), 0, (out))

static const char *requirement_for(const char *field)
{
    if (strcmp(field, "capacity") == 0) return "must be a finite number > 0 and <= 2**53";
    if (strcmp(field, "refill_rate") == 0) return "must be a finite number >= 0";
    if (strcmp(field, "initial_tokens") == 0)
        return "must be a finite number in [0, capacity]";
    if (strcmp(field, "percent") == 0) return "must be a finite number in [0, 1000]";
    if (strcmp(field, "min_per_second") == 0) return "must be a finite number in [0, 1e9]";
    if (strcmp(field, "window") == 0) return "must be a finite number of seconds in (0, 1e9]";
    if (strcmp(field, "buckets") == 0) return "must be an integer in [1, 64]";
    return "is invalid";
}

static PyObject *RetryBudget_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    (void)args;
    (void)kwds;
    zr_RetryBudgetObject *self = (zr_RetryBudgetObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    /* usable even if __init__ is never called: seed 000's RetryBudget(100, 10.0) */
    zr_budget_config_token(&self->cfg, 100.0, 10.0);
    self->state = &self->local;
    if (zr_budget_init(&self->cfg, self->state, budget_default_now()) != ZR_OK) {
        Py_DECREF(self);
        PyErr_SetString(PyExc_RuntimeError, "could not initialise the retry budget");
        return NULL;
    }
    return (PyObject *)self;
}

static int RetryBudget_init(zr_RetryBudgetObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"mode",    "capacity",       "refill_rate", "initial_tokens",
                             "percent", "min_per_second", "window",      "buckets",
                             "clock",   "shared",         NULL};
    PyObject *mode = NULL, *capacity = NULL, *refill = NULL, *initial = Py_None,
             *percent = NULL, *min_ps = NULL, *window = NULL, *buckets = NULL, *clock = Py_None;
    PyObject *shared = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O$OOOOOOOOO:RetryBudget", kwlist, &mode,
                                     &capacity, &refill, &initial, &percent, &min_ps, &window,
                                     &buckets, &clock, &shared))
        return -1;
    if (self->shm != NULL) {
        PyErr_SetString(PyExc_TypeError, "a shared RetryBudget is configured once");
        return -1;
    }
    zr_module_state *st = zr_state_from_type(Py_TYPE(self));
    if (st == NULL) return -1;
    zr_budget_mode m = ZR_BUDGET_TOKEN;
    if (mode != NULL) {
        const char *s = PyUnicode_Check(mode) ? PyUnicode_AsUTF8(mode) : NULL;
        if (s == NULL && PyErr_Occurred()) return -1;
        if (s != NULL && strcmp(s, "token") == 0)
            m = ZR_BUDGET_TOKEN;
        else if (s != NULL && strcmp(s, "ratio") == 0)
            m = ZR_BUDGET_RATIO;
        else
            return zr_config_error_int(st, "mode", mode, "must be 'token' or 'ratio'");
    }
    if (clock != Py_None && !PyCallable_Check(clock)) {
        PyErr_Format(PyExc_TypeError, "clock must be callable or None, got %R", clock);
        return -1;
    }
    /* parameters of the other mode are refused rather than silently ignored */
    PyObject *token_only[] = {capacity, refill, initial == Py_None ? NULL : initial};
    const char *token_names[] = {"capacity", "refill_rate", "initial_tokens"};
    PyObject *ratio_only[] = {percent, min_ps, window, buckets};
    const char *ratio_names[] = {"percent", "min_per_second", "window", "buckets"};
    for (int i = 0; i < 3 && m == ZR_BUDGET_RATIO; i++)
        if (token_only[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s applies to token budgets, not to mode 'ratio'",
                         token_names[i]);
            return -1;
        }
    for (int i = 0; i < 4 && m == ZR_BUDGET_TOKEN; i++)
        if (ratio_only[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s applies to ratio budgets, not to mode 'token'",
                         ratio_names[i]);
            return -1;
        }

    zr_budget_config cfg;
    if (m == ZR_BUDGET_TOKEN)
        zr_budget_config_token(&cfg, 100.0, 10.0);
    else
        zr_budget_config_ratio(&cfg, 0.2, 10.0, 10.0, 10);
    struct {
        const char *name;
        PyObject *obj;
        double *dst;
    } nums[] = {{"capacity", capacity, &cfg.capacity},
                {"refill_rate", refill, &cfg.refill_rate},
                {"initial_tokens", initial == Py_None ? NULL : initial, &cfg.initial_tokens},
                {"percent", percent, &cfg.percent},
                {"min_per_second", min_ps, &cfg.min_per_second},
                {"window", window, &cfg.window}};
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
        if (nums[i].obj != NULL && as_double(nums[i].name, nums[i].obj, nums[i].dst) < 0)
            return -1;
    if (m == ZR_BUDGET_TOKEN && initial == Py_None) cfg.initial_tokens = cfg.capacity;
    if (buckets != NULL) {
        if (!PyLong_Check(buckets) || PyBool_Check(buckets)) {
            PyErr_Format(PyExc_TypeError, "buckets must be an int, got %R", buckets);
            return -1;
        }
        int overflow = 0;
        long long b = PyLong_AsLongLongAndOverflow(buckets, &overflow);
        if (b == -1 && PyErr_Occurred()) return -1;
        if (overflow || b < 1 || b > (long long)ZR_BUDGET_MAX_BUCKETS)
            return zr_config_error_int(st, "buckets", buckets, requirement_for("buckets"));
        cfg.buckets = (uint32_t)b;
    }
    const char *field = NULL;
    if (zr_budget_validate(&cfg, &field) != ZR_OK) {
        PyObject *value = Py_None;
        for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
            if (strcmp(nums[i].name, field) == 0 && nums[i].obj != NULL) value = nums[i].obj;
        if (strcmp(field, "initial_tokens") == 0 && initial == Py_None) {
            /* defaulted to capacity: report capacity */
            return zr_config_error_int(st, "capacity", capacity ? capacity : Py_None,
                                       requirement_for("capacity"));
        }
        return zr_config_error_int(st, field, value, requirement_for(field));
    }
    Py_XSETREF(self->clock, clock == Py_None ? NULL : Py_NewRef(clock));
    double now;
    if (budget_now(self, &now) < 0) return -1;
    if (shared != Py_None) { /* issue 5: the state lives in (and may already be) a segment */
        self->cfg = cfg;
        self->sarg.cfg = &self->cfg;
        self->sarg.now = now;
        if (zr_shared_new((PyObject *)self, &self->shm, shared, ZR_SHM_KIND_BUDGET,
                          zr_shared_budget_fingerprint(&self->cfg),
                          zr_shared_payload_size(sizeof(zr_budget_state)),
                          zr_shared_budget_init, &self->sarg, zr_shared_budget_repair,
                          &self->sarg) < 0)
            return -1;
        self->state = zr_shared_payload(self->shm);
        self->tally = (zr_shared_tally *)(void *)((char *)self->state +
                                                  zr_shared_tally_offset(sizeof(zr_budget_state)));
        return 0;
    }
    if (budget_lock(self) < 0) return -1;
    self->cfg = cfg;
    zr_status rc = zr_budget_init(&self->cfg, self->state, now);
    budget_unlock(self);
    if (rc != ZR_OK) {
        PyErr_SetString(PyExc_RuntimeError, "could not initialise the retry budget");
        return -1;
    }
    return 0;
}

/* ---- methods ------------------------------------------------------------------------- */

/* A token count: int >= 0; larger than 2^64 - 1 saturates. */
static int parse_count(PyObject *obj, uint64_t *out)
{
    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "n must be an int, got %R", obj);
        return -1;
    }
    int neg = PyObject_RichCompareBool(obj, Py_False, Py_LT);
    if (neg < 0) return -1;
    if (neg) {
        PyErr_Format(PyExc_ValueError, "n must be an int >= 0, got %R", obj);
        return -1;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(obj);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return -1;
        PyErr_Clear();
        v = UINT64_MAX;
    }
    *out = (uint64_t)v;
    return 0;
}

static PyObject *RetryBudget_try_acquire(zr_RetryBudgetObject *self, PyObject *noargs)
{
    (void)noargs;
    int g = 0;
    if (budget_op(self, OP_ACQUIRE, 1, &g, NULL, NULL) < 0) return NULL;
    return PyBool_FromLong(g);
}

static PyObject *RetryBudget_try_acquire_multiple(zr_RetryBudgetObject *self, PyObject *arg)
{
    uint64_t n;
    if (parse_count(arg, &n) < 0) return NULL;
    int g = 0;
    if (budget_op(self, OP_ACQUIRE, n, &g, NULL, NULL) < 0) return NULL;
    return PyBool_FromLong(g);
}

static PyObject *RetryBudget_return_tokens(zr_RetryBudgetObject *self, PyObject *args)
{
    PyObject *arg = NULL;
    if (!PyArg_ParseTuple(args, "|O:return_tokens", &arg)) return NULL;
    uint64_t n = 1;
    if (arg != NULL && parse_count(arg, &n) < 0) return NULL;
    if (budget_op(self, OP_RETURN, n, NULL, NULL, NULL) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *RetryBudget_available_tokens(zr_RetryBudgetObject *self, PyObject *noargs)
{
    (void)noargs;
    double d = 0.0;
    if (budget_op(self, OP_AVAILABLE, 0, NULL, &d, NULL) < 0) return NULL;
    return PyFloat_FromDouble(d);
}

static PyObject *RetryBudget_record_request(zr_RetryBudgetObject *self, PyObject *noargs)
{
    (void)noargs;
    if (budget_op(self, OP_REQUEST, 0, NULL, NULL, NULL) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *RetryBudget_drain(zr_RetryBudgetObject *self, PyObject *noargs)
{
    (void)noargs;
    if (budget_op(self, OP_DRAIN, 0, NULL, NULL, NULL) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *RetryBudget_reset(zr_RetryBudgetObject *self, PyObject *noargs)
{
    (void)noargs;
    if (budget_op(self, OP_RESET, 0, NULL, NULL, NULL) < 0) return NULL;
    Py_RETURN_NONE;
}

/* stats() -> dict of the configuration, the window and the lifetime totals. */
static PyObject *RetryBudget_stats(zr_RetryBudgetObject *self, PyObject *noargs)
{
    (void)noargs;
    zr_budget_state snap;
    double avail = 0.0;
    if (budget_op(self, OP_SNAPSHOT, 0, NULL, &avail, &snap) < 0) return NULL;
    if (self->cfg.mode == ZR_BUDGET_TOKEN)
        return Py_BuildValue("{s:s,s:d,s:d,s:d,s:K,s:K,s:K,s:K}", "mode", "token",
                             "available", avail, "capacity", self->cfg.capacity,
                             "refill_rate", self->cfg.refill_rate, "requests",
                             (unsigned long long)snap.total_requests, "granted",
                             (unsigned long long)snap.total_granted, "refused",
                             (unsigned long long)snap.total_refused, "returned",
                             (unsigned long long)snap.total_returned);
    return Py_BuildValue("{s:s,s:d,s:d,s:d,s:d,s:I,s:K,s:K,s:K,s:K,s:K,s:K}", "mode", "ratio",
                         "available", avail, "percent", self->cfg.percent, "min_per_second",
                         self->cfg.min_per_second, "window", self->cfg.window, "buckets",
                         (unsigned int)self->cfg.buckets, "window_requests",
                         (unsigned long long)snap.window_requests, "window_retries",
                         (unsigned long long)snap.window_retries, "requests",
                         (unsigned long long)snap.total_requests, "granted",
                         (unsigned long long)snap.total_granted, "refused",
                         (unsigned long long)snap.total_refused, "returned",
                         (unsigned long long)snap.total_returned);
}

static PyObject *get_mode(zr_RetryBudgetObject *self, void *c)
{
    (void)c;
    return PyUnicode_FromString(self->cfg.mode == ZR_BUDGET_TOKEN ? "token" : "ratio");
}
static PyObject *get_clock(zr_RetryBudgetObject *self, void *c)
{
    (void)c;
    return Py_NewRef(self->clock ? self->clock : Py_None);
}
static PyObject *get_shared(zr_RetryBudgetObject *self, void *c)
{
    (void)c;
    if (self->shm == NULL) Py_RETURN_NONE;
    return PyUnicode_FromString(self->shm->name);
}
static PyObject *get_buckets(zr_RetryBudgetObject *self, void *c)
{
    (void)c;
    if (self->cfg.mode != ZR_BUDGET_RATIO) Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(self->cfg.buckets);
}
/* a field of one mode reads None in the other */
#define MODE_DOUBLE_GETTER(field, want)                                                       \
    static PyObject *get_##field(zr_RetryBudgetObject *self, void *c)                         \
    {                                                                                         \
        (void)c;                                                                              \
        if (self->cfg.mode != (want)) Py_RETURN_NONE;                                         \
        return PyFloat_FromDouble(self->cfg.field);                                           \
    }
MODE_DOUBLE_GETTER(capacity, ZR_BUDGET_TOKEN)
MODE_DOUBLE_GETTER(refill_rate, ZR_BUDGET_TOKEN)
MODE_DOUBLE_GETTER(initial_tokens, ZR_BUDGET_TOKEN)
MODE_DOUBLE_GETTER(percent, ZR_BUDGET_RATIO)
MODE_DOUBLE_GETTER(min_per_second, ZR_BUDGET_RATIO)
MODE_DOUBLE_GETTER(window, ZR_BUDGET_RATIO)

static PyGetSetDef RetryBudget_getset[] = {
    {"mode", (getter)get_mode, NULL, "'token' or 'ratio'.", NULL},
    {"capacity", (getter)get_capacity, NULL, "Token bucket size (None in ratio mode).", NULL},
    {"refill_rate", (getter)get_refill_rate, NULL, "Tokens per second (token mode).", NULL},
    {"initial_tokens", (getter)get_initial_tokens, NULL, "Tokens at creation (token mode).",
     NULL},
    {"percent", (getter)get_percent, NULL, "Retries per request (ratio mode).", NULL},
    {"min_per_second", (getter)get_min_per_second, NULL, "Retry floor per second (ratio).",
     NULL},
    {"window", (getter)get_window, NULL, "Window in seconds (ratio mode).", NULL},
    {"buckets", (getter)get_buckets, NULL, "Time slices of the window (ratio mode).", NULL},
    {"clock", (getter)get_clock, NULL, "The injected clock, or None.", NULL},
    {"shared", (getter)get_shared, NULL, "The shared-memory segment name, or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* _zr_adopt(tokens, seen_granted, seen_returned, hold): a Redis-shared budget (issue 5)
 * sets the bucket to this host's share of the fleet's tokens, minus what was spent here
 * since the totals were read, and pauses the local refill for `hold` seconds
 * (zr_budget_adopt, under the lock). Token buckets only. */
static PyObject *RetryBudget_zr_adopt(zr_RetryBudgetObject *self, PyObject *args)
{
    double tokens, hold, now;
    unsigned long long granted, returned;
    if (!PyArg_ParseTuple(args, "dKKd:_zr_adopt", &tokens, &granted, &returned, &hold))
        return NULL;
    if (budget_now(self, &now) < 0) return NULL;
    if (budget_lock(self) < 0) return NULL;
    zr_status rc = zr_budget_adopt(&self->cfg, self->state, now, tokens, (uint64_t)granted,
                                   (uint64_t)returned, hold);
    budget_unlock(self);
    if (rc == ZR_ESTATE) {
        PyErr_SetString(PyExc_TypeError, "only token-bucket budgets can adopt a shared level");
        return NULL;
    }
    if (rc != ZR_OK) {
        PyErr_Format(PyExc_ValueError, "_zr_adopt: tokens and hold must be finite (hold >= 0), "
                     "got %R", args);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef RetryBudget_methods[] = {
    {"try_acquire", (PyCFunction)RetryBudget_try_acquire, METH_NOARGS,
     "try_acquire() -> bool\n\nTake one token (one retry); False when the budget is empty."},
    {"try_acquire_multiple", (PyCFunction)RetryBudget_try_acquire_multiple, METH_O,
     "try_acquire_multiple(n) -> bool\n\nTake n tokens, all or nothing."},
    {"return_tokens", (PyCFunction)RetryBudget_return_tokens, METH_VARARGS,
     "return_tokens(n=1)\n\nGive back n unused tokens (capped at capacity)."},
    {"available_tokens", (PyCFunction)RetryBudget_available_tokens, METH_NOARGS,
     "available_tokens() -> float\n\nTokens (retries) that could be taken now."},
    {"record_request", (PyCFunction)RetryBudget_record_request, METH_NOARGS,
     "record_request()\n\nCount one request (a first attempt); ratio budgets earn retries "
     "from requests. Retry policies call it for you."},
    {"drain", (PyCFunction)RetryBudget_drain, METH_NOARGS,
     "drain()\n\nLeave nothing to spend now (tests, manual shedding)."},
    {"reset", (PyCFunction)RetryBudget_reset, METH_NOARGS,
     "reset()\n\nRefill (token) or clear the window (ratio), and zero the totals."},
    {"stats", (PyCFunction)RetryBudget_stats, METH_NOARGS,
     "stats() -> dict\n\nConfiguration, what is available now and lifetime totals."},
    {"_zr_on_request", (PyCFunction)RetryBudget_record_request, METH_NOARGS,
     "Retry-engine protocol: a logical call starts."},
    {"_zr_try_retry", (PyCFunction)RetryBudget_try_acquire, METH_NOARGS,
     "Retry-engine protocol: may the call retry? (takes one token)"},
    {"_zr_adopt", (PyCFunction)RetryBudget_zr_adopt, METH_VARARGS,
     "_zr_adopt(tokens, seen_granted, seen_returned, hold): take a level decided by the fleet "
     "(Redis backend)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef RetryBudget_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(zr_RetryBudgetObject, weakreflist), READONLY,
     NULL},
    {NULL, 0, 0, 0, NULL},
};

static int RetryBudget_traverse(zr_RetryBudgetObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->clock);
    return 0;
}

static int RetryBudget_clear(zr_RetryBudgetObject *self)
{
    Py_CLEAR(self->clock);
    return 0;
}

static void RetryBudget_dealloc(zr_RetryBudgetObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) PyObject_ClearWeakRefs((PyObject *)self);
    (void)RetryBudget_clear(self);
    zr_shared_free(self->shm);
    self->shm = NULL;
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *RetryBudget_repr(zr_RetryBudgetObject *self)
{
    double avail = 0.0;
    int ok = budget_op(self, OP_AVAILABLE, 0, NULL, &avail, NULL) == 0;
    if (!ok) PyErr_Clear();
    /* PyUnicode_FromFormat has no %g: format the numbers with Python's repr */
    PyObject *a = PyFloat_FromDouble(avail);
    if (a == NULL) return NULL;
    PyObject *r;
    const char *name = Py_TYPE(self)->tp_name;
    const char *dot = strrchr(name, '.');
    if (dot != NULL) name = dot + 1;
    if (self->cfg.mode == ZR_BUDGET_TOKEN) {
        PyObject *c = PyFloat_FromDouble(self->cfg.capacity);
        PyObject *f = PyFloat_FromDouble(self->cfg.refill_rate);
        r = c && f ? PyUnicode_FromFormat("%s(capacity=%R, refill_rate=%R, available=%R)", name,
                                          c, f, a)
                   : NULL;
        Py_XDECREF(c);
        Py_XDECREF(f);
    }
    else {
        PyObject *p = PyFloat_FromDouble(self->cfg.percent);
        PyObject *m = PyFloat_FromDouble(self->cfg.min_per_second);
        PyObject *w = PyFloat_FromDouble(self->cfg.window);
        r = p && m && w ? PyUnicode_FromFormat(
                              "%s.ratio(percent=%R, min_per_second=%R, window=%R, available=%R)",
                              name, p, m, w, a)
                        : NULL;
        Py_XDECREF(p);
        Py_XDECREF(m);
        Py_XDECREF(w);
    }
    Py_DECREF(a);
    return r;
}

static PyType_Slot RetryBudget_slots[] = {
    {Py_tp_doc, "RetryBudget(mode='token', *, capacity=100.0, refill_rate=10.0, "
                "initial_tokens=None, percent=0.2, min_per_second=10.0, window=10.0, "
                "buckets=10, clock=None, shared=None)\n\n"
                "A retry budget computed in C: a token bucket ('token') or a share of recent "
                "requests plus a floor per second ('ratio'). Use zenoo_retry.RetryBudget."},
    {Py_tp_new, RetryBudget_new},
    {Py_tp_init, RetryBudget_init},
    {Py_tp_dealloc, RetryBudget_dealloc},
    {Py_tp_traverse, RetryBudget_traverse},
    {Py_tp_clear, RetryBudget_clear},
    {Py_tp_repr, RetryBudget_repr},
    {Py_tp_methods, RetryBudget_methods},
    {Py_tp_getset, RetryBudget_getset},
    {Py_tp_members, RetryBudget_members},
    {0, NULL},
};

PyType_Spec zr_retry_budget_spec = {
    .name = "zenoo_retry._core.RetryBudget",
    .basicsize = sizeof(zr_RetryBudgetObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = RetryBudget_slots,
};
