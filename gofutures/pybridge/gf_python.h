/* gf_python.h: what every C part of the bridge needs from CPython. */
#ifndef GOFUTURES_PYTHON_H
#define GOFUTURES_PYTHON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* gf_python_alive reports whether the interpreter can still run Python code
 * (taking the GIL during finalization crashes: cpython#124619). */
static inline int gf_python_alive(void) {
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsInitialized() && !Py_IsFinalizing();
#else
    return Py_IsInitialized() && !_Py_IsFinalizing();
#endif
}

#endif
