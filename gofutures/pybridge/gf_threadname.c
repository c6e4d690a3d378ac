/* gf_threadname.c: threads gofutures makes in C keep threading's numbering
 * of default thread names ("Thread-N") as the stdlib's threads in their
 * place do.
 *
 * threading.current_thread() on a thread that threading did not start makes
 * a _DummyThread named "Dummy-N", which takes the next N from the counter
 * that unnamed Threads also use. The stdlib's pool workers are named
 * threads (they take no N) and its process pool's manager thread takes one,
 * so without this every gofutures worker and pump took one more, and the
 * program's own threads were named one or more numbers higher than with
 * the stdlib. */
#include "gf_python.h"

#include <stdio.h>
#include <string.h>

/* fast_give_back_thread_number(n) -> bool: if n is the last number
 * threading's counter gave out (it would give n + 1 next), make it give n
 * again and return True; else change nothing and return False. The counter
 * is threading._counter, an itertools.count's __next__ in 3.11-3.13; with
 * anything else nothing changes. The GIL is held throughout and no Python
 * code runs, so no other thread takes a number between the check and the
 * change. */
PyObject *gf_give_back_thread_number(PyObject *self, PyObject *arg) {
    long long n = PyLong_AsLongLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    int given = 0;
    PyObject *name = PyUnicode_FromString("threading");
    PyObject *threading = name != NULL ? PyImport_GetModule(name) : NULL;
    PyObject *counter = threading != NULL ? PyObject_GetAttrString(threading, "_counter") : NULL;
    PyObject *count = counter != NULL ? PyObject_GetAttrString(counter, "__self__") : NULL;
    PyObject *text = NULL, *fresh = NULL, *next = NULL;
    if (count != NULL && strcmp(Py_TYPE(count)->tp_name, "itertools.count") == 0) {
        text = PyObject_Repr(count); /* "count(N)" */
        const char *s = text != NULL ? PyUnicode_AsUTF8(text) : NULL;
        long long at;
        char close;
        if (s != NULL && sscanf(s, "count(%lld%c", &at, &close) == 2 && close == ')' && at == n + 1) {
            fresh = PyObject_CallFunction((PyObject *)Py_TYPE(count), "L", n);
            next = fresh != NULL ? PyObject_GetAttrString(fresh, "__next__") : NULL;
            given = next != NULL && PyObject_SetAttrString(threading, "_counter", next) == 0;
        }
    }
    Py_XDECREF(next);
    Py_XDECREF(fresh);
    Py_XDECREF(text);
    Py_XDECREF(count);
    Py_XDECREF(counter);
    Py_XDECREF(threading);
    Py_XDECREF(name);
    PyErr_Clear(); /* whatever failed, the counter is as it was */
    return PyBool_FromLong(given);
}
