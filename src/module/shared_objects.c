/*
 * shared_objects.c - a CircuitBreaker whose state lives in a named shared-memory segment
 * (CircuitBreaker(..., shared="name"), issue 5).
 *
 * breaker_type.c reaches cb->state only between zr_cb_lock / zr_cb_unlock; when cb->shm is
 * set those call zr_cb_lock_shared / zr_cb_unlock_shared below, which take the segment's
 * robust mutex. If the previous holder died, zr_shared_lock runs zr_shared_breaker_repair
 * (invariants restored, probe slots of dead pids freed) before anyone sees the state.
 * Probe permits record this process's pid (refreshed after os.fork), so a process killed
 * while holding a half-open probe has its slot reaped by the next refused acquire.
 *
 * The success path of a closed breaker takes no lock (zr_cb_acquire_shared_fast,
 * zr_cb_release_shared_fast): it reads the epoch, the mode and the consecutive-failure
 * count with atomic loads and, when they say "closed, nothing to reset", admits and records
 * the success with two atomic adds on the segment's tally (zr_shared_state.h). A success
 * only ever needs the lock to reset a run of failures, and then it takes it. Trips, probes
 * and transitions are exact and immediate; the tally is folded into the state's lifetime
 * counters by whoever takes the lock next (any other operation, stats()).
 * The loads race, by design, with writers holding the lock in other processes: aligned
 * 4/8-byte loads are single-copy atomic; a value read just before a transition is the same
 * as a call admitted just before it (its permit then belongs to an older epoch).
 */
#include "zr_module.h"

#include "../core/zr_shared_state.h"

static inline zr_shared_tally *tally_of(zr_CircuitBreakerObject *cb)
{
    return (zr_shared_tally *)cb->shm->tally;
}

/* Fold the lock-free counts into the state; the lock is held. */
static void fold_locked(zr_CircuitBreakerObject *cb)
{
    zr_shared_tally *t = tally_of(cb);
    if (__atomic_load_n(&t->admitted, __ATOMIC_RELAXED) == 0 &&
        __atomic_load_n(&t->successes, __ATOMIC_RELAXED) == 0)
        return;
    zr_breaker_state *s = cb->state;
    uint64_t admitted = zr_shared_tally_take(&t->admitted);
    uint64_t successes = zr_shared_tally_take(&t->successes);
    s->admitted = zr_sat_add_u64(s->admitted, admitted);
    s->successes = zr_sat_add_u64(s->successes, successes);
    uint64_t run = zr_sat_add_u64(s->consecutive_successes, successes);
    s->consecutive_successes = run > UINT32_MAX ? UINT32_MAX : (uint32_t)run;
}

int zr_cb_lock_shared(zr_CircuitBreakerObject *cb)
{
    cb->owner = zr_shared_owner(cb->st, cb->shm);
    if (zr_shared_lock_py(cb->st, cb->shm) < 0) return -1;
    fold_locked(cb);
    return 0;
}

void zr_cb_unlock_shared(zr_CircuitBreakerObject *cb) { zr_shared_unlock(cb->shm); }

int zr_cb_acquire_shared_fast(zr_CircuitBreakerObject *cb, zr_breaker_permit *permit)
{
    const zr_breaker_state *s = cb->state;
    if (cb->cfg.slow_call_duration > 0.0) return 0;
    /* epoch first: if the mode then reads closed, the permit's epoch is not newer than it */
    uint64_t epoch = __atomic_load_n(&s->epoch, __ATOMIC_ACQUIRE);
    uint32_t mode = __atomic_load_n(&s->mode, __ATOMIC_ACQUIRE);
    if (mode != ZR_BREAKER_CLOSED && mode != ZR_BREAKER_DISABLED) return 0;
    permit->epoch = epoch;
    permit->start = 0.0;
    permit->slot = ZR_BREAKER_NO_SLOT;
    permit->generation = 0;
    zr_shared_tally_bump(&tally_of(cb)->admitted);
    return 1;
}

int zr_cb_release_shared_fast(zr_CircuitBreakerObject *cb, const zr_breaker_permit *permit)
{
    const zr_breaker_state *s = cb->state;
    if (permit->slot != ZR_BREAKER_NO_SLOT || cb->cfg.window_kind != ZR_WINDOW_NONE ||
        cb->cfg.slow_call_duration > 0.0)
        return 0;
    if (__atomic_load_n(&s->mode, __ATOMIC_ACQUIRE) != ZR_BREAKER_CLOSED ||
        __atomic_load_n(&s->epoch, __ATOMIC_ACQUIRE) != permit->epoch ||
        __atomic_load_n(&s->consecutive_failures, __ATOMIC_ACQUIRE) != 0)
        return 0; /* a failure run to reset, or another epoch: the locked path */
    zr_shared_tally_bump(&tally_of(cb)->successes);
    return 1;
}

int zr_cb_attach_shared(zr_CircuitBreakerObject *cb, PyObject *name)
{
    zr_shared *sh = PyMem_Calloc(1, sizeof *sh);
    if (sh == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    /* the callbacks get &cb->cfg: it lives as long as cb, which owns the handle */
    if (zr_shared_open_py(cb->st, sh, "shared", name, ZR_SHM_KIND_BREAKER,
                          zr_shared_breaker_fingerprint(&cb->cfg),
                          zr_shared_payload_size(zr_breaker_state_size(&cb->cfg)),
                          zr_shared_breaker_init, &cb->cfg,
                          zr_shared_breaker_repair, &cb->cfg) < 0) {
        PyMem_Free(sh);
        return -1;
    }
    PyMem_Free(cb->own_state);
    cb->own_state = NULL;
    cb->state = zr_shared_payload(sh);
    sh->tally = (char *)cb->state + zr_shared_tally_offset(zr_breaker_state_size(&cb->cfg));
    cb->shm = sh;
    cb->owner = (uint64_t)sh->pid;
    sh->fork_gen = cb->st->fork_gen;
    if (PyUnicode_GET_LENGTH(cb->name) == 0) Py_SETREF(cb->name, Py_NewRef(name));
    return 0;
}

void zr_cb_detach_shared(zr_CircuitBreakerObject *cb)
{
    if (cb->shm == NULL) return;
    zr_shared_close(cb->shm);
    PyMem_Free(cb->shm);
    cb->shm = NULL;
    cb->state = NULL;
    cb->plain = 0;
}

int zr_cb_reap_shared(zr_CircuitBreakerObject *cb)
{
    return cb->shm != NULL && cb->state->mode == ZR_BREAKER_HALF_OPEN &&
           zr_shared_breaker_reap(&cb->cfg, cb->state) > 0;
}

PyObject *zr_cb_shared_name(zr_CircuitBreakerObject *cb)
{
    if (cb->shm == NULL) Py_RETURN_NONE;
    return PyUnicode_FromString(cb->shm->name);
}
