/*
 * shared_segments.c - the binding side of shared state (issue 5): where segments live,
 * opening one for a breaker/budget/adaptive object with errors that name the segment and
 * the problem, and the private module functions behind zenoo_retry/shared.py
 * (_shm_dir, _shm_set_dir, _shm_examine, _shm_remove, _shm_error, _shm_hold_lock).
 *
 * The engine side is src/core/zr_shm.c (segments) and src/core/zr_shared.c (fingerprint,
 * lock with repair).
 */
#include "zr_module.h"

#include "../core/zr_adaptive.h"
#include "../core/zr_breaker.h"
#include "../core/zr_budget.h"
#include "../core/zr_shared_state.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Short stable codes for zr_shm_problem, as shown by SegmentInfo.problem. */
static const char *problem_code(zr_shm_problem p)
{
    switch (p) {
    case ZR_SHM_HEALTHY: return NULL;
    case ZR_SHM_MISSING: return "missing";
    case ZR_SHM_UNREADABLE: return "unreadable";
    case ZR_SHM_NOT_REGULAR: return "not-regular";
    case ZR_SHM_BAD_OWNER: return "bad-owner";
    case ZR_SHM_BAD_MODE: return "bad-mode";
    case ZR_SHM_TRUNCATED: return "truncated";
    case ZR_SHM_FOREIGN: return "foreign";
    case ZR_SHM_STALE: return "stale";
    case ZR_SHM_CORRUPT: return "corrupted";
    case ZR_SHM_OTHER_KIND: return "other-kind";
    case ZR_SHM_OTHER_CONFIG: return "config-mismatch";
    case ZR_SHM_UNSAFE_DIR: return "unsafe-dir";
    }
    return "unknown";
}

static const char *kind_name(uint32_t kind)
{
    switch (kind) {
    case ZR_SHM_KIND_BREAKER: return "breaker";
    case ZR_SHM_KIND_BUDGET: return "budget";
    case ZR_SHM_KIND_ADAPTIVE: return "adaptive";
    case ZR_SHM_KIND_TEST: return "test";
    }
    return "unknown";
}

int zr_shm_dir(zr_module_state *st, char *buf, size_t size)
{
    const char *dir = NULL;
    if (st->shm_dir != NULL) {
        dir = PyUnicode_AsUTF8(st->shm_dir);
        if (dir == NULL) return -1;
    }
    else {
        const char *env = getenv("ZENOO_RETRY_SHM_DIR");
        if (env != NULL && env[0] != '\0') dir = env;
    }
    if (dir != NULL) {
        size_t n = strlen(dir);
        if (n + 1 > size) {
            PyErr_Format(PyExc_ValueError, "shared-memory directory path is too long: %s", dir);
            return -1;
        }
        memcpy(buf, dir, n + 1);
        return 0;
    }
    if (zr_shm_default_dir(buf, size) != ZR_OK) {
        PyErr_SetString(PyExc_OSError, "cannot build the default shared-memory directory path");
        return -1;
    }
    return 0;
}

/* Advice appended to an error message, per problem. */
static const char *advice(zr_shm_problem why)
{
    switch (why) {
    case ZR_SHM_OTHER_CONFIG:
        return "every process must open one name with the same settings; use another name, "
               "or remove the segment once no process uses it";
    case ZR_SHM_OTHER_KIND:
        return "one name serves one kind of object (breaker, budget or adaptive strategy) "
               "with one configuration; use another name";
    case ZR_SHM_BAD_OWNER:
    case ZR_SHM_BAD_MODE:
    case ZR_SHM_NOT_REGULAR:
        return "it is not used; remove it (zenoo_retry.shared.remove) or fix it to be a regular "
               "file of this user with mode 0600";
    case ZR_SHM_UNSAFE_DIR:
        return "fix the directory (owner: this user, mode 0700) or choose another with "
               "zenoo_retry.shared.set_directory / ZENOO_RETRY_SHM_DIR";
    case ZR_SHM_MISSING:
    case ZR_SHM_UNREADABLE: return "check the shared-memory directory";
    default:
        return "it is not used; remove it with zenoo_retry.shared.remove() once no process "
               "has it open, or use another name";
    }
}

static PyObject *error_class(zr_module_state *st, zr_shm_problem why)
{
    switch (why) {
    case ZR_SHM_MISSING: return st->SharedSegmentNotFoundError;
    case ZR_SHM_STALE: return st->SharedSegmentVersionError;
    case ZR_SHM_OTHER_KIND:
    case ZR_SHM_OTHER_CONFIG: return st->SharedConfigMismatchError;
    case ZR_SHM_BAD_OWNER:
    case ZR_SHM_BAD_MODE:
    case ZR_SHM_NOT_REGULAR:
    case ZR_SHM_UNSAFE_DIR: return st->SharedSegmentPermissionError;
    case ZR_SHM_TRUNCATED:
    case ZR_SHM_FOREIGN:
    case ZR_SHM_CORRUPT: return st->SharedSegmentCorruptedError;
    default: return st->SharedStateError;
    }
}

/* Build (not raise) the exception for a problem with segment `name` at `path`; `extra`
 * (may be empty) is inserted after the description. New reference or NULL. */
static PyObject *make_error(zr_module_state *st, const char *name, const char *path,
                            zr_shm_problem why, const char *extra)
{
    PyObject *cls = error_class(st, why);
    const char *code = problem_code(why);
    PyObject *msg = PyUnicode_FromFormat("shared segment '%s' (%s): %s%s; %s", name, path,
                                         zr_shm_problem_str(why), extra, advice(why));
    if (msg == NULL) return NULL;
    PyObject *kw = Py_BuildValue("{s:s,s:s,s:s}", "name", name, "path", path, "problem",
                                 code ? code : "healthy");
    PyObject *args = kw ? PyTuple_Pack(1, msg) : NULL;
    PyObject *exc = args ? PyObject_Call(cls, args, kw) : NULL;
    Py_XDECREF(args);
    Py_XDECREF(kw);
    Py_DECREF(msg);
    return exc;
}

/* Raise the error for a failed open of `name` at `path` (status st_code, problem why). */
static void raise_open_error(zr_module_state *st, const char *path, const char *name,
                             zr_status code, zr_shm_problem why, uint64_t want_fp)
{
    if (why == ZR_SHM_HEALTHY) {
        PyErr_Format(st->SharedStateError ? st->SharedStateError : PyExc_OSError,
                     "shared segment '%s' (%s) cannot be opened: %s", name, path,
                     zr_status_str(code));
        return;
    }
    char extra[160] = "";
    if (why == ZR_SHM_OTHER_CONFIG) {
        zr_shm_info info;
        if (zr_shm_examine(path, &info) == ZR_OK)
            snprintf(extra, sizeof extra,
                     " (segment fingerprint %016llx, this configuration %016llx, created by "
                     "pid %lld)",
                     (unsigned long long)info.fingerprint, (unsigned long long)want_fp,
                     (long long)info.creator_pid);
    }
    else if (why == ZR_SHM_OTHER_KIND) {
        zr_shm_info info;
        if (zr_shm_examine(path, &info) == ZR_OK)
            snprintf(extra, sizeof extra, " (it holds a %s of %llu bytes)",
                     kind_name(info.kind), (unsigned long long)info.payload_size);
    }
    PyObject *exc = make_error(st, name, path, why, extra);
    if (exc == NULL) return;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
}

/* Validate a segment name given for parameter `param`; 0, or -1 with an exception. */
static int check_name(zr_module_state *st, const char *param, PyObject *name, const char **out)
{
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str, got %R", param, name);
        return -1;
    }
    const char *s = PyUnicode_AsUTF8(name);
    if (s == NULL) return -1;
    if (!zr_shm_name_valid(s))
        return zr_config_error_int(st, param, name,
                                   "must be 1-100 characters from A-Z a-z 0-9 . _ - "
                                   "not starting with '.'");
    *out = s;
    return 0;
}

/* Validate `name` and compute the directory and file path of its segment (buffers of
 * ZR_SHM_PATH_MAX). 0, or -1 with an exception set. */
static int resolve(zr_module_state *st, const char *param, PyObject *name, const char **cname,
                   char *dir, char *path)
{
    if (check_name(st, param, name, cname) < 0 || zr_shm_dir(st, dir, ZR_SHM_PATH_MAX) < 0)
        return -1;
    int n = snprintf(path, ZR_SHM_PATH_MAX, "%s/%s.zrseg", dir, *cname);
    if (n < 0 || n >= ZR_SHM_PATH_MAX) {
        PyErr_Format(PyExc_ValueError, "shared segment path too long: %s/%s.zrseg", dir, *cname);
        return -1;
    }
    return 0;
}

int zr_shared_open_py(zr_module_state *st, zr_shared *sh, const char *param, PyObject *name,
                      uint32_t kind, uint64_t fingerprint, size_t payload_size,
                      zr_shm_init_fn init, void *init_arg, zr_shared_repair_fn repair,
                      void *repair_arg)
{
    const char *cname = NULL;
    char dir[ZR_SHM_PATH_MAX], path[ZR_SHM_PATH_MAX];
    if (resolve(st, param, name, &cname, dir, path) < 0) return -1;
    zr_shm_problem why = ZR_SHM_HEALTHY;
    zr_status code = zr_shared_open(sh, dir, cname, kind, fingerprint, payload_size, init,
                                    init_arg, repair, repair_arg, NULL, &why);
    if (code == ZR_OK) return 0;
    if (code == ZR_EINVAL)
        return zr_config_error_int(st, param, name, "must be a valid segment name");
    raise_open_error(st, path, cname, code, why, fingerprint);
    return -1;
}

int zr_shared_lock_py(zr_module_state *st, zr_shared *sh)
{
    if (ZR_LIKELY(zr_shared_lock(sh, NULL) == ZR_OK)) return 0;
    PyErr_Format(st->SharedStateError, "shared segment %s: its lock is unusable", sh->shm.path);
    return -1;
}

int zr_shared_lock_obj(PyObject *obj, zr_shared *sh)
{
    if (ZR_LIKELY(zr_shared_lock(sh, NULL) == ZR_OK)) return 0;
    zr_module_state *st = zr_state_from_type(Py_TYPE(obj));
    if (st == NULL) return -1;
    PyErr_Format(st->SharedStateError, "shared segment %s: its lock is unusable", sh->shm.path);
    return -1;
}

int zr_shared_new(PyObject *obj, zr_shared **out, PyObject *name, uint32_t kind,
                  uint64_t fingerprint, size_t payload_size, zr_shm_init_fn init, void *init_arg,
                  zr_shared_repair_fn repair, void *repair_arg)
{
    zr_module_state *st = zr_state_from_type(Py_TYPE(obj));
    if (st == NULL) return -1;
    zr_shared *sh = PyMem_Calloc(1, sizeof *sh);
    if (sh == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (zr_shared_open_py(st, sh, "shared", name, kind, fingerprint, payload_size, init,
                          init_arg, repair, repair_arg) < 0) {
        PyMem_Free(sh);
        return -1;
    }
    *out = sh;
    return 0;
}

void zr_shared_free(zr_shared *sh)
{
    if (sh == NULL) return;
    zr_shared_close(sh);
    PyMem_Free(sh);
}

/* ---- module functions ------------------------------------------------------------ */

static zr_module_state *mod_state(PyObject *module)
{
    return (zr_module_state *)PyModule_GetState(module);
}

/* _shm_dir() -> str: the directory segments live in. */
static PyObject *shm_dir_fn(PyObject *module, PyObject *noargs)
{
    (void)noargs;
    char dir[ZR_SHM_PATH_MAX];
    if (zr_shm_dir(mod_state(module), dir, sizeof dir) < 0) return NULL;
    return PyUnicode_DecodeFSDefault(dir);
}

/* _shm_set_dir(path: str | None): override the directory (None: back to the default). */
static PyObject *shm_set_dir_fn(PyObject *module, PyObject *path)
{
    zr_module_state *st = mod_state(module);
    if (path != Py_None) {
        if (!PyUnicode_Check(path)) {
            PyErr_Format(PyExc_TypeError, "path must be a str or None, got %R", path);
            return NULL;
        }
        const char *s = PyUnicode_AsUTF8(path);
        if (s == NULL) return NULL;
        if (s[0] != '/' || strlen(s) + ZR_SHM_NAME_MAX + 16 >= ZR_SHM_PATH_MAX)
            return zr_config_error(st, "path", path,
                                   "must be an absolute path shorter than 390 characters");
    }
    Py_XSETREF(st->shm_dir, path == Py_None ? NULL : Py_NewRef(path));
    Py_RETURN_NONE;
}

/* The lock-free tally after a state of `state_size` bytes, if the payload has one. */
static int read_tally(const char *path, const zr_shm_info *info, size_t state_size,
                      zr_shared_tally *t)
{
    memset(t, 0, sizeof *t);
    return zr_shm_read_payload(path, info, zr_shared_tally_offset(state_size), t, sizeof *t) ==
           ZR_OK;
}

/* A racy snapshot of what a healthy segment's state says (a dict), or None when the
 * state is not one this build knows. New reference or NULL. */
static PyObject *state_summary(const char *path, const zr_shm_info *info)
{
    zr_shared_tally t;
    if (info->kind == ZR_SHM_KIND_BREAKER) {
        zr_breaker_state b;
        if (zr_shm_read_payload(path, info, 0, &b, sizeof b) != ZR_OK ||
            b.layout != ZR_BREAKER_LAYOUT || b.size > info->payload_size)
            Py_RETURN_NONE;
        read_tally(path, info, (size_t)b.size, &t);
        return Py_BuildValue("{s:s,s:K,s:I,s:I,s:K,s:K,s:K,s:K,s:K}", "state",
                             zr_breaker_mode_name(b.mode), "epoch",
                             (unsigned long long)b.epoch, "consecutive_failures",
                             (unsigned int)b.consecutive_failures, "probes_in_flight",
                             (unsigned int)b.probes_in_use, "calls_admitted",
                             (unsigned long long)zr_sat_add_u64(b.admitted, t.admitted),
                             "calls_rejected", (unsigned long long)b.rejected, "total_successes",
                             (unsigned long long)zr_sat_add_u64(b.successes, t.successes),
                             "total_failures", (unsigned long long)b.failures, "trips",
                             (unsigned long long)b.trips);
    }
    if (info->kind == ZR_SHM_KIND_BUDGET) {
        zr_budget_state g;
        if (zr_shm_read_payload(path, info, 0, &g, sizeof g) != ZR_OK ||
            g.magic != ZR_BUDGET_STATE_MAGIC)
            Py_RETURN_NONE;
        read_tally(path, info, sizeof g, &t);
        uint64_t requests = zr_sat_add_u64(g.total_requests, t.requests);
        if (g.mode == ZR_BUDGET_TOKEN)
            return Py_BuildValue("{s:s,s:d,s:K,s:K,s:K}", "mode", "token", "tokens", g.tokens,
                                 "requests", (unsigned long long)requests, "granted",
                                 (unsigned long long)g.total_granted, "refused",
                                 (unsigned long long)g.total_refused);
        return Py_BuildValue("{s:s,s:K,s:K,s:K,s:K,s:K}", "mode", "ratio", "window_requests",
                             (unsigned long long)g.window_requests, "window_retries",
                             (unsigned long long)g.window_retries, "requests",
                             (unsigned long long)requests, "granted",
                             (unsigned long long)g.total_granted, "refused",
                             (unsigned long long)g.total_refused);
    }
    if (info->kind == ZR_SHM_KIND_ADAPTIVE) {
        zr_adaptive_state a;
        if (zr_shm_read_payload(path, info, 0, &a, sizeof a) != ZR_OK ||
            a.magic != ZR_ADAPTIVE_STATE_MAGIC)
            Py_RETURN_NONE;
        return Py_BuildValue("{s:I,s:I,s:K,s:K}", "samples", (unsigned int)a.count,
                             "window_successes", (unsigned int)a.successes, "total_successes",
                             (unsigned long long)a.total_successes, "total_failures",
                             (unsigned long long)a.total_failures);
    }
    Py_RETURN_NONE;
}

/* _shm_examine(name) -> dict describing the segment file (see zenoo_retry/shared.py). */
static PyObject *shm_examine_fn(PyObject *module, PyObject *name)
{
    zr_module_state *st = mod_state(module);
    const char *cname = NULL;
    char dir[ZR_SHM_PATH_MAX], path[ZR_SHM_PATH_MAX];
    if (resolve(st, "name", name, &cname, dir, path) < 0) return NULL;
    zr_shm_info info;
    Py_BEGIN_ALLOW_THREADS
    (void)zr_shm_examine(path, &info);
    Py_END_ALLOW_THREADS
    int has_header = info.problem == ZR_SHM_HEALTHY;
    const char *code = problem_code(info.problem);
    PyObject *none = Py_None;
    PyObject *kind = has_header ? PyUnicode_FromString(kind_name(info.kind)) : Py_NewRef(none);
    PyObject *layout = (has_header || info.problem == ZR_SHM_STALE)
                           ? PyLong_FromUnsignedLong(info.layout_version)
                           : Py_NewRef(none);
    PyObject *fp = has_header ? PyLong_FromUnsignedLongLong(info.fingerprint) : Py_NewRef(none);
    PyObject *psize = has_header ? PyLong_FromUnsignedLongLong(info.payload_size)
                                 : Py_NewRef(none);
    PyObject *pid = has_header ? PyLong_FromLongLong(info.creator_pid) : Py_NewRef(none);
    PyObject *alive = has_header ? PyBool_FromLong(zr_pid_alive(info.creator_pid))
                                 : Py_NewRef(none);
    PyObject *created = has_header ? PyFloat_FromDouble(info.created_at) : Py_NewRef(none);
    PyObject *recov = has_header ? PyLong_FromUnsignedLongLong(info.recoveries)
                                 : Py_NewRef(none);
    PyObject *state = has_header ? state_summary(path, &info) : Py_NewRef(none);
    PyObject *result = NULL;
    if (kind && layout && fp && psize && pid && alive && created && recov && state) {
        result = Py_BuildValue(
            "{s:s,s:s,s:O,s:O,s:O,s:K,s:O,s:O,s:O,s:O,s:O,s:I,s:I,s:z,s:s,s:O}", "name", cname,
            "path", path, "kind", kind, "layout_version", layout, "fingerprint", fp, "size",
            (unsigned long long)info.file_size, "payload_size", psize, "creator_pid", pid,
            "creator_alive", alive, "created_at", created, "recoveries", recov, "mode",
            (unsigned int)info.mode, "uid", (unsigned int)info.uid, "problem", code, "detail",
            zr_shm_problem_str(info.problem), "state", state);
    }
    Py_XDECREF(state);
    Py_XDECREF(kind);
    Py_XDECREF(layout);
    Py_XDECREF(fp);
    Py_XDECREF(psize);
    Py_XDECREF(pid);
    Py_XDECREF(alive);
    Py_XDECREF(created);
    Py_XDECREF(recov);
    return result;
}

/* _shm_error(name, problem_code) -> the exception instance for that problem (not raised). */
static PyObject *shm_error_fn(PyObject *module, PyObject *args)
{
    zr_module_state *st = mod_state(module);
    PyObject *name;
    const char *code;
    if (!PyArg_ParseTuple(args, "Us:_shm_error", &name, &code)) return NULL;
    const char *cname = NULL;
    char dir[ZR_SHM_PATH_MAX], path[ZR_SHM_PATH_MAX];
    if (resolve(st, "name", name, &cname, dir, path) < 0) return NULL;
    zr_shm_problem why = ZR_SHM_HEALTHY;
    for (int p = ZR_SHM_MISSING; p <= ZR_SHM_UNSAFE_DIR; p++)
        if (strcmp(problem_code((zr_shm_problem)p), code) == 0) why = (zr_shm_problem)p;
    if (why == ZR_SHM_HEALTHY) {
        PyErr_Format(PyExc_ValueError, "unknown segment problem %R", PyTuple_GET_ITEM(args, 1));
        return NULL;
    }
    return make_error(st, cname, path, why, "");
}

/* _shm_remove(name) -> None; SharedSegmentNotFoundError if there is no such segment. */
static PyObject *shm_remove_fn(PyObject *module, PyObject *name)
{
    zr_module_state *st = mod_state(module);
    const char *cname = NULL;
    char dir[ZR_SHM_PATH_MAX], path[ZR_SHM_PATH_MAX];
    if (resolve(st, "name", name, &cname, dir, path) < 0) return NULL;
    if (zr_shm_unlink(dir, cname) == ZR_OK) Py_RETURN_NONE;
    zr_shm_info info;
    (void)zr_shm_examine(path, &info);
    zr_shm_problem why = info.problem == ZR_SHM_MISSING ? ZR_SHM_MISSING : ZR_SHM_UNREADABLE;
    PyObject *exc = make_error(st, cname, path, why, "");
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* _shm_hold_lock(name, offset, data, ready_fd): TEST HOOK. Lock segment `name` (opened
 * with the kind/fingerprint in its header), write `data` at payload offset `offset` (a
 * torn update), write one byte to `ready_fd`, then sleep until the process is killed.
 * Returns only on error. */
static PyObject *shm_hold_lock_fn(PyObject *module, PyObject *args)
{
    zr_module_state *st = mod_state(module);
    PyObject *name;
    Py_ssize_t offset;
    Py_buffer data;
    int fd;
    if (!PyArg_ParseTuple(args, "Uny*i:_shm_hold_lock", &name, &offset, &data, &fd)) return NULL;
    const char *cname = NULL;
    char dir[ZR_SHM_PATH_MAX], path[ZR_SHM_PATH_MAX];
    if (resolve(st, "name", name, &cname, dir, path) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    zr_shm_info info;
    zr_shm shm;
    zr_shm_problem why = ZR_SHM_HEALTHY;
    zr_status code = zr_shm_examine(path, &info);
    if (code == ZR_OK)
        code = zr_shm_open_why(&shm, dir, cname, info.kind, info.fingerprint,
                               (size_t)info.payload_size, NULL, NULL, NULL, &why);
    else why = info.problem;
    if (code != ZR_OK) {
        PyBuffer_Release(&data);
        raise_open_error(st, path, cname, code, why, 0);
        return NULL;
    }
    if (offset < 0 || (uint64_t)offset + (uint64_t)data.len > info.payload_size) {
        PyBuffer_Release(&data);
        zr_shm_close(&shm);
        PyErr_Format(PyExc_ValueError, "offset/data outside the %llu-byte payload",
                     (unsigned long long)info.payload_size);
        return NULL;
    }
    int recovered;
    Py_BEGIN_ALLOW_THREADS
    (void)zr_shm_lock(&shm, &recovered);
    Py_END_ALLOW_THREADS
    memcpy((char *)shm.payload + offset, data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    if (write(fd, "x", 1) != 1) {}
    for (;;) {
        Py_BEGIN_ALLOW_THREADS
        pause();
        Py_END_ALLOW_THREADS
        if (PyErr_CheckSignals() < 0) break; /* stays locked: the process is meant to die */
    }
    return NULL;
}

/* _shm_test_counter(name, fingerprint, increments) -> int: TEST HOOK. Open (or create) a
 * test-kind segment holding one counter, add 1 to it `increments` times, each under the
 * lock, and return the value after the last one (0 increments: the current value). */
static PyObject *shm_test_counter_fn(PyObject *module, PyObject *args)
{
    zr_module_state *st = mod_state(module);
    PyObject *name;
    unsigned long long fp, n;
    if (!PyArg_ParseTuple(args, "UKK:_shm_test_counter", &name, &fp, &n)) return NULL;
    zr_shared sh;
    if (zr_shared_open_py(st, &sh, "name", name, ZR_SHM_KIND_TEST, fp, sizeof(uint64_t), NULL,
                          NULL, NULL, NULL) < 0)
        return NULL;
    uint64_t value = 0;
    unsigned long long i = 0;
    do { /* n == 0: just read it */
        if (zr_shared_lock_py(st, &sh) < 0) {
            zr_shared_close(&sh);
            return NULL;
        }
        uint64_t *counter = zr_shared_payload(&sh);
        if (n > 0) ++*counter;
        value = *counter;
        zr_shared_unlock(&sh);
    } while (++i < n);
    zr_shared_close(&sh);
    return PyLong_FromUnsignedLongLong(value);
}

/* _shm_after_fork(): registered with os.register_at_fork(after_in_child=...): shared
 * objects re-read their owner pid on their next lock. */
static PyObject *shm_after_fork_fn(PyObject *module, PyObject *noargs)
{
    (void)noargs;
    zr_module_state *st = mod_state(module);
    st->fork_gen++;
    Py_RETURN_NONE;
}

static PyMethodDef segment_functions[] = {
    {"_shm_after_fork", (PyCFunction)shm_after_fork_fn, METH_NOARGS,
     "_shm_after_fork(): called in a forked child (os.register_at_fork)."},
    {"_shm_test_counter", (PyCFunction)shm_test_counter_fn, METH_VARARGS,
     "_shm_test_counter(name, fingerprint, increments) -> int: test hook."},
    {"_shm_dir", (PyCFunction)shm_dir_fn, METH_NOARGS,
     "_shm_dir() -> str: the directory shared segments live in."},
    {"_shm_set_dir", (PyCFunction)shm_set_dir_fn, METH_O,
     "_shm_set_dir(path | None): use another directory (None: the default)."},
    {"_shm_examine", (PyCFunction)shm_examine_fn, METH_O,
     "_shm_examine(name) -> dict: header fields and problem of a segment file."},
    {"_shm_error", (PyCFunction)shm_error_fn, METH_VARARGS,
     "_shm_error(name, problem) -> the exception describing that problem."},
    {"_shm_remove", (PyCFunction)shm_remove_fn, METH_O,
     "_shm_remove(name): unlink a segment."},
    {"_shm_hold_lock", (PyCFunction)shm_hold_lock_fn, METH_VARARGS,
     "_shm_hold_lock(name, offset, data, ready_fd): test hook, never returns normally."},
    {NULL, NULL, 0, NULL},
};

int zr_segments_init(PyObject *module, zr_module_state *st)
{
    if (PyModule_AddFunctions(module, segment_functions) < 0) return -1;
    PyObject *mod = PyImport_ImportModule("zenoo_retry.exceptions");
    if (mod == NULL) return -1;
    struct {
        const char *name;
        PyObject **slot;
    } excs[] = {
        {"SharedStateError", &st->SharedStateError},
        {"SharedSegmentNotFoundError", &st->SharedSegmentNotFoundError},
        {"SharedSegmentCorruptedError", &st->SharedSegmentCorruptedError},
        {"SharedSegmentVersionError", &st->SharedSegmentVersionError},
        {"SharedSegmentPermissionError", &st->SharedSegmentPermissionError},
        {"SharedConfigMismatchError", &st->SharedConfigMismatchError},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof excs / sizeof *excs && rc == 0; i++) {
        *excs[i].slot = PyObject_GetAttrString(mod, excs[i].name);
        if (*excs[i].slot == NULL) rc = -1;
    }
    Py_DECREF(mod);
    if (rc < 0) return -1;
    /* after os.fork the child is another owner of shared probe permits */
    PyObject *hook = PyObject_GetAttrString(module, "_shm_after_fork");
    PyObject *reg = hook ? PyImport_ImportModule("os") : NULL;
    PyObject *fn = reg ? PyObject_GetAttrString(reg, "register_at_fork") : NULL;
    PyObject *kw = fn ? Py_BuildValue("{s:O}", "after_in_child", hook) : NULL;
    PyObject *args = kw ? PyTuple_New(0) : NULL;
    PyObject *r = args ? PyObject_Call(fn, args, kw) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    Py_XDECREF(fn);
    Py_XDECREF(reg);
    Py_XDECREF(hook);
    return r == NULL ? -1 : 0;
}
