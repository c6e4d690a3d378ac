/* gf_pump.h: the C half of a process pool's completion pump. The pump is a
 * goroutine locked to its OS thread with a kept Python thread state (as a
 * thread-pool worker); for each batch of completions it takes the GIL once,
 * builds a list of (kind, task id, payload bytes) tuples and calls
 * gofutures.process._deliver(pool, list). One GIL acquisition completes a
 * whole batch of futures. */
#ifndef GOFUTURES_PUMP_H
#define GOFUTURES_PUMP_H

#include "gf_python.h"

typedef struct {
    PyThreadState *ts;
    PyGILState_STATE gil;
} gf_pump;

static PyObject *gf_deliver_hook;

/* Returns 1 when attached, -1 when Python is gone. */
static int gf_pump_attach(gf_pump *p) {
    if (!gf_python_alive()) return -1;
    p->gil = PyGILState_Ensure();
    if (gf_deliver_hook == NULL) {
        PyObject *mod = PyImport_ImportModule("gofutures.process");
        if (mod != NULL) {
            gf_deliver_hook = PyObject_GetAttrString(mod, "_deliver");
            Py_DECREF(mod);
        }
        if (gf_deliver_hook == NULL) PyErr_WriteUnraisable(NULL);
    }
    p->ts = PyEval_SaveThread();
    return 1;
}

/* Takes the GIL and returns a new empty list (NULL on failure, GIL held). */
static PyObject *gf_pump_begin(gf_pump *p) {
    PyEval_RestoreThread(p->ts);
    return PyList_New(0);
}

/* Appends (kind, id, bytes(data[:n])) to list; the GIL is held. */
static void gf_pump_add(PyObject *list, int kind, unsigned long long id, const char *data, size_t n) {
    if (list == NULL) return;
    PyObject *item = Py_BuildValue("(iKy#)", kind, id, data == NULL ? "" : data, (Py_ssize_t)n);
    if (item == NULL || PyList_Append(list, item) < 0) PyErr_WriteUnraisable(NULL);
    Py_XDECREF(item);
}

/* Calls the hook with the list, releases the GIL; returns the hook's int
 * result (1: the pool is drained after shutdown, close it) or -1. */
static int gf_pump_deliver(gf_pump *p, long long pool, PyObject *list) {
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
    p->ts = PyEval_SaveThread();
    return rc;
}

static void gf_pump_detach(gf_pump *p) {
    PyEval_RestoreThread(p->ts);
    p->ts = NULL;
    PyGILState_Release(p->gil);
}

#endif
