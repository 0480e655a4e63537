/*
 * zr_module.h - what the files of the CPython binding share: the per-module state, the
 * type specs each file exports, and small compatibility helpers for CPython 3.10-3.13.
 *
 * Only this directory includes Python.h; the engine in src/core never does.
 * One .c file per exported type; module.c assembles them (PEP 489 multi-phase init,
 * heap types, per-module state per PEP 630).
 */
#ifndef ZR_MODULE_H
#define ZR_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "../core/zr_backoff.h"
#include "../core/zr_clock.h"
#include "../core/zr_breaker.h" /* circuit breakers (issue 4) */
#include "../core/zr_metrics.h"

#if defined(__GNUC__) || defined(__clang__)
#define ZR_LIKELY(x) __builtin_expect(!!(x), 1)
#define ZR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ZR_NOINLINE __attribute__((noinline, cold)) /* a slow path, out of the hot callers */
/* the success-path entry points: kept together in .text.hot, so that their placement
 * (and with it their speed) does not depend on what else the extension contains */
#define ZR_HOT __attribute__((hot))
#else
#define ZR_HOT
#define ZR_NOINLINE
#define ZR_LIKELY(x) (x)
#define ZR_UNLIKELY(x) (x)
#endif

/* Per-module state: every type and imported object the binding needs. */
typedef struct zr_module_state {
    PyTypeObject *Backoff_Type;
    PyTypeObject *RetryAttempt_Type;
    PyTypeObject *RetrySpec_Type;
    PyTypeObject *Retrying_Type;
    PyTypeObject *AsyncRetrying_Type;
    PyTypeObject *RetryAwaitable_Type;
    PyTypeObject *AwaitableReturn_Type;

    /* circuit breakers (issue 4) */
    PyTypeObject *CircuitBreaker_Type;
    PyTypeObject *BreakerCall_Type;
    PyTypeObject *BreakerAwaitable_Type;
    PyObject *breaker_mode_names[5]; /* interned "closed", "open", ... by zr_breaker_mode */

    /* retry budgets and adaptive strategy (issue 4) */
    PyTypeObject *RetryBudget_Type;     /* budget_type.c */
    PyTypeObject *AdaptiveBackoff_Type; /* adaptive_type.c */

    /* shared memory (issue 5) */
    PyObject *shm_dir; /* str: directory override (zenoo_retry.shared.set_directory), or NULL */
    PyObject *SharedStateError;
    PyObject *SharedSegmentNotFoundError;
    PyObject *SharedSegmentCorruptedError;
    PyObject *SharedSegmentVersionError;
    PyObject *SharedSegmentPermissionError;
    PyObject *SharedConfigMismatchError;
    uint64_t fork_gen; /* bumped in the child after each os.fork (shared owner pids) */

    /* observability (issue 6) */
    PyTypeObject *OperationMetrics_Type;
    PyObject *log_hook; /* callable(kind, info, error) told of retries and give-ups, or NULL */

    /* operations toolkit (issue 7) */

    /* exceptions, defined in zenoo_retry/exceptions.py and imported at module exec */
    PyObject *InvalidConfigurationError;
    PyObject *MaxRetriesExceededError;
    PyObject *RetryTimeoutError;
    PyObject *BudgetExhaustedError;
    PyObject *CircuitBreakerOpenError;
    /* imported lazily by the async path (NULL until first needed) */
    PyObject *get_running_loop; /* asyncio.get_running_loop */
    PyObject *wake;             /* _core._wake(fut): resolve a sleep future */
    PyObject *time_sleep;       /* time.sleep, the default sync sleep */
    /* test mode (zenoo_retry.testing): sleeps become instant, attempts may be capped */
    int test_instant;
    uint32_t test_max_attempts; /* 0: no cap */
    PyObject *test_recorder;    /* callable(delay) told of every skipped sleep, or NULL */
    /* recycled RetryAwaitable objects (see retry_awaitable_type.c) */
    PyObject *awaitable_freelist[16];
    int awaitable_free;
    /* recycled AwaitableReturn objects (see awaitable_return_type.c) */
    PyObject *return_freelist[8];
    int return_free;
} zr_module_state;

extern PyModuleDef zr_module_def;

/* --- type specs: one per file --------------------------------------------------- */
extern PyType_Spec zr_backoff_spec;         /* backoff_type.c */
extern PyType_Spec zr_retry_attempt_spec;   /* retry_attempt_type.c */
extern PyType_Spec zr_retry_spec_spec;      /* retry_spec_type.c */
extern PyType_Spec zr_retrying_spec;        /* retrying_type.c */
extern PyType_Spec zr_async_retrying_spec;  /* async_retrying_type.c */
extern PyType_Spec zr_retry_awaitable_spec; /* retry_awaitable_type.c */
extern PyType_Spec zr_awaitable_return_spec; /* awaitable_return_type.c */

/* Raise StopIteration(value) as a recycled AwaitableReturn (consumes value); on memory
 * errors MemoryError is set instead. awaitable_return_type.c. */
void zr_raise_return(zr_module_state *st, PyObject *value);
/* Free the recycled AwaitableReturn objects (module clear). */
void zr_return_freelist_clear(zr_module_state *st);

/* circuit breakers (issue 4) */
extern PyType_Spec zr_circuit_breaker_spec; /* breaker_type.c */
extern PyType_Spec zr_breaker_call_spec;    /* breaker_call_type.c */
extern PyType_Spec zr_breaker_awaitable_spec; /* breaker_awaitable_type.c */

/* A circuit breaker: immutable config + a pointer to its mutable state. The state is
 * private memory (own_state) in-process; the shared-memory layer (issue 5) points `state`
 * into a segment and sets `shm`, and the lock helpers then take the segment's robust
 * mutex (zr_cb_lock/zr_cb_unlock are the only way any code touches *state). */
typedef struct zr_CircuitBreakerObject {
    PyObject_HEAD
    zr_module_state *st;        /* borrowed: module outlives instances (module is held) */
    PyObject *module;           /* strong */
    zr_breaker_config cfg;
    zr_breaker_state *state;    /* -> own_state or into a shared segment */
    void *own_state;            /* PyMem block of zr_breaker_state_size(&cfg), or NULL */
    struct zr_shared *shm;      /* segment holding *state (issue 5), or NULL: private */
    uint64_t owner;             /* owner id recorded on probe permits: 0, or pid when shared */
    PyObject *expected;         /* tuple of exception classes counted as failures */
    PyObject *clock;            /* callable() -> seconds, or NULL: CLOCK_MONOTONIC(_COARSE) */
    PyObject *listeners;        /* tuple of callables(breaker, old, new) */
    PyObject *name;             /* str */
    PyObject *token_cache;      /* bytes permit reused for closed-state tokens, or NULL */
    uint64_t token_epoch;       /* epoch token_cache belongs to */
    int precise;                /* slow-call rule on: read the fine clock */
    int plain;                  /* private state, no window, no slow-call rule: a closed
                                 * breaker's success needs no permit (zr_cb_closed_*) */
    PyObject *cm_var;           /* ContextVar: stack (tuple) of `with` permits, or NULL */
    PyObject *dict;
    PyObject *weakreflist;
} zr_CircuitBreakerObject;

/* The one lock pair around every access to cb->state. Private state: nothing to do (the
 * GIL is held and no Python code runs while the state is touched). Shared state (issue 5):
 * the segment's robust mutex; a dead previous holder is repaired after. 0 or -1 (OSError). */
int zr_cb_lock_shared(zr_CircuitBreakerObject *cb);
void zr_cb_unlock_shared(zr_CircuitBreakerObject *cb);
static inline int zr_cb_lock(zr_CircuitBreakerObject *cb)
{
    return ZR_LIKELY(cb->shm == NULL) ? 0 : zr_cb_lock_shared(cb);
}
static inline void zr_cb_unlock(zr_CircuitBreakerObject *cb)
{
    if (ZR_UNLIKELY(cb->shm != NULL)) zr_cb_unlock_shared(cb);
}

/* Admission for one call (C fast path of decorators and RetrySpec). 0: admitted, *permit
 * filled. -1: refused (CircuitBreakerOpenError set) or failed (exception set). Listeners of
 * a transition are called before returning. */
int zr_cb_acquire(zr_CircuitBreakerObject *cb, zr_breaker_permit *permit);

/* Same, inlined: the clock-free closed-state fast path, else zr_cb_acquire. */
static inline int zr_cb_acquire_inline(zr_CircuitBreakerObject *cb, zr_breaker_permit *permit)
{
    if (ZR_LIKELY(cb->shm == NULL) && ZR_LIKELY(zr_breaker_acquire_fast(&cb->cfg, cb->state, permit)))
        return 0;
    return zr_cb_acquire(cb, permit);
}

/* Report the outcome of an admitted call: exc NULL is success; an Exception matching
 * expected_exception is a failure; another Exception counts as success; a BaseException
 * that is not an Exception (CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit)
 * is ignored. Must be called with no exception set; never raises (clock or listener errors
 * go to sys.unraisablehook). */
void zr_cb_release(zr_CircuitBreakerObject *cb, const zr_breaker_permit *permit, PyObject *exc);

/* The closed-state success path of a plain breaker, split around the user's call, for
 * wrappers that call the function themselves (BreakerCall, Retrying):
 * zr_cb_closed_admit: 1 if the breaker is plain and CLOSED: the call is admitted (counted)
 * and *epoch is the state's epoch; 0, changing nothing, otherwise (use zr_cb_acquire).
 * zr_cb_closed_success: after a successful call admitted so: 1 if the breaker is still in
 * that closed epoch and the success is recorded; 0, changing nothing, if the state moved
 * on meanwhile (another thread tripped it): then release zr_cb_closed_permit(epoch).
 * Both do exactly what zr_breaker_acquire_fast / zr_breaker_release_success_fast do. */
static inline int zr_cb_closed_admit(zr_CircuitBreakerObject *cb, uint64_t *epoch)
{
    zr_breaker_state *s = cb->state;
    if (!cb->plain || s->mode != ZR_BREAKER_CLOSED) return 0;
    *epoch = s->epoch;
    s->admitted = zr_sat_add_u64(s->admitted, 1);
    return 1;
}

static inline int zr_cb_closed_success(zr_CircuitBreakerObject *cb, uint64_t epoch)
{
    zr_breaker_state *s = cb->state; /* plain: never replaced after init */
    /* every mode change of a private state starts a new epoch (set_mode), so the same
     * epoch means still CLOSED (the epoch saturates only after 2**64 transitions; even
     * then a success miscounted here only resets counters an open breaker ignores) */
    if (s->epoch != epoch) return 0;
    s->successes = zr_sat_add_u64(s->successes, 1);
    s->consecutive_successes = zr_sat_inc_u32(s->consecutive_successes);
    s->consecutive_failures = 0;
    return 1;
}

/* The permit zr_breaker_acquire_fast would have handed out in that closed epoch. */
static inline zr_breaker_permit zr_cb_closed_permit(uint64_t epoch)
{
    zr_breaker_permit p = {epoch, 0.0, ZR_BREAKER_NO_SLOT, 0};
    return p;
}

/* A success, inlined: the clock-free closed-state fast path, else zr_cb_release. */
static inline void zr_cb_release_success_inline(zr_CircuitBreakerObject *cb,
                                                const zr_breaker_permit *permit)
{
    if (ZR_LIKELY(cb->shm == NULL) &&
        ZR_LIKELY(zr_breaker_release_success_fast(&cb->cfg, cb->state, permit)))
        return;
    zr_cb_release(cb, permit, NULL);
}

/* Return a permit without counting an outcome (an abandoned or closed call). */
void zr_cb_release_ignored(zr_CircuitBreakerObject *cb, const zr_breaker_permit *permit);

/* An awaitable running `coro` (borrowed; the awaitable keeps a reference) through the
 * breaker: admission at its first step, the outcome at its end. New ref or NULL. */
PyObject *zr_breaker_awaitable_new(zr_CircuitBreakerObject *breaker, PyObject *coro);

/* The _zr_enter/_zr_exit protocol in C (RetrySpec uses these directly for this type).
 * enter: 0 with *token (new ref, opaque) or -1 with an exception set.
 * exit: consumes token; 0, or -1 if token is not one of ours (TypeError). */
int zr_cb_enter(PyObject *breaker, PyObject **token);
int zr_cb_exit(PyObject *breaker, PyObject *token, PyObject *exc);

/* 1 if breaker is a C circuit breaker whose _zr_enter/_zr_exit are not overridden. */
int zr_cb_is_native(zr_module_state *st, PyObject *breaker);

/* Before sleeping `delay` seconds for a retry: 1 if the breaker will still refuse when the
 * sleep ends (CircuitBreakerOpenError set, retry is pointless), 0 if it may admit, -1 on
 * error. */
int zr_cb_refuses_after(PyObject *breaker, double delay);

/* retry budgets and adaptive strategy (issue 4) */
extern PyType_Spec zr_retry_budget_spec; /* budget_type.c */
extern PyType_Spec zr_adaptive_spec;     /* adaptive_type.c */
/* RetrySpec's C fast path. *_fast_ok: 1 if obj is our C type and does not override the
 * protocol methods (then call the functions below instead of bound methods), 0 if not,
 * -1 on error. The others return 0, or -1 with an exception set. */
int zr_budget_fast_ok(zr_module_state *st, PyObject *obj);
int zr_budget_object_on_request(PyObject *budget);
int zr_budget_object_try_retry(PyObject *budget, int *granted);
int zr_adaptive_fast_ok(zr_module_state *st, PyObject *obj);
int zr_is_adaptive(zr_module_state *st, PyObject *obj); /* an AdaptiveBackoff (or subtype) */
int zr_adaptive_object_record(PyObject *strategy, int success);
int zr_adaptive_object_delay(PyObject *strategy, uint64_t attempt, double prev, double *out);

/* shared memory (issue 5): shared_segments.c */
#include "../core/zr_shared.h"
/* Add the _shm_* module functions and import the SharedStateError classes. 0 or -1. */
int zr_segments_init(PyObject *module, zr_module_state *st);
/* The directory segments live in (override, $ZENOO_RETRY_SHM_DIR, or the default). */
int zr_shm_dir(zr_module_state *st, char *buf, size_t size);
/* Open the segment `name` (the value of parameter `param`, e.g. "shared") for an engine
 * struct: validates the name (InvalidConfigurationError), then raises a SharedStateError
 * subclass naming the segment and its problem (config mismatch, truncated, stale, ...).
 * 0, or -1 with an exception set and *sh untouched. */
int zr_shared_open_py(zr_module_state *st, zr_shared *sh, const char *param, PyObject *name,
                      uint32_t kind, uint64_t fingerprint, size_t payload_size,
                      zr_shm_init_fn init, void *init_arg, zr_shared_repair_fn repair,
                      void *repair_arg);
/* zr_shared_lock (repairing after a dead holder); -1 with SharedStateError if unusable. */
int zr_shared_lock_py(zr_module_state *st, zr_shared *sh);
/* zr_shared_lock for an object of one of our types (the error names obj's module's
 * SharedStateError). 0 or -1. */
int zr_shared_lock_obj(PyObject *obj, zr_shared *sh);
/* Open a segment for a budget / adaptive object (see zr_shared_open_py) into a new
 * PyMem-allocated handle: *out, or -1 with an exception. zr_shared_free closes and frees
 * (NULL is fine). */
int zr_shared_new(PyObject *obj, zr_shared **out, PyObject *name, uint32_t kind,
                  uint64_t fingerprint, size_t payload_size, zr_shm_init_fn init, void *init_arg,
                  zr_shared_repair_fn repair, void *repair_arg);
void zr_shared_free(zr_shared *sh);
/* The owner id (pid) to record for this process, refreshed after a fork. */
static inline uint64_t zr_shared_owner(zr_module_state *st, zr_shared *sh)
{
    if (ZR_UNLIKELY(sh->fork_gen != st->fork_gen)) {
        sh->pid = zr_self_pid();
        sh->fork_gen = st->fork_gen;
    }
    return (uint64_t)sh->pid;
}
/* shared_objects.c: a breaker's segment. attach: open segment `name` for cb's config and
 * move cb->state into it (0, or -1 with an exception: cb unchanged); detach: close it. */
int zr_cb_attach_shared(zr_CircuitBreakerObject *cb, PyObject *name);
void zr_cb_detach_shared(zr_CircuitBreakerObject *cb);
/* Lock-free success path of a closed shared breaker: 1 done, 0 use the locked path. */
int zr_cb_acquire_shared_fast(zr_CircuitBreakerObject *cb, zr_breaker_permit *permit);
int zr_cb_release_shared_fast(zr_CircuitBreakerObject *cb, const zr_breaker_permit *permit);
/* Under the lock, after a refusal in half-open: free probe slots of dead processes; 1 if
 * any was freed (try again), else 0. */
int zr_cb_reap_shared(zr_CircuitBreakerObject *cb);
/* The segment name (str) or None. */
PyObject *zr_cb_shared_name(zr_CircuitBreakerObject *cb);

/* observability (issue 6) */
extern PyType_Spec zr_operation_metrics_spec; /* metrics_type.c */
extern PyMethodDef zr_observability_functions[]; /* metrics_type.c: module functions */
PyObject *zr_metrics_snapshot(PyObject *module, PyObject *iterable);

/* OperationMetrics: the counters of one operation, bumped by the retry loops in C. */
typedef struct zr_MetricsObject {
    PyObject_HEAD
    zr_metrics m;
    PyObject *errors;         /* dict: exception class -> failed attempts (failures only) */
    PyObject *name;           /* operation name (str) */
    PyObject *operation_type; /* str or None */
    PyObject *tags;           /* dict str -> str */
    PyObject *weakreflist;
} zr_MetricsObject;

/* operations toolkit (issue 7) */


/* --- Backoff (backoff_type.c) ---------------------------------------------------- */
typedef struct {
    PyObject_HEAD
    zr_backoff_config cfg;
    zr_rng rng;
    PyObject *custom; /* callable(attempt, base_delay) -> seconds, or NULL */
    PyObject *dict;   /* instance __dict__ (subclasses and functools metadata) */
    PyObject *weakreflist;
} zr_BackoffObject;

/* Delay after attempt `attempt` of a sequence whose previous delay was `prev` (< 0: none).
 * Returns 0 and writes *out, or -1 with a Python exception set. May call the custom
 * schedule (user code, which may re-enter). */
int zr_backoff_object_delay(zr_BackoffObject *self, uint64_t attempt, double prev, double *out);

/* --- RetrySpec (retry_spec_type.c): a compiled retry policy ----------------------- */
typedef struct {
    PyObject_HEAD
    zr_module_state *st;         /* borrowed: the module outlives its types' instances */
    PyObject *module;            /* strong: keeps st alive */
    zr_BackoffObject *strategy;  /* the delay schedule */
    PyObject *delay_method;      /* bound get_delay when overridden by a subtype, else NULL */
    PyObject *record_method;     /* strategy._zr_record(success) (adaptive), else NULL */
    PyObject *retry_on;          /* tuple of exception classes to retry */
    PyObject *never_retry_on;    /* tuple of exception classes never to retry (may be empty) */
    PyObject *condition;         /* callable(exc, RetryAttempt) -> bool | seconds, or NULL */
    PyObject *result_predicate;  /* callable(result) -> truthy to retry, or NULL */
    PyObject *delay_hint;        /* callable(exc) -> seconds | None (Retry-After), or NULL */
    PyObject *on_retry;          /* callable(RetryAttempt), or NULL */
    PyObject *on_give_up;        /* callable(RetryAttempt) when the call finally fails, or NULL */
    PyObject *sleep;             /* callable(seconds), or NULL for the default */
    PyObject *clock;             /* callable() -> seconds, or NULL for CLOCK_MONOTONIC */
    PyObject *breaker;           /* circuit breaker (protocol _zr_enter/_zr_exit), or NULL */
    PyObject *breaker_enter;     /* bound breaker._zr_enter */
    PyObject *breaker_exit;      /* bound breaker._zr_exit */
    PyObject *budget;            /* retry budget (protocol _zr_on_request/_zr_try_retry), or NULL */
    PyObject *budget_on_request; /* bound budget._zr_on_request */
    PyObject *budget_try_retry;  /* bound budget._zr_try_retry */
    PyObject *fallback;          /* value returned when the call finally fails, or NULL */
    PyObject *fallback_factory;  /* callable(exc) giving that value, or NULL */
    PyObject *name;              /* operation name (str) */
    double timeout;              /* total deadline in seconds; < 0: none */
    uint32_t max_attempts;
    int reraise;                 /* raise the last original error instead of wrapping */
    int simple;                  /* success path needs nothing but the call */
    int needs_start;             /* read the clock when the call starts */
    double max_hint_delay;       /* cap for condition/delay_hint delays; < 0: max_delay */
    /* observability (issue 6) */
    zr_MetricsObject *metrics;   /* counters bumped in C, or NULL */
    PyObject *observer;          /* callable(kind, RetryAttempt, error) (events), or NULL */
    uint32_t observer_mask;      /* bit k set: the observer wants events of kind k */
    /* circuit breakers (issue 4) */
    int breaker_fast;            /* simple but for a C circuit breaker (checked inline) */
} zr_RetrySpecObject;

/* Per-call progress, kept on the C stack (sync) or in the awaitable (async). */
typedef struct zr_call {
    uint32_t attempt;   /* number of the attempt that ran last (1-based); 0 before the first */
    int has_start;      /* start holds a clock reading (spec->needs_start) */
    double start;       /* clock reading when the call started */
    double prev_delay;  /* the previous wait of this call; < 0: none yet */
    double total_delay; /* sum of the waits so far */
} zr_call;

/* A call before its first attempt: attempt 0, no start time, no previous delay (-1). */
void zr_call_reset(zr_call *call);

typedef enum { ZR_NEXT_RETRY = 0, ZR_NEXT_STOP = 1 } zr_next;

/* Test mode: 1 if a sleep of `delay` must be skipped (the recorder was told), 0 if it must
 * happen, -1 on error (recorder failed). */
int zr_test_skip_sleep(zr_module_state *st, double delay);

/* Current time for the spec's clock; -1 with an exception set if a custom clock failed. */
int zr_spec_now(zr_RetrySpecObject *spec, double *now);

/* Start a call: read the clock if needed, tell the budget about the request.
 * 0 or -1 with an exception set. */
int zr_spec_begin(zr_RetrySpecObject *spec, zr_call *call);

/* Admission before an attempt (breaker). Returns 0 with *token (new ref, may be Py_None)
 * when admitted, -1 with an exception set when refused or on error. */
int zr_spec_enter(zr_RetrySpecObject *spec, PyObject **token);

/* Report an attempt's outcome to the breaker and adaptive strategy. `exc` is NULL on
 * success. Consumes `token`. Must be called with no exception set; 0 or -1. */
int zr_spec_exit(zr_RetrySpecObject *spec, PyObject *token, PyObject *exc);

/* Decide what follows a failed attempt (exc != NULL, borrowed) or a rejected result
 * (exc == NULL, result borrowed). Requires no exception set.
 *  ZR_NEXT_RETRY: *delay is the wait before the next attempt; call->prev/total updated.
 *  ZR_NEXT_STOP:  *out is the value to return (new ref; fallback or reraised result), or
 *                 NULL with the exception to propagate set.
 * Returns -1 only when it could not decide (exception set; *out untouched). */
int zr_spec_after_failure(zr_RetrySpecObject *spec, zr_call *call, PyObject *exc,
                          PyObject *result, double *delay, PyObject **out);

/* Stop a call because `error` (borrowed, e.g. CircuitBreakerOpenError) ends it before
 * attempt call->attempt ran: tells on_give_up (about the attempts that ran), then applies
 * the fallback if any. Returns a new reference or NULL with `error` (or the hook's or
 * fallback's error) set. */
PyObject *zr_spec_stop_with(zr_RetrySpecObject *spec, zr_call *call, PyObject *error);

/* A RetryAttempt describing `call` (new ref) for hooks; next_delay < 0 gives None. */
PyObject *zr_spec_attempt_info(zr_RetrySpecObject *spec, zr_call *call, PyObject *exc,
                               PyObject *result, double next_delay);

/* Classify a successful result: 1 retry it, 0 accept it, -1 error. */
int zr_spec_result_rejected(zr_RetrySpecObject *spec, PyObject *result);

/* --- observation points (observe.c; observability, issue 6) ------------------------
 * The loops call these at fixed points; each is a no-op without metrics, observer and
 * log hook. Observer/log-hook errors never change the call: they are reported through
 * sys.unraisablehook (the Python dispatchers in zenoo_retry/events.py already catch and
 * log handler errors). None of them may be called with an exception set, except
 * zr_obs_abort, which keeps the set exception. */
typedef enum {
    ZR_EV_START = 0,     /* an attempt is about to run (info.number = its number) */
    ZR_EV_SUCCESS = 1,   /* the call returned a value (info.last_result) */
    ZR_EV_RETRY = 2,     /* an attempt failed and another follows after info.next_delay */
    ZR_EV_GIVE_UP = 3,   /* ZR_EV_GIVE_UP + zr_give_up_reason: the call ends with `error` */
    ZR_EV_CANCELLED = 8  /* cancelled or interrupted (`error` is the BaseException) */
} zr_event_kind;

void zr_obs_attempt(zr_RetrySpecObject *spec, zr_call *call);
void zr_obs_success(zr_RetrySpecObject *spec, zr_call *call, PyObject *result);
/* A failed attempt (exc may be NULL for a rejected result). Returns 1 if exc is not an
 * Exception (the call is cancelled: counted and told here), else 0. */
int zr_obs_failure(zr_RetrySpecObject *spec, zr_call *call, PyObject *exc);
void zr_obs_retry(zr_RetrySpecObject *spec, zr_call *call, PyObject *exc, PyObject *result,
                  double delay);
void zr_obs_give_up(zr_RetrySpecObject *spec, zr_call *call, PyObject *exc, PyObject *result,
                    PyObject *error, zr_give_up_reason reason);
/* Admission refused before an attempt: `err` (borrowed) is what the breaker raised. */
void zr_obs_refused(zr_RetrySpecObject *spec, zr_call *call, PyObject *err);
/* The call ends with the exception currently set, outside the normal decisions (an
 * interrupted sleep, a failing hook): cancelled if it is not an Exception, else a
 * give-up. Keeps the exception set. */
void zr_obs_abort(zr_RetrySpecObject *spec, zr_call *call);

/* --- Retrying / AsyncRetrying (retrying_type.c, async_retrying_type.c) ------------ */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    vectorcallfunc func_vectorcall; /* func's own vectorcall entry, or NULL */
    PyObject *func;
    zr_RetrySpecObject *spec;
    PyObject *dict;
    PyObject *weakreflist;
    PyObject *idle; /* AsyncRetrying: its reusable RetryAwaitable (strong), or NULL */
    int first_in_place; /* spec->simple and func_vectorcall: a call's first attempt may run
                         * in place (both fixed at init) */
    int breaker_in_place; /* spec->breaker_fast and func_vectorcall (Retrying) */
} zr_RetryingObject;

/* AsyncRetrying's vectorcall: the awaitable for one call (retry_awaitable_type.c).
 * `callable` is the AsyncRetrying. New reference, or NULL with an exception set. */
PyObject *zr_retry_awaitable_new(PyObject *callable, PyObject *const *args, size_t nargsf,
                                 PyObject *kwnames);

/* Shared by the two callable types: descriptor binding, GC, metadata members. */
PyObject *zr_retrying_descr_get(PyObject *self, PyObject *obj, PyObject *type);
int zr_retrying_traverse(zr_RetryingObject *self, visitproc visit, void *arg);
int zr_retrying_clear(zr_RetryingObject *self);
void zr_retrying_dealloc(zr_RetryingObject *self);
int zr_retrying_init_fields(zr_RetryingObject *self, PyObject *args, PyObject *kwds,
                            const char *type_name);
extern PyMemberDef zr_retrying_members[];
extern PyGetSetDef zr_retrying_getset[];

/* --- helpers (module.c) ------------------------------------------------------------ */

/* Call a user clock: 0 with *now set to its finite reading, or -1 with an exception set
 * (the call failed, or returned a non-number / non-finite value; `what` names the clock in
 * the message). Holds its own reference to `clock` across the call. */
int zr_call_clock(PyObject *clock, const char *what, double *now);

/* Parse an attempt number (int >= 1; huge ints saturate): 0, or -1 with TypeError /
 * ValueError set. Defined in backoff_type.c. */
int zr_parse_attempt(PyObject *obj, uint64_t *out);

/* Parse a real number parameter (int or float; bools only if accept_bool; huge ints become
 * +-inf): 0, or -1 with TypeError naming `name` and the value. Defined in backoff_type.c. */
int zr_parse_real(const char *name, PyObject *obj, int accept_bool, double *out);

/* The arguments of get_delay(attempt, previous=None) as the engine wants them (previous
 * None -> -1). 0, or -1 with an exception set. Defined in backoff_type.c. */
int zr_parse_delay_args(PyObject *args, PyObject *kwds, uint64_t *attempt, double *prev);

/* The iterator protocol for an am_send outcome (the C awaitables' __next__/send/throw):
 * PYGEN_NEXT -> r (the yielded value); PYGEN_ERROR -> NULL (exception set); PYGEN_RETURN ->
 * NULL with StopIteration(r) raised. for_next (tp_iternext, what `await` uses on 3.12+):
 * a None result is NULL with no exception, another one a recycled AwaitableReturn. Consumes
 * r. Defined in module.c. */
PyObject *zr_iter_result(zr_module_state *st, PySendResult sr, PyObject *r, int for_next);

/* The module state reached from a type created by this module (or a subclass of one). */
zr_module_state *zr_state_from_type(PyTypeObject *tp);

/* Raise InvalidConfigurationError("<param> <requirement>, got <repr(value)>") with
 * attributes parameter and value. Always returns NULL / sets an exception; returns -1
 * through zr_config_error_int for tp_init-style callers. */
PyObject *zr_config_error(zr_module_state *st, const char *param, PyObject *value,
                          const char *requirement);
int zr_config_error_int(zr_module_state *st, const char *param, PyObject *value,
                        const char *requirement);

/* Compatibility: take the raised exception (3.12 API, emulated on 3.10/3.11). */
static inline PyObject *zr_fetch_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL) return NULL;
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL) PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

/* Compatibility: re-raise an exception object, stealing the reference. */
static inline void zr_restore_exception(PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyObject *tb = PyException_GetTraceback(exc);
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc, tb);
#endif
}

#endif /* ZR_MODULE_H */
