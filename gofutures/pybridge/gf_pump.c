/* gf_pump.c: the C half of a process pool's completion pump (see gf_pump.h). */
#include "gf_pump.h"

static PyObject *gf_deliver_hook;

/* The hook's module and function name (boundary.Pump), set once by Go
 * before any pump starts; kept for the life of the process. */
static const char *gf_pump_module, *gf_pump_deliver_name;

void gf_set_pump_hook(const char *module, const char *deliver) {
    gf_pump_module = module;
    gf_pump_deliver_name = deliver;
}

/* In fastpath.c: releases task pieces Go is done with (GIL held). */
extern void gf_release_lent(void);

/* Returns 1 when attached, -1 when Python is gone. */
int gf_pump_attach(gf_pump *p) {
    if (!gf_python_alive()) return -1;
    p->gil = PyGILState_Ensure();
    if (gf_deliver_hook == NULL && gf_pump_module != NULL) {
        PyObject *mod = PyImport_ImportModule(gf_pump_module);
        if (mod != NULL) {
            gf_deliver_hook = PyObject_GetAttrString(mod, gf_pump_deliver_name);
            Py_DECREF(mod);
        }
        if (gf_deliver_hook == NULL) PyErr_WriteUnraisable(NULL);
    }
    p->ts = PyEval_SaveThread();
    return 1;
}

/* Fault injection (GoProcPumpFailNext): the next payload finds no memory. */
static int gf_pump_fail_next;

void gf_pump_fail_next_payload(void) { __atomic_store_n(&gf_pump_fail_next, 1, __ATOMIC_RELAXED); }

/* Appends (kind, id, payload) to list; the GIL is held. The payload is
 * bytes(data[:n]), or with lend a memoryview of data, which must be C memory
 * that stays valid until gf_pump_deliver returns. With no memory for it,
 * the payload is n, the size (an int): its task fails with MemoryError
 * (process.py), instead of the event being dropped and its future left
 * pending for ever. */
static void gf_pump_add(gf_pump *p, PyObject *list, int kind, unsigned long long id,
                        char *data, size_t n, int lend) {
    if (list == NULL) return;
    PyObject *item;
    if (__atomic_exchange_n(&gf_pump_fail_next, 0, __ATOMIC_RELAXED)) {
        item = PyErr_NoMemory();
    } else if (lend && data != NULL) {
        PyObject *view = PyMemoryView_FromMemory(data, (Py_ssize_t)n, PyBUF_READ);
        if (view != NULL && p->views == NULL) p->views = PyList_New(0);
        if (view != NULL && p->views != NULL && PyList_Append(p->views, view) == 0) {
            item = Py_BuildValue("(iKN)", kind, id, view);
        } else {
            Py_XDECREF(view);
            item = NULL;
        }
    } else {
        item = Py_BuildValue("(iKy#)", kind, id, data == NULL ? "" : data, (Py_ssize_t)n);
    }
    if (item == NULL) {
        PyErr_Clear();
        item = Py_BuildValue("(iKn)", kind, id, (Py_ssize_t)n);
    }
    if (item == NULL || PyList_Append(list, item) < 0) PyErr_WriteUnraisable(NULL);
    Py_XDECREF(item);
}

/* Releases the batch's memoryviews; returns 0 when every one was released
 * (their memory may be reused), -1 when one was still exported. */
static int gf_pump_release_views(gf_pump *p) {
    int rc = 0;
    if (p->views == NULL) return 0;
    Py_ssize_t n = PyList_GET_SIZE(p->views);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *r = PyObject_CallMethod(PyList_GET_ITEM(p->views, i), "release", NULL);
        if (r == NULL) {
            PyErr_Clear();
            rc = -1;
        }
        Py_XDECREF(r);
    }
    Py_CLEAR(p->views);
    return rc;
}

int gf_pump_deliver(gf_pump *p, long long pool, gf_pevent *events, size_t n, int *kept) {
    PyEval_RestoreThread(p->ts);
    PyObject *list = PyList_New(0);
    for (size_t i = 0; i < n; i++)
        gf_pump_add(p, list, events[i].kind, events[i].id, events[i].data, events[i].n, events[i].lend);
    int rc = -1;
    if (list != NULL && gf_deliver_hook != NULL) {
        PyObject *r = PyObject_CallFunction(gf_deliver_hook, "LO", pool, list);
        if (r == NULL) {
            PyErr_WriteUnraisable(gf_deliver_hook);
        } else {
            rc = (int)PyLong_AsLong(r);
            if (rc == -1 && PyErr_Occurred()) PyErr_Clear();
            Py_DECREF(r);
        }
    }
    Py_XDECREF(list);
    *kept = gf_pump_release_views(p) != 0;
    gf_release_lent();
    p->ts = PyEval_SaveThread();
    return rc;
}

void gf_pump_detach(gf_pump *p) {
    PyEval_RestoreThread(p->ts);
    gf_release_lent();
    p->ts = NULL;
    PyGILState_Release(p->gil);
}

