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
 */
#include "zr_module.h"

#include "../core/zr_shared_state.h"

int zr_cb_lock_shared(zr_CircuitBreakerObject *cb)
{
    cb->owner = zr_shared_owner(cb->st, cb->shm);
    return zr_shared_lock_py(cb->st, cb->shm);
}

void zr_cb_unlock_shared(zr_CircuitBreakerObject *cb) { zr_shared_unlock(cb->shm); }

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
                          zr_breaker_state_size(&cb->cfg), zr_shared_breaker_init, &cb->cfg,
                          zr_shared_breaker_repair, &cb->cfg) < 0) {
        PyMem_Free(sh);
        return -1;
    }
    PyMem_Free(cb->own_state);
    cb->own_state = NULL;
    cb->state = zr_shared_payload(sh);
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
