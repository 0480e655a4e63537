/*
 * retry_awaitable_type.c - zenoo_retry._core.RetryAwaitable: one call of an async
 * retrying function, implemented as a C coroutine-like object.
 *
 * It drives the user's coroutine with send/throw/close (am_send: asyncio Tasks, and `await`
 * on CPython 3.10/3.11, talk to it without StopIteration objects; `await` on 3.12+ calls
 * __next__, which takes the same in-place first attempt), and runs the same
 * retry rules as the sync loop (zr_spec_* in retry_spec_type.c). A retry sleep yields an
 * asyncio future resolved by loop.call_later - what asyncio.sleep does - so cancellation
 * during the sleep cancels the timer and propagates at once. Async on_retry hooks and an
 * injected async sleep are awaited in place.
 *
 * Phases: INIT -> ATTEMPT -> (HOOK) -> (SLEEP) -> ATTEMPT ... -> DONE.
 */
#include "zr_module.h"

#define ZR_INLINE_ARGS 6

enum { PH_INIT, PH_ATTEMPT, PH_HOOK, PH_SLEEP, PH_DONE };

typedef struct {
    PyObject_HEAD
    zr_module_state *st;      /* borrowed: held through the type, which holds the module */
    zr_RetryingObject *owner; /* the AsyncRetrying (func + spec) while a call runs, else NULL */
    PyObject *func;           /* the wrapped function (names), kept after the call */
    PyObject **argv;          /* argv[0] is scratch (PY_VECTORCALL_ARGUMENTS_OFFSET) */
    Py_ssize_t nargs;
    PyObject *kwnames;
    PyObject *inner;  /* iterator being driven: attempt, hook or injected sleep */
    PyObject *token;  /* breaker permit of the running attempt */
    PyObject *fut;    /* builtin sleep: the future the task waits on */
    PyObject *timer;  /* builtin sleep: the loop's TimerHandle */
    PyObject *weakreflist;
    zr_call call;
    double delay;
    int phase;
    int running; /* inside send/throw/close: re-entry (from a hook) is refused */
    int fast;    /* the next send may run the first attempt in place: not started yet, not
                  * running, simple spec, function with a vectorcall entry */
    PyObject *inline_argv[ZR_INLINE_ARGS + 1];
} zr_RetryAwaitableObject;

/* A fresh (or freelist) awaitable with empty call fields, or NULL with an exception. */
static zr_RetryAwaitableObject *alloc_awaitable(zr_module_state *st, PyTypeObject *tp)
{
    zr_RetryAwaitableObject *self;
    if (st->awaitable_free > 0) {
        /* recycled: untracked, every field empty and argv inline, as dealloc left it;
         * same type, whose reference it takes again */
        self = (zr_RetryAwaitableObject *)st->awaitable_freelist[--st->awaitable_free];
#ifdef Py_REF_DEBUG
        (void)PyObject_Init((PyObject *)self, tp);
#else
        Py_INCREF(tp);
        Py_SET_REFCNT(self, 1);
#endif
        return self;
    }
    if ((self = PyObject_GC_New(zr_RetryAwaitableObject, tp)) == NULL) return NULL;
    self->st = st;
    self->owner = NULL;
    self->func = NULL;
    self->nargs = 0;
    self->kwnames = NULL;
    self->argv = self->inline_argv;
    self->inner = self->token = self->fut = self->timer = NULL;
    self->weakreflist = NULL;
    return self;
}

/* An owner's idle awaitable can serve the next call: its call is over (arguments and owner
 * released by release_call), and nobody else can observe it - the owner holds the only
 * reference and no weak reference exists. (The reference count test needs the GIL.) */
static inline int idle_free(PyObject *idle)
{
#ifdef Py_GIL_DISABLED
    (void)idle;
    return 0;
#else
    zr_RetryAwaitableObject *a = (zr_RetryAwaitableObject *)idle;
    return idle != NULL && Py_REFCNT(idle) == 1 && a->phase == PH_DONE && a->owner == NULL &&
           a->weakreflist == NULL;
#endif
}

/* A new awaitable (fresh or from the freelist) for a call of `owner`: keyword arguments,
 * more than ZR_INLINE_ARGS arguments, or the idle awaitable busy. */
static ZR_NOINLINE PyObject *awaitable_new_general(zr_RetryingObject *owner, PyObject *const *args,
                                                  size_t nargsf, PyObject *kwnames)
{
    zr_module_state *st = owner->spec->st;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    PyObject **argv = NULL;
    if (total > ZR_INLINE_ARGS && (argv = PyMem_New(PyObject *, (size_t)total + 1)) == NULL)
        return PyErr_NoMemory();
    zr_RetryAwaitableObject *self = alloc_awaitable(st, st->RetryAwaitable_Type);
    if (self == NULL) {
        PyMem_Free(argv);
        return NULL;
    }
    if (argv != NULL) self->argv = argv;
    self->argv[0] = NULL;
    for (Py_ssize_t i = 0; i < total; i++) self->argv[i + 1] = Py_NewRef(args[i]);
    self->nargs = nargs;
    self->kwnames = kwnames ? Py_NewRef(kwnames) : NULL;
    self->owner = (zr_RetryingObject *)Py_NewRef(owner);
    self->func = Py_XNewRef(owner->func);
    self->phase = PH_INIT;
    self->running = 0;
    self->fast = owner->first_in_place;
    self->call.attempt = 0; /* the rest of `call` is set when an attempt starts */
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

/* The awaitable for one call of `owner` (AsyncRetrying's vectorcall).
 *
 * Each AsyncRetrying keeps one "idle" awaitable: when the interpreter has dropped it after
 * a finished call, the next call reuses it in place instead of allocating and later
 * deallocating one, which is most of the cost of the success path. Only an object nobody
 * else can observe is reused (idle_free), and a finished call has already released its
 * arguments and its owner, so the idle object holds no cycle with the owner. Concurrent
 * calls (several awaitables alive at once) get ordinary objects. */
ZR_HOT PyObject *zr_retry_awaitable_new(PyObject *callable, PyObject *const *args, size_t nargsf,
                                 PyObject *kwnames)
{
    zr_RetryingObject *owner = (zr_RetryingObject *)callable;
    /* the common case, kept small: positional arguments only and the idle object free */
    zr_RetryAwaitableObject *self = (zr_RetryAwaitableObject *)owner->idle;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (ZR_LIKELY(kwnames == NULL && nargs <= ZR_INLINE_ARGS && idle_free(owner->idle))) {
        Py_INCREF(self); /* tracked; argv inline and empty (release_call) */
        for (Py_ssize_t i = 0; i < nargs; i++) self->inline_argv[i + 1] = Py_NewRef(args[i]);
        self->nargs = nargs;
        self->owner = (zr_RetryingObject *)Py_NewRef(owner);
        self->phase = PH_INIT;
        self->fast = owner->first_in_place;
        self->call.attempt = 0; /* the rest of `call` is set when an attempt starts */
        return (PyObject *)self;
    }
    return awaitable_new_general(owner, args, nargsf, kwnames);
}

/* A call of `owner` is over: unless the owner's idle awaitable is free for the next call,
 * this one takes its place. A free one is never replaced, so the object dropped here (if
 * any) is busy elsewhere, or was abandoned unawaited (then its arguments go, which may
 * run arbitrary code), or is weakly referenced. */
static inline void adopt_as_idle(zr_RetryAwaitableObject *self, zr_RetryingObject *owner)
{
    PyObject *idle = owner->idle;
    if (idle != (PyObject *)self && !idle_free(idle))
        Py_XSETREF(owner->idle, Py_NewRef((PyObject *)self));
}

/* A call is over: drop its arguments and its owner (so that an idle awaitable holds no
 * cycle with its owner, and arguments are not kept alive by a finished awaitable). The
 * owner goes last, as that may free it (and clear its idle reference to this object).
 * `adopt`: offer this object to the owner as its idle awaitable (not from dealloc). */
static inline void release_call(zr_RetryAwaitableObject *self, int adopt)
{
    Py_ssize_t n = self->nargs + (self->kwnames ? PyTuple_GET_SIZE(self->kwnames) : 0);
    PyObject *kw = self->kwnames, *owner = (PyObject *)self->owner;
    if (owner != NULL && adopt) adopt_as_idle(self, self->owner);
    self->nargs = 0;
    self->kwnames = NULL;
    self->owner = NULL;
    for (Py_ssize_t i = 0; i < n; i++) Py_DECREF(self->argv[i + 1]);
    if (self->argv != self->inline_argv) {
        PyMem_Free(self->argv);
        self->argv = self->inline_argv;
    }
    Py_XDECREF(kw);
    Py_XDECREF(owner);
}

static Py_ssize_t total_args(zr_RetryAwaitableObject *self)
{
    return self->nargs + (self->kwnames ? PyTuple_GET_SIZE(self->kwnames) : 0);
}

/* Turn an awaitable into the iterator `await` would drive. New ref or NULL. */
static PyObject *await_iter(PyObject *obj)
{
    if (PyCoro_CheckExact(obj)) return Py_NewRef(obj);
    PyTypeObject *t = Py_TYPE(obj);
    if (t->tp_as_async != NULL && t->tp_as_async->am_await != NULL) {
        PyObject *it = t->tp_as_async->am_await(obj);
        if (it == NULL) return NULL;
        if (PyCoro_CheckExact(it) || !PyIter_Check(it)) {
            PyErr_Format(PyExc_TypeError, "__await__() returned %s, not an iterator",
                         PyCoro_CheckExact(it) ? "a coroutine" : Py_TYPE(it)->tp_name);
            Py_DECREF(it);
            return NULL;
        }
        return it;
    }
    PyErr_Format(PyExc_TypeError, "object %.100s can't be used in 'await' expression",
                 t->tp_name);
    return NULL;
}

/* Send `value` into, or throw `thrown` into, an iterator being awaited. */
static PySendResult drive(PyObject *inner, PyObject *value, PyObject *thrown, PyObject **result)
{
    if (thrown == NULL) return PyIter_Send(inner, value, result);
    PyObject *meth = PyObject_GetAttrString(inner, "throw");
    if (meth == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return PYGEN_ERROR;
        PyErr_Clear();
        zr_restore_exception(Py_NewRef(thrown));
        return PYGEN_ERROR;
    }
    PyObject *r = PyObject_CallOneArg(meth, thrown);
    Py_DECREF(meth);
    if (r != NULL) {
        *result = r;
        return PYGEN_NEXT;
    }
    if (!PyErr_ExceptionMatches(PyExc_StopIteration)) return PYGEN_ERROR;
    PyObject *stop = zr_fetch_exception();
    PyObject *v = stop ? PyObject_GetAttrString(stop, "value") : NULL;
    Py_XDECREF(stop);
    if (v == NULL) return PYGEN_ERROR;
    *result = v;
    return PYGEN_RETURN;
}

static void cancel_timer(zr_RetryAwaitableObject *self)
{
    if (self->timer != NULL) {
        PyObject *r = PyObject_CallMethod(self->timer, "cancel", NULL);
        if (r == NULL) PyErr_WriteUnraisable(self->timer);
        Py_XDECREF(r);
    }
    Py_CLEAR(self->timer);
    Py_CLEAR(self->fut);
}

/* Release everything a finished call holds. */
static void finish(zr_RetryAwaitableObject *self)
{
    self->phase = PH_DONE;
    Py_CLEAR(self->inner);
    Py_CLEAR(self->token);
    Py_CLEAR(self->fut);
    Py_CLEAR(self->timer);
}

/* Start the builtin sleep: a future resolved by loop.call_later. 0 or -1. */
static int start_builtin_sleep(zr_RetryAwaitableObject *self, double delay, PyObject **yielded)
{
    zr_module_state *st = self->owner->spec->st;
    if (st->get_running_loop == NULL) {
        PyObject *mod = PyImport_ImportModule("asyncio");
        if (mod == NULL) return -1;
        st->get_running_loop = PyObject_GetAttrString(mod, "get_running_loop");
        Py_DECREF(mod);
        if (st->get_running_loop == NULL) return -1;
    }
    PyObject *loop = PyObject_CallNoArgs(st->get_running_loop);
    if (loop == NULL) return -1;
    PyObject *fut = PyObject_CallMethod(loop, "create_future", NULL);
    if (fut == NULL) {
        Py_DECREF(loop);
        return -1;
    }
    PyObject *timer = PyObject_CallMethod(loop, "call_later", "dOO", delay, st->wake, fut);
    Py_DECREF(loop);
    if (timer == NULL || PyObject_SetAttrString(fut, "_asyncio_future_blocking", Py_True) < 0) {
        Py_XDECREF(timer);
        Py_DECREF(fut);
        return -1;
    }
    self->fut = fut;
    self->timer = timer;
    *yielded = Py_NewRef(fut);
    return 0;
}

/* The state machine. Exactly one of `value` (send) or `thrown` (throw) is given.
 * Called only through step() (or am_send), which refuses re-entry. */
static PySendResult step_impl(zr_RetryAwaitableObject *self, PyObject *value, PyObject *thrown,
                              PyObject **result)
{
    zr_RetrySpecObject *spec;
    PyObject *exc = NULL, *res = NULL, *r = NULL, *out = NULL;
    PySendResult sr;

    switch (self->phase) {
    case PH_DONE:
        if (thrown != NULL) {
            zr_restore_exception(Py_NewRef(thrown));
            return PYGEN_ERROR;
        }
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited coroutine");
        return PYGEN_ERROR;
    case PH_INIT:
        if (thrown != NULL) {
            finish(self);
            zr_restore_exception(Py_NewRef(thrown));
            return PYGEN_ERROR;
        }
        if (value != Py_None) {
            PyErr_SetString(PyExc_TypeError,
                            "can't send non-None value to a just-started coroutine");
            return PYGEN_ERROR;
        }
        if (zr_spec_begin(self->owner->spec, &self->call) < 0) goto fail;
        goto start_attempt;
    case PH_ATTEMPT:
        if (self->inner == NULL) { /* the fast path's first attempt raised (error is set) */
            spec = self->owner->spec;
            exc = zr_fetch_exception();
            goto attempt_failed;
        }
        goto drive_attempt;
    case PH_HOOK:
        sr = drive(self->inner, value, thrown, &r);
        if (sr == PYGEN_NEXT) {
            *result = r;
            return PYGEN_NEXT;
        }
        Py_CLEAR(self->inner);
        if (sr == PYGEN_ERROR) goto fail;
        Py_DECREF(r);
        goto start_sleep;
    case PH_SLEEP:
        if (self->inner != NULL) { /* injected sleep awaitable */
            sr = drive(self->inner, value, thrown, &r);
            if (sr == PYGEN_NEXT) {
                *result = r;
                return PYGEN_NEXT;
            }
            Py_CLEAR(self->inner);
            if (sr == PYGEN_ERROR) goto fail;
            Py_DECREF(r);
            goto start_attempt;
        }
        if (thrown != NULL) { /* cancelled (or anything else) during the sleep */
            cancel_timer(self);
            finish(self);
            zr_restore_exception(Py_NewRef(thrown));
            zr_obs_abort(self->owner->spec, &self->call);
            return PYGEN_ERROR;
        }
        cancel_timer(self); /* woken: the timer already fired; drop both */
        goto start_attempt;
    }
    PyErr_SetString(PyExc_SystemError, "RetryAwaitable in an unknown phase");
    return PYGEN_ERROR;

start_attempt:
    spec = self->owner->spec;
    self->call.attempt++;
    if (zr_spec_enter(spec, &self->token) < 0) {
        PyObject *err = zr_fetch_exception();
        if (err == NULL) goto fail;
        zr_obs_refused(spec, &self->call, err);
        out = zr_spec_stop_with(spec, &self->call, err);
        Py_DECREF(err);
        goto stop;
    }
    zr_obs_attempt(spec, &self->call);
    {
        PyObject *coro = PyObject_Vectorcall(self->owner->func, self->argv + 1,
                                             (size_t)self->nargs | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                             self->kwnames);
        if (coro == NULL) {
            exc = zr_fetch_exception();
            goto attempt_failed;
        }
        self->inner = await_iter(coro);
        Py_DECREF(coro);
        if (self->inner == NULL) { /* not awaitable: a programming error, never retried */
            PyObject *token = self->token;
            self->token = NULL;
            exc = zr_fetch_exception();
            if (zr_spec_exit(spec, token, exc) == 0) zr_restore_exception(exc);
            else Py_XDECREF(exc);
            goto fail;
        }
    }
    self->phase = PH_ATTEMPT;
    value = Py_None;
    thrown = NULL;

drive_attempt:
    spec = self->owner->spec;
    sr = drive(self->inner, value, thrown, &r);
    if (sr == PYGEN_NEXT) {
        *result = r;
        return PYGEN_NEXT;
    }
    Py_CLEAR(self->inner);
    if (sr == PYGEN_RETURN) {
        PyObject *token = self->token;
        self->token = NULL;
        if (zr_spec_exit(spec, token, NULL) < 0) {
            Py_DECREF(r);
            goto fail;
        }
        int rejected = zr_spec_result_rejected(spec, r);
        if (rejected == 0) {
            zr_obs_success(spec, &self->call, r);
            finish(self);
            *result = r;
            return PYGEN_RETURN;
        }
        if (rejected < 0) {
            Py_DECREF(r);
            goto fail;
        }
        res = r;
        goto after_failure;
    }
    exc = zr_fetch_exception();

attempt_failed:
    {
        PyObject *token = self->token;
        self->token = NULL;
        if (zr_spec_exit(spec, token, exc) < 0) {
            Py_XDECREF(exc);
            goto fail;
        }
    }

after_failure: {
    double delay = 0.0;
    int next = zr_spec_after_failure(spec, &self->call, exc, res, &delay, &out);
    if (next != ZR_NEXT_RETRY) {
        Py_XDECREF(exc);
        Py_XDECREF(res);
        if (next < 0) goto fail;
        goto stop;
    }
    self->delay = delay;
    if (spec->on_retry != NULL) {
        PyObject *info = zr_spec_attempt_info(spec, &self->call, exc, res, delay);
        Py_XDECREF(exc);
        Py_XDECREF(res);
        if (info == NULL) goto fail;
        PyObject *fn = Py_NewRef(spec->on_retry);
        PyObject *hr = PyObject_CallOneArg(fn, info);
        Py_DECREF(fn);
        Py_DECREF(info);
        if (hr == NULL) goto fail;
        if (PyCoro_CheckExact(hr) ||
            (Py_TYPE(hr)->tp_as_async != NULL && Py_TYPE(hr)->tp_as_async->am_await != NULL)) {
            self->inner = await_iter(hr);
            Py_DECREF(hr);
            if (self->inner == NULL) goto fail;
            self->phase = PH_HOOK;
            sr = drive(self->inner, Py_None, NULL, &r);
            if (sr == PYGEN_NEXT) {
                *result = r;
                return PYGEN_NEXT;
            }
            Py_CLEAR(self->inner);
            if (sr == PYGEN_ERROR) goto fail;
            Py_DECREF(r);
        }
        else {
            Py_DECREF(hr);
        }
    }
    else {
        Py_XDECREF(exc);
        Py_XDECREF(res);
    }
    exc = res = NULL;
}

start_sleep:
    spec = self->owner->spec;
    if (self->delay <= 0.0) goto start_attempt; /* a zero delay never sleeps */
    {
        int skip = zr_test_skip_sleep(spec->st, self->delay);
        if (skip < 0) goto fail;
        if (skip) goto start_attempt;
    }
    self->phase = PH_SLEEP;
    if (spec->sleep != NULL) {
        PyObject *arg = PyFloat_FromDouble(self->delay);
        if (arg == NULL) goto fail;
        PyObject *fn = Py_NewRef(spec->sleep);
        PyObject *sl = PyObject_CallOneArg(fn, arg);
        Py_DECREF(fn);
        Py_DECREF(arg);
        if (sl == NULL) goto fail;
        if (PyCoro_CheckExact(sl) ||
            (Py_TYPE(sl)->tp_as_async != NULL && Py_TYPE(sl)->tp_as_async->am_await != NULL)) {
            self->inner = await_iter(sl);
            Py_DECREF(sl);
            if (self->inner == NULL) goto fail;
            sr = drive(self->inner, Py_None, NULL, &r);
            if (sr == PYGEN_NEXT) {
                *result = r;
                return PYGEN_NEXT;
            }
            Py_CLEAR(self->inner);
            if (sr == PYGEN_ERROR) goto fail;
            Py_DECREF(r);
        }
        else {
            Py_DECREF(sl);
        }
        goto start_attempt;
    }
    if (start_builtin_sleep(self, self->delay, &r) < 0) goto fail;
    *result = r;
    return PYGEN_NEXT;

stop:
    finish(self);
    if (out == NULL) return PYGEN_ERROR;
    *result = out;
    return PYGEN_RETURN;

fail:
    finish(self);
    if (self->owner != NULL) zr_obs_abort(self->owner->spec, &self->call);
    return PYGEN_ERROR;
}

/* Refuse to run the state machine while it already runs (a hook or the attempt itself
 * sending into, throwing into or closing this very awaitable, as generators refuse with
 * "generator already executing"), or once the GC has cleared it. 0 or -1. */
static int enter_running(zr_RetryAwaitableObject *self)
{
    if (self->running) {
        PyErr_SetString(PyExc_ValueError, "coroutine already executing");
        return -1;
    }
    if (self->owner == NULL && self->phase != PH_DONE) { /* cleared by the GC */
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited coroutine");
        return -1;
    }
    self->fast = 0;
    self->running = 1;
    return 0;
}

static PySendResult step(zr_RetryAwaitableObject *self, PyObject *value, PyObject *thrown,
                         PyObject **result)
{
    if (enter_running(self) < 0) return PYGEN_ERROR;
    PySendResult sr = step_impl(self, value, thrown, result);
    self->running = 0;
    if (self->phase == PH_DONE && self->owner != NULL) release_call(self, 1);
    return sr;
}

/* The first attempt of a simple spec did not simply return: `coro` is what the function
 * gave (NULL with an exception set if it raised), `sr`/`r` the outcome of its first send
 * when it is a native coroutine. Count the attempt and hand over to the general
 * machinery. Called with `running` set; clears it. */
static ZR_NOINLINE PySendResult first_attempt_rest(zr_RetryAwaitableObject *self, PyObject *coro,
                                                  PySendResult sr, PyObject *r,
                                                  PyObject **result)
{
    zr_RetryingObject *owner = self->owner;
    zr_RetrySpecObject *spec = owner->spec;
    /* what zr_spec_begin does for a simple spec (no clock, no budget) */
    zr_call_reset(&self->call);
    if (spec->metrics != NULL) zr_metrics_begin(&spec->metrics->m);
    if (spec->metrics != NULL) zr_metrics_attempt(&spec->metrics->m);
    self->call.attempt = 1;
    self->delay = 0.0;
    self->phase = PH_ATTEMPT;
    if (coro != NULL && PyCoro_CheckExact(coro)) {
        if (sr == PYGEN_NEXT) { /* it suspended: continue as the general loop */
            self->inner = coro;
            self->running = 0;
            *result = r;
            return PYGEN_NEXT;
        }
        Py_DECREF(coro);
        sr = step_impl(self, NULL, NULL, result); /* the attempt failed: decide */
    }
    else if (coro == NULL) {
        sr = step_impl(self, NULL, NULL, result);
    }
    else { /* not a native coroutine: drive what its __await__ gives */
        self->inner = await_iter(coro);
        Py_DECREF(coro);
        if (self->inner == NULL) {
            finish(self);
            sr = PYGEN_ERROR;
        }
        else {
            sr = step_impl(self, Py_None, NULL, result);
        }
    }
    self->running = 0;
    if (self->phase == PH_DONE && self->owner != NULL) release_call(self, 1);
    return sr;
}

/* Every send but the first one of a simple spec's call (a function without a vectorcall
 * entry of its own starts through the state machine too). */
static ZR_NOINLINE PySendResult am_send_general(zr_RetryAwaitableObject *self, PyObject *arg,
                                               PyObject **result)
{
    if (arg == NULL) arg = Py_None;
    if (enter_running(self) < 0) return PYGEN_ERROR;
    PySendResult sr = step_impl(self, arg, NULL, result);
    self->running = 0;
    if (self->phase == PH_DONE && self->owner != NULL) release_call(self, 1);
    return sr;
}

/* am_send. The success path of a simple spec runs here in place: call the function, send
 * None into its coroutine and, if that returns, finish without the state machine. */
ZR_HOT static PySendResult RetryAwaitable_am_send(zr_RetryAwaitableObject *self, PyObject *arg,
                                           PyObject **result)
{
    zr_RetryingObject *owner = self->owner;
    if (ZR_LIKELY(self->fast && (arg == Py_None || arg == NULL))) {
        self->fast = 0;
        self->running = 1;
        PyObject *coro = owner->func_vectorcall(
            owner->func, self->argv + 1, (size_t)self->nargs | PY_VECTORCALL_ARGUMENTS_OFFSET,
            self->kwnames);
        PyObject *r = NULL;
        PySendResult sr = PYGEN_ERROR;
        if (ZR_LIKELY(coro != NULL && PyCoro_CheckExact(coro))) {
            /* native coroutines always have am_send (CPython >= 3.10) */
            sr = Py_TYPE(coro)->tp_as_async->am_send(coro, Py_None, &r);
            if (ZR_LIKELY(sr == PYGEN_RETURN)) {
                Py_DECREF(coro);
                self->running = 0;
                self->phase = PH_DONE;
                self->call.attempt = 1;
                zr_MetricsObject *mo = owner->spec->metrics;
                if (mo != NULL) zr_metrics_first_try(&mo->m);
                *result = r;
                release_call(self, 1);
                return PYGEN_RETURN;
            }
        }
        return first_attempt_rest(self, coro, sr, r, result);
    }
    return am_send_general(self, arg, result);
}

/* __next__: what `await` uses on CPython >= 3.12 (SEND calls tp_iternext for objects that
 * are not native coroutines), so it takes the same in-place first attempt as am_send. */
ZR_HOT static PyObject *RetryAwaitable_iternext(zr_RetryAwaitableObject *self)
{
    PyObject *r = NULL;
    PySendResult sr = RetryAwaitable_am_send(self, Py_None, &r);
    return zr_iter_result(self->st, sr, r, 1);
}

static PyObject *RetryAwaitable_send(zr_RetryAwaitableObject *self, PyObject *value)
{
    PyObject *r = NULL;
    PySendResult sr = step(self, value, NULL, &r);
    return zr_iter_result(NULL, sr, r, 0);
}

static PyObject *RetryAwaitable_throw(zr_RetryAwaitableObject *self, PyObject *const *args,
                                      Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_Format(PyExc_TypeError, "throw expected 1 to 3 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *typ = args[0], *val = nargs > 1 ? args[1] : Py_None,
             *tb = nargs > 2 ? args[2] : Py_None;
    PyObject *exc;
    if (PyExceptionInstance_Check(typ)) {
        if (val != Py_None) {
            PyErr_SetString(PyExc_TypeError, "instance exception may not have a separate value");
            return NULL;
        }
        exc = Py_NewRef(typ);
    }
    else if (PyExceptionClass_Check(typ)) {
        if (PyObject_TypeCheck(val, (PyTypeObject *)typ)) exc = Py_NewRef(val);
        else if (val == Py_None) exc = PyObject_CallNoArgs(typ);
        else exc = PyObject_CallOneArg(typ, val);
        if (exc == NULL) return NULL;
        if (!PyExceptionInstance_Check(exc)) {
            PyErr_Format(PyExc_TypeError, "calling %R should have returned an instance of "
                         "BaseException, not %s", typ, Py_TYPE(exc)->tp_name);
            Py_DECREF(exc);
            return NULL;
        }
    }
    else {
        PyErr_Format(PyExc_TypeError,
                     "exceptions must be classes or instances deriving from BaseException, "
                     "not %s", Py_TYPE(typ)->tp_name);
        return NULL;
    }
    if (tb != Py_None) {
        if (!PyTraceBack_Check(tb)) {
            Py_DECREF(exc);
            PyErr_SetString(PyExc_TypeError, "throw() third argument must be a traceback object");
            return NULL;
        }
        if (PyException_SetTraceback(exc, tb) < 0) {
            Py_DECREF(exc);
            return NULL;
        }
    }
    PyObject *r = NULL;
    PySendResult sr = step(self, NULL, exc, &r);
    Py_DECREF(exc);
    return zr_iter_result(NULL, sr, r, 0);
}

static PyObject *RetryAwaitable_close(zr_RetryAwaitableObject *self, PyObject *noargs)
{
    (void)noargs;
    if (self->running) {
        PyErr_SetString(PyExc_ValueError, "coroutine already executing");
        return NULL;
    }
    PyObject *inner = self->inner;
    self->inner = NULL;
    self->fast = 0;
    int phase = self->phase;
    cancel_timer(self);
    finish(self);
    if (phase != PH_INIT && phase != PH_DONE && self->owner != NULL) {
        /* closed mid-call: counted and observed as a cancellation */
        PyErr_SetNone(PyExc_GeneratorExit);
        zr_obs_abort(self->owner->spec, &self->call);
        PyErr_Clear();
    }
    if (self->owner != NULL) release_call(self, 1);
    if (inner != NULL && phase != PH_DONE) {
        PyObject *r = PyObject_CallMethod(inner, "close", NULL);
        Py_DECREF(inner);
        if (r == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return NULL;
            PyErr_Clear();
        }
        Py_XDECREF(r);
    }
    else {
        Py_XDECREF(inner);
    }
    Py_RETURN_NONE;
}

ZR_HOT static PyObject *RetryAwaitable_await(PyObject *self) { return Py_NewRef(self); }

static PyObject *get_attempt(zr_RetryAwaitableObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(self->call.attempt);
}

static PyObject *get_name(zr_RetryAwaitableObject *self, void *c)
{
    (void)c;
    if (self->func == NULL) Py_RETURN_NONE;
    PyObject *n = PyObject_GetAttrString(self->func, "__qualname__");
    if (n == NULL) {
        PyErr_Clear();
        return PyObject_Repr(self->func);
    }
    return n;
}

static int RetryAwaitable_traverse(zr_RetryAwaitableObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->owner);
    Py_VISIT(self->func);
    Py_ssize_t n = total_args(self);
    for (Py_ssize_t i = 0; i < n; i++) Py_VISIT(self->argv[i + 1]);
    Py_VISIT(self->kwnames);
    Py_VISIT(self->inner);
    Py_VISIT(self->token);
    Py_VISIT(self->fut);
    Py_VISIT(self->timer);
    return 0;
}

static int RetryAwaitable_clear(zr_RetryAwaitableObject *self)
{
    self->fast = 0; /* owner goes: only the checked general path may run */
    Py_ssize_t n = total_args(self);
    for (Py_ssize_t i = 0; i < n; i++) Py_CLEAR(self->argv[i + 1]);
    self->nargs = 0;
    Py_CLEAR(self->kwnames);
    Py_CLEAR(self->owner);
    Py_CLEAR(self->func);
    Py_CLEAR(self->inner);
    Py_CLEAR(self->token);
    Py_CLEAR(self->fut);
    Py_CLEAR(self->timer);
    return 0;
}

static void RetryAwaitable_dealloc(zr_RetryAwaitableObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) PyObject_ClearWeakRefs((PyObject *)self);
    if (self->owner != NULL || self->nargs != 0 || self->kwnames != NULL) release_call(self, 0);
    if (self->inner || self->token || self->fut || self->timer || self->func) {
        Py_CLEAR(self->inner);
        Py_CLEAR(self->token);
        Py_CLEAR(self->fut);
        Py_CLEAR(self->timer);
        Py_CLEAR(self->func);
    }
    /* The type (a heap type holding the module) is still referenced here, so the module
     * state and its freelist are alive; after the module's m_clear the type slot is NULL
     * and objects are simply freed. Recycled objects keep every field empty. */
    zr_module_state *st = self->st;
    if (tp == st->RetryAwaitable_Type && self->weakreflist == NULL &&
        st->awaitable_free < (int)(sizeof st->awaitable_freelist / sizeof *st->awaitable_freelist)) {
        st->awaitable_freelist[st->awaitable_free++] = (PyObject *)self;
    }
    else {
        PyObject_GC_Del(self);
    }
    Py_DECREF(tp);
}

static PyMethodDef RetryAwaitable_methods[] = {
    {"send", (PyCFunction)RetryAwaitable_send, METH_O, "send(value) -> next yielded value."},
    {"throw", (PyCFunction)(void (*)(void))RetryAwaitable_throw, METH_FASTCALL,
     "throw(exc) -> raise exc inside the running attempt (or the sleep)."},
    {"close", (PyCFunction)RetryAwaitable_close, METH_NOARGS,
     "close() -> stop the call, closing the running attempt and cancelling any sleep."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef RetryAwaitable_getset[] = {
    {"attempt", (getter)get_attempt, NULL, "Number of the attempt running (or last run).",
     NULL},
    {"__name__", (getter)get_name, NULL, "Name of the wrapped function.", NULL},
    {"__qualname__", (getter)get_name, NULL, "Qualified name of the wrapped function.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef RetryAwaitable_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(zr_RetryAwaitableObject, weakreflist), READONLY,
     NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot RetryAwaitable_slots[] = {
    {Py_tp_doc, "One call of an async retrying function: await it (or run it as a task)."},
    {Py_am_await, RetryAwaitable_await},
    {Py_am_send, RetryAwaitable_am_send},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, RetryAwaitable_iternext},
    {Py_tp_dealloc, RetryAwaitable_dealloc},
    {Py_tp_traverse, RetryAwaitable_traverse},
    {Py_tp_clear, RetryAwaitable_clear},
    {Py_tp_methods, RetryAwaitable_methods},
    {Py_tp_getset, RetryAwaitable_getset},
    {Py_tp_members, RetryAwaitable_members},
    {0, NULL},
};

PyType_Spec zr_retry_awaitable_spec = {
    .name = "zenoo_retry._core.RetryAwaitable",
    .basicsize = sizeof(zr_RetryAwaitableObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
#if PY_VERSION_HEX >= 0x030A0000
             | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
    ,
    .slots = RetryAwaitable_slots,
};
