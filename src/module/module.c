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

static PyObject *import_attr(const char *modname, const char *attr)
{
    PyObject *mod = PyImport_ImportModule(modname);
    if (mod == NULL) return NULL;
    PyObject *obj = PyObject_GetAttrString(mod, attr);
    Py_DECREF(mod);
    return obj;
}

static int zr_exec(PyObject *module)
{
    zr_module_state *st = get_state(module);
    if (add_type(module, &zr_backoff_spec, NULL, &st->Backoff_Type) < 0) return -1;
    st->InvalidConfigurationError =
        import_attr("zenoo_retry.exceptions", "InvalidConfigurationError");
    if (st->InvalidConfigurationError == NULL) return -1;
    return 0;
}

static int zr_traverse(PyObject *module, visitproc visit, void *arg)
{
    zr_module_state *st = get_state(module);
    Py_VISIT(st->Backoff_Type);
    Py_VISIT(st->InvalidConfigurationError);
    return 0;
}

static int zr_clear(PyObject *module)
{
    zr_module_state *st = get_state(module);
    Py_CLEAR(st->Backoff_Type);
    Py_CLEAR(st->InvalidConfigurationError);
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
    .m_slots = zr_slots,
    .m_traverse = zr_traverse,
    .m_clear = zr_clear,
    .m_free = zr_free,
};

PyMODINIT_FUNC PyInit__core(void) { return PyModuleDef_Init(&zr_module_def); }
