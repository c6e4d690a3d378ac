/* gf_gotask.h (bodies in gf_gotask.c): the C half of Go tasks (gofutures.io,
 * gofutures.http).
 *
 * A direct call (gf_go_call, the builtin fast_go_call) starts the operation
 * in Go with the GIL held, then waits for it with the GIL released, in
 * slices: between two, with the GIL, it runs Python's signal handlers, so
 * Ctrl-C interrupts the call (the operation is cancelled and waited for,
 * then KeyboardInterrupt propagates).
 *
 * Tasks submitted to a thread pool complete through a pump: a goroutine
 * locked to its OS thread with a kept Python thread state that takes the
 * completions in batches and hands each batch to the hook named by
 * boundary.GoTask (gofutures._gotask._deliver(list)) with one GIL
 * acquisition. Done-callbacks run there; one that keeps a pump in Python
 * makes Go start another (gotask_pump.go), so a pump is rarely alone.
 *
 * fast_go_submit does not call into Go: it copies the task into the
 * submission queue below, which a goroutine drains (pybridge's drainer). A
 * call into Go from a Python thread needs a free P, and while thousands of
 * goroutines are runnable it waited up to 100 ms, with the GIL held. */
#ifndef GOFUTURES_GOTASK_H
#define GOFUTURES_GOTASK_H

#include <pthread.h>
#include <stddef.h>
#include "gf_python.h"

/* A submitted Go task; meta and body are malloc'd copies the taker frees,
 * but a borrowed body, which points into a bytes object Python keeps alive
 * until the task is done (a file write's data, a run's input). */
typedef struct {
    long long pool, task;
    int kind;
    char *meta, *body;
    size_t mlen, blen;
    int borrowed;
} gf_sub;

/* Blocks until the submission queue holds a task. */
void gf_subq_wait(void);
/* Takes every queued task, oldest first: a malloc'd array of *n entries
 * (NULL if none), which the taker frees. */
gf_sub *gf_subq_take_all(size_t *n);

typedef struct {
    PyThreadState *ts;
    PyGILState_STATE gil;
    /* gf_now_ns() when this pump, holding the GIL, had its batch's bodies
     * copied, or last started a task's done-callbacks (fast_pump_progress),
     * 0 outside a batch: Go
     * reads it (atomically) to see a pump held by one task's callbacks. */
    long long in_python_since;
    /* The ids of the tasks this pump has delivered (fast_pump_delivered:
     * their callbacks have run; a pump may deliver tasks of another's
     * batch) or could not hand over (no memory), not yet taken by Go to
     * settle (gf_gpump_take_done): done[0:ndone], malloc'd, grown as needed,
     * under done_mu. lost: an id could not be recorded. */
    pthread_mutex_t done_mu;
    long long *done;
    size_t ndone, done_cap;
    int lost;
} gf_gpump;

/* Returns 1 when attached, -1 when Python is gone. */
int gf_gpump_attach(gf_gpump *p);
/* Moves up to cap of the ids in p->done into out, oldest first; returns
 * how many. Any thread. */
size_t gf_gpump_take_done(gf_gpump *p, long long *out, size_t cap);
/* A piece of a body kept in pieces (gotask.Result.Pieces). When unmap is
 * not 0, p starts a mapping of unmap bytes outside Go's heap that C owns
 * (gio.Mapped.Take): C unmaps it once the piece is copied, or not needed,
 * and sets unmap to 0. */
typedef struct {
    const char *p;
    size_t n;
    size_t unmap;
} gf_piece;

/* A completion as the pump hands it over; every pointer points into Go
 * memory the pump pins for the call, or into memory outside Go's heap:
 * pieces C unmaps (gf_piece.unmap), or that Go releases after the call
 * (gio.Mapped). The body is body[0:blen] or, when
 * pieces is not NULL, pieces[0:npieces] end to end: one bytes object, or
 * two (a tuple) when split > 0, of the first split pieces and the rest. */
typedef struct {
    long long id;
    int status;
    const char *meta, *body;
    size_t mlen, blen;
    gf_piece *pieces;
    size_t npieces, split;
} gf_gcomp;

/* Takes the GIL, hands the n completions to the hook as one list of (id,
 * status, meta, body) tuples, and releases the GIL. One C call per batch:
 * the pump never returns into Go with the GIL held, since a return into Go
 * waits for a free P (with every P running Go tasks it waited up to 24 ms,
 * and every Python thread with it). n may be 0: the hook then only delivers
 * what other pumps left queued in Python.
 *
 * Returns 1 when every task the call delivered was recorded in p->done, 0
 * when not (the hook raised, no memory): Go then also settles the whole
 * batch. */
int gf_gpump_deliver(gf_gpump *p, gf_gcomp *items, size_t n);
/* gotask.StatusError (pybridge checks that they agree): the status of a
 * task whose body C found no memory for, which fails with MemoryError. */
#define GF_STATUS_ERROR 1
/* Fault injection: the next body gf_gpump_deliver makes finds no memory. */
void gf_gpump_fail_next_body(void);
/* fast_pump_progress(): called by the hook before a task's done-callbacks
 * run; fast_pump_delivered(task): after a task's delivery. On any thread but
 * a delivering pump they do nothing. */
PyObject *gf_pump_progress(PyObject *self, PyObject *unused);
PyObject *gf_pump_delivered(PyObject *self, PyObject *task);
void gf_gpump_detach(gf_gpump *p);
/* gf_set_gotask_hook names the hook (boundary.GoTask); the strings must stay
 * valid for the life of the process. */
void gf_set_gotask_hook(const char *module, const char *deliver);

/* CLOCK_MONOTONIC in nanoseconds (gf_bridge.c). */
long long gf_now_ns(void);

/* The builtins (published by gf_install_fastpath). */
PyObject *gf_go_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
/* Go tasks submitted or called and not yet delivered (nor taken back): a
 * load that can leave Go with no free P (see fastpath.c's GF_CALL_GO).
 * Approximate (never read as exact); updated atomically. */
extern long long gf_go_outstanding;
void gf_go_outstanding_add(long long n);

PyObject *gf_go_submit(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *gf_go_cancel(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *gf_go_started(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

#endif
