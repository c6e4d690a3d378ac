/* gf_environ.c: the process environment as a child started now inherits it. */
#include "gf_python.h"

extern char **environ;

/* fast_environ() -> list[bytes]: the C library's environment, "KEY=value"
 * entries in its order. subprocess with env=None gives a child this, which
 * os.putenv, os.unsetenv and C code calling setenv change and os.environ
 * may not show; Go's own copy was made when Go started. GIL held; about
 * 0.1 us an entry. */
PyObject *gf_environ(PyObject *self, PyObject *unused) {
    PyObject *list = PyList_New(0);
    if (list == NULL) return NULL;
    for (char **entry = environ; entry != NULL && *entry != NULL; entry++) {
        PyObject *item = PyBytes_FromString(*entry);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
    }
    return list;
}
