/* gf_pump.h (declarations; bodies in gf_pump.c): the C half of a process pool's completion pump. The pump is a
 * goroutine locked to its OS thread with a kept Python thread state (as a
 * thread-pool worker); for each batch of completions it takes the GIL once,
 * builds a list of (kind, task id, payload) tuples and calls the hook named
 * by boundary.Pump (gofutures.process._deliver(pool, list)). One GIL acquisition completes a
 * whole batch of futures.
 *
 * A payload is bytes, or, for a large one in C memory (package cblock), a
 * read-only memoryview of it: no copy, no fresh allocation. The views are
 * released when _deliver returns, so a view that Python kept raises
 * ValueError instead of reading memory that is reused. */
#ifndef GOFUTURES_PUMP_H
#define GOFUTURES_PUMP_H

#include "gf_python.h"

typedef struct {
    PyThreadState *ts;
    PyGILState_STATE gil;
    PyObject *views; /* the batch's memoryviews, released after delivery */
} gf_pump;

/* Returns 1 when attached, -1 when Python is gone. */
int gf_pump_attach(gf_pump *p);
/* Takes the GIL and returns a new empty list (NULL on failure, GIL held). */
PyObject *gf_pump_begin(gf_pump *p);
/* Appends (kind, id, payload) to list; the GIL is held. The payload is an
 * int, its size, when there was no memory for it. */
void gf_pump_add(gf_pump *p, PyObject *list, int kind, unsigned long long id, char *data, size_t n,
                 int lend);
/* Calls the hook with the list and releases the GIL; returns its result. */
int gf_pump_deliver(gf_pump *p, long long pool, PyObject *list, int *kept);
void gf_pump_detach(gf_pump *p);
/* Fault injection: the next payload gf_pump_add makes finds no memory. */
void gf_pump_fail_next_payload(void);
/* gf_set_pump_hook names the hook (boundary.Pump); the strings must stay
 * valid for the life of the process. */
void gf_set_pump_hook(const char *module, const char *deliver);

#endif
