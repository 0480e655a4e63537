/*
 * module.c - assembles zenoo_retry._core: creates each file's heap type, imports the
 * exception classes from zenoo_retry.exceptions, and holds them in per-module state.
 * Multi-phase initialisation (PEP 489); safe to load in several interpreters.
 */
#include "zr_module.h"

static zr_module_state *get_state(PyObject *module)
{
    return (zr_module_state *)PyModule_GetState(module);
}

zr_module_state *zr_state_from_type(PyTypeObject *tp)
{
#if PY_VERSION_HEX >= 0x030B0000
    PyObject *mod = PyType_GetModuleByDef(tp, &zr_module_def);
    if (mod == NULL) return NULL;
    return get_state(mod);
#else
    /* 3.10: walk the MRO for the first heap type created by this module. */
    PyObject *mro = tp->tp_mro;
    Py_ssize_t n = mro ? PyTuple_GET_SIZE(mro) : 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!PyType_HasFeature(base, Py_TPFLAGS_HEAPTYPE)) continue;
        PyObject *mod = ((PyHeapTypeObject *)base)->ht_module;
        if (mod != NULL && PyModule_GetDef(mod) == &zr_module_def) return get_state(mod);
    }
    PyErr_Format(PyExc_TypeError, "%s is not a zenoo_retry._core type", tp->tp_name);
    return NULL;
#endif
}

PyObject *zr_config_error(zr_module_state *st, const char *param, PyObject *value,
                          const char *requirement)
{
    PyObject *msg = PyUnicode_FromFormat("%s %s, got %R", param, requirement, value);
    if (msg == NULL) return NULL;
    PyObject *exc_type = st && st->InvalidConfigurationError ? st->InvalidConfigurationError
                                                               : PyExc_ValueError;
    PyObject *exc = PyObject_CallOneArg(exc_type, msg);
    Py_DECREF(msg);
    if (exc == NULL) return NULL;
    PyObject *pname = PyUnicode_FromString(param);
    if (pname == NULL || PyObject_SetAttrString(exc, "parameter", pname) < 0 ||
        PyObject_SetAttrString(exc, "value", value) < 0) {
        Py_XDECREF(pname);
        Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(pname);
    PyErr_SetObject(exc_type, exc);
    Py_DECREF(exc);
    return NULL;
}

int zr_config_error_int(zr_module_state *st, const char *param, PyObject *value,
                        const char *requirement)
{
    (void)zr_config_error(st, param, value, requirement);
    return -1;
}

static int add_type(PyObject *module, PyType_Spec *spec, PyObject *base, PyTypeObject **slot)
{
    PyObject *tp = PyType_FromModuleAndSpec(module, spec, base);
    if (tp == NULL) return -1;
    *slot = (PyTypeObject *)tp; /* state owns this reference */
    if (PyModule_AddType(module, (PyTypeObject *)tp) < 0) return -1;
    return 0;
}

PyObject *zr_iter_result(zr_module_state *st, PySendResult sr, PyObject *r, int for_next)
{
    if (sr == PYGEN_NEXT) return r;
    if (sr == PYGEN_ERROR) return NULL;
    if (for_next) {
        if (r == Py_None) {
            Py_DECREF(r);
            return NULL;
        }
        zr_raise_return(st, r);
        return NULL;
    }
    /* StopIteration(r), raised as is, so tuples and exceptions survive as values */
    PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, r);
    Py_DECREF(r);
    if (stop != NULL) zr_restore_exception(stop);
    return NULL;
}

int zr_call_clock(PyObject *clock, const char *what, double *now)
{
    PyObject *fn = Py_NewRef(clock); /* the call may drop the owner's reference */
    PyObject *r = PyObject_CallNoArgs(fn);
    Py_DECREF(fn);
    if (r == NULL) return -1;
    double v = PyFloat_AsDouble(r);
    if (v == -1.0 && PyErr_Occurred()) {
        Py_DECREF(r);
        return -1;
    }
    if (!isfinite(v)) {
        PyErr_Format(PyExc_ValueError, "%s must return a finite number, got %R", what, r);
        Py_DECREF(r);
        return -1;
    }
    Py_DECREF(r);
    *now = v;
    return 0;
}

static PyObject *import_attr(const char *modname, const char *attr)
{
    PyObject *mod = PyImport_ImportModule(modname);
    if (mod == NULL) return NULL;
    PyObject *obj = PyObject_GetAttrString(mod, attr);
    Py_DECREF(mod);
    return obj;
}

/* _wake(fut): resolve a retry-sleep future unless it is already done (cancelled). */
static PyObject *zr_wake(PyObject *module, PyObject *fut)
{
    (void)module;
    PyObject *done = PyObject_CallMethod(fut, "done", NULL);
    if (done == NULL) return NULL;
    int is_done = PyObject_IsTrue(done);
    Py_DECREF(done);
    if (is_done < 0) return NULL;
    if (!is_done) {
        PyObject *r = PyObject_CallMethod(fut, "set_result", "O", Py_None);
        if (r == NULL) return NULL;
        Py_DECREF(r);
    }
    Py_RETURN_NONE;
}

int zr_test_skip_sleep(zr_module_state *st, double delay)
{
    if (!st->test_instant) return 0;
    if (st->test_recorder != NULL) {
        PyObject *fn = Py_NewRef(st->test_recorder);
        PyObject *r = PyObject_CallFunction(fn, "d", delay);
        Py_DECREF(fn);
        if (r == NULL) return -1;
        Py_DECREF(r);
    }
    return 1;
}

/* _set_test_mode(instant, max_attempts=0, recorder=None): see zenoo_retry/testing.py. */
static PyObject *zr_set_test_mode(PyObject *module, PyObject *args)
{
    int instant;
    unsigned long cap = 0;
    PyObject *recorder = Py_None;
    if (!PyArg_ParseTuple(args, "p|kO:_set_test_mode", &instant, &cap, &recorder)) return NULL;
    if (recorder != Py_None && !PyCallable_Check(recorder)) {
        PyErr_Format(PyExc_TypeError, "recorder must be callable or None, got %R", recorder);
        return NULL;
    }
    if (cap > UINT32_MAX) {
        PyErr_Format(PyExc_ValueError, "max_attempts must be <= 4294967295, got %lu", cap);
        return NULL;
    }
    zr_module_state *st = get_state(module);
    st->test_instant = instant;
    st->test_max_attempts = (uint32_t)cap;
    Py_XSETREF(st->test_recorder, recorder == Py_None ? NULL : Py_NewRef(recorder));
    Py_RETURN_NONE;
}

/* _test_mode() -> (instant, max_attempts, recorder) */
static PyObject *zr_get_test_mode(PyObject *module, PyObject *noargs)
{
    (void)noargs;
    zr_module_state *st = get_state(module);
    return Py_BuildValue("(OkO)", st->test_instant ? Py_True : Py_False,
                         (unsigned long)st->test_max_attempts,
                         st->test_recorder ? st->test_recorder : Py_None);
}

/* _skip_sleep(delay) -> bool: the block form asks whether test mode skips a sleep. */
static PyObject *zr_skip_sleep(PyObject *module, PyObject *arg)
{
    double d = PyFloat_AsDouble(arg);
    if (d == -1.0 && PyErr_Occurred()) return NULL;
    int r = zr_test_skip_sleep(get_state(module), d);
    if (r < 0) return NULL;
    return PyBool_FromLong(r);
}

static PyMethodDef zr_functions[] = {
    {"_set_test_mode", (PyCFunction)zr_set_test_mode, METH_VARARGS,
     "_set_test_mode(instant, max_attempts=0, recorder=None) (zenoo_retry.testing)."},
    {"_test_mode", (PyCFunction)zr_get_test_mode, METH_NOARGS,
     "_test_mode() -> (instant, max_attempts, recorder)."},
    {"_skip_sleep", (PyCFunction)zr_skip_sleep, METH_O,
     "_skip_sleep(delay) -> True if test mode skips this sleep."},
    {"_wake", (PyCFunction)zr_wake, METH_O, "Resolve a retry-sleep future (internal)."},
    {NULL, NULL, 0, NULL},
};

static int zr_exec(PyObject *module)
{
    zr_module_state *st = get_state(module);
    /* retry engine */
    if (add_type(module, &zr_backoff_spec, NULL, &st->Backoff_Type) < 0) return -1;
    if (add_type(module, &zr_retry_attempt_spec, NULL, &st->RetryAttempt_Type) < 0) return -1;
    if (add_type(module, &zr_retry_spec_spec, NULL, &st->RetrySpec_Type) < 0) return -1;
    if (add_type(module, &zr_retrying_spec, NULL, &st->Retrying_Type) < 0) return -1;
    if (add_type(module, &zr_async_retrying_spec, NULL, &st->AsyncRetrying_Type) < 0) return -1;
    if (add_type(module, &zr_retry_awaitable_spec, NULL, &st->RetryAwaitable_Type) < 0) return -1;
    if (add_type(module, &zr_awaitable_return_spec, PyExc_StopIteration,
                 &st->AwaitableReturn_Type) < 0)
        return -1;

    /* circuit breakers (issue 4: breaker_type.c) */
    if (add_type(module, &zr_circuit_breaker_spec, NULL, &st->CircuitBreaker_Type) < 0) return -1;
    if (add_type(module, &zr_breaker_call_spec, NULL, &st->BreakerCall_Type) < 0) return -1;
    if (add_type(module, &zr_breaker_awaitable_spec, NULL, &st->BreakerAwaitable_Type) < 0)
        return -1;
    for (uint32_t i = 0; i < 5; i++)
        if ((st->breaker_mode_names[i] = PyUnicode_InternFromString(zr_breaker_mode_name(i))) == NULL)
            return -1;

    /* retry budgets and adaptive strategy (issue 4: budget_type.c, adaptive_type.c) */
    if (add_type(module, &zr_retry_budget_spec, NULL, &st->RetryBudget_Type) < 0) return -1;
    if (add_type(module, &zr_adaptive_spec, (PyObject *)st->Backoff_Type,
                 &st->AdaptiveBackoff_Type) < 0)
        return -1;

    /* shared memory (issue 5) */
    if (zr_segments_init(module, st) < 0) return -1;

    /* observability (issue 6: metrics_type.c) */
    if (add_type(module, &zr_operation_metrics_spec, NULL, &st->OperationMetrics_Type) < 0)
        return -1;
    if (PyModule_AddFunctions(module, zr_observability_functions) < 0) return -1;

    /* operations toolkit (issue 7) */

    struct {
        const char *name;
        PyObject **slot;
    } excs[] = {
        {"InvalidConfigurationError", &st->InvalidConfigurationError},
        {"MaxRetriesExceededError", &st->MaxRetriesExceededError},
        {"RetryTimeoutError", &st->RetryTimeoutError},
        {"BudgetExhaustedError", &st->BudgetExhaustedError},
        {"CircuitBreakerOpenError", &st->CircuitBreakerOpenError},
    };
    for (size_t i = 0; i < sizeof excs / sizeof *excs; i++) {
        *excs[i].slot = import_attr("zenoo_retry.exceptions", excs[i].name);
        if (*excs[i].slot == NULL) return -1;
    }
    if ((st->time_sleep = import_attr("time", "sleep")) == NULL) return -1;
    if ((st->wake = PyObject_GetAttrString(module, "_wake")) == NULL) return -1;
    return 0;
}

static int zr_traverse(PyObject *module, visitproc visit, void *arg)
{
    zr_module_state *st = get_state(module);
    Py_VISIT(st->Backoff_Type);
    Py_VISIT(st->RetryAttempt_Type);
    Py_VISIT(st->RetrySpec_Type);
    Py_VISIT(st->Retrying_Type);
    Py_VISIT(st->AsyncRetrying_Type);
    Py_VISIT(st->RetryAwaitable_Type);
    Py_VISIT(st->AwaitableReturn_Type);
    Py_VISIT(st->InvalidConfigurationError);
    Py_VISIT(st->MaxRetriesExceededError);
    Py_VISIT(st->RetryTimeoutError);
    Py_VISIT(st->BudgetExhaustedError);
    Py_VISIT(st->CircuitBreakerOpenError);
    Py_VISIT(st->get_running_loop);
    Py_VISIT(st->wake);
    Py_VISIT(st->time_sleep);
    Py_VISIT(st->test_recorder);
    Py_VISIT(st->CircuitBreaker_Type);
    Py_VISIT(st->BreakerCall_Type);
    Py_VISIT(st->BreakerAwaitable_Type);
    for (int i = 0; i < 5; i++) Py_VISIT(st->breaker_mode_names[i]);
    Py_VISIT(st->shm_dir);
    Py_VISIT(st->SharedStateError);
    Py_VISIT(st->SharedSegmentNotFoundError);
    Py_VISIT(st->SharedSegmentCorruptedError);
    Py_VISIT(st->SharedSegmentVersionError);
    Py_VISIT(st->SharedSegmentPermissionError);
    Py_VISIT(st->SharedConfigMismatchError);
    Py_VISIT(st->OperationMetrics_Type);
    Py_VISIT(st->log_hook);
    Py_VISIT(st->RetryBudget_Type);
    Py_VISIT(st->AdaptiveBackoff_Type);
    return 0;
}

static int zr_clear(PyObject *module)
{
    zr_module_state *st = get_state(module);
    while (st->awaitable_free > 0) PyObject_GC_Del(st->awaitable_freelist[--st->awaitable_free]);
    zr_return_freelist_clear(st);
    Py_CLEAR(st->Backoff_Type);
    Py_CLEAR(st->RetryAttempt_Type);
    Py_CLEAR(st->RetrySpec_Type);
    Py_CLEAR(st->Retrying_Type);
    Py_CLEAR(st->AsyncRetrying_Type);
    Py_CLEAR(st->RetryAwaitable_Type);
    Py_CLEAR(st->AwaitableReturn_Type);
    Py_CLEAR(st->InvalidConfigurationError);
    Py_CLEAR(st->MaxRetriesExceededError);
    Py_CLEAR(st->RetryTimeoutError);
    Py_CLEAR(st->BudgetExhaustedError);
    Py_CLEAR(st->CircuitBreakerOpenError);
    Py_CLEAR(st->get_running_loop);
    Py_CLEAR(st->wake);
    Py_CLEAR(st->time_sleep);
    Py_CLEAR(st->test_recorder);
    Py_CLEAR(st->CircuitBreaker_Type);
    Py_CLEAR(st->BreakerCall_Type);
    Py_CLEAR(st->BreakerAwaitable_Type);
    for (int i = 0; i < 5; i++) Py_CLEAR(st->breaker_mode_names[i]);
    Py_CLEAR(st->shm_dir);
    Py_CLEAR(st->SharedStateError);
    Py_CLEAR(st->SharedSegmentNotFoundError);
    Py_CLEAR(st->SharedSegmentCorruptedError);
    Py_CLEAR(st->SharedSegmentVersionError);
    Py_CLEAR(st->SharedSegmentPermissionError);
    Py_CLEAR(st->SharedConfigMismatchError);
    Py_CLEAR(st->OperationMetrics_Type);
    Py_CLEAR(st->log_hook);
    Py_CLEAR(st->RetryBudget_Type);
    Py_CLEAR(st->AdaptiveBackoff_Type);
    return 0;
}

static void zr_free(void *module) { (void)zr_clear((PyObject *)module); }

static PyModuleDef_Slot zr_slots[] = {
    {Py_mod_exec, (void *)zr_exec},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

PyModuleDef zr_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "zenoo_retry._core",
    .m_doc = "The C engine of zenoo_retry: backoff schedules, retry loops, breakers, budgets.",
    .m_size = sizeof(zr_module_state),
    .m_methods = zr_functions,
    .m_slots = zr_slots,
    .m_traverse = zr_traverse,
    .m_clear = zr_clear,
    .m_free = zr_free,
};

PyMODINIT_FUNC PyInit__core(void) { return PyModuleDef_Init(&zr_module_def); }
