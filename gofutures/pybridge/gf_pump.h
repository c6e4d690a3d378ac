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
/* One event of a batch, as Go hands it over: its payload is data[0:n], Go
 * memory the pump pins for the call, or with lend C memory (cblock) lent to
 * Python as a memoryview until the call returns. */
typedef struct {
    int kind, lend;
    unsigned long long id;
    char *data;
    size_t n;
} gf_pevent;

/* Takes the GIL, hands the n events to the hook as one list of (kind, id,
 * payload) tuples, releases the lent views, and releases the GIL: one C call
 * per batch, so no Go runs with the GIL held (a return into Go waits for a
 * free P, and a Go panic there would leave the GIL held for ever). Returns
 * the hook's int result (1: close the drained pool) or -1; *kept is set when
 * a lent view could not be released (its memory must not be reused). A
 * payload there was no memory for is its size, an int. */
int gf_pump_deliver(gf_pump *p, long long pool, gf_pevent *events, size_t n, int *kept);
void gf_pump_detach(gf_pump *p);
/* Fault injection: the next payload gf_pump_add makes finds no memory. */
void gf_pump_fail_next_payload(void);
/* gf_set_pump_hook names the hook (boundary.Pump); the strings must stay
 * valid for the life of the process. */
void gf_set_pump_hook(const char *module, const char *deliver);

#endif
