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

/* Per-module state: every type and imported object the binding needs. */
typedef struct zr_module_state {
    PyTypeObject *Backoff_Type;
    /* exceptions, defined in zenoo_retry/exceptions.py and imported at module exec */
    PyObject *InvalidConfigurationError;
} zr_module_state;

extern PyModuleDef zr_module_def;

/* --- type specs: one per file --------------------------------------------------- */
extern PyType_Spec zr_backoff_spec; /* backoff_type.c */

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

/* --- helpers (module.c) ------------------------------------------------------------ */

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
