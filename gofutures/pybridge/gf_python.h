/* gf_python.h: what every C part of the bridge needs from CPython. */
#ifndef GOFUTURES_PYTHON_H
#define GOFUTURES_PYTHON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* gf_python_alive reports whether the interpreter can still run Python code
 * (taking the GIL during finalization crashes: cpython#124619). */
int gf_python_alive(void);

#endif
