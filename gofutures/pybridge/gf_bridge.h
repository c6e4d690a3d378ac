/* gf_bridge.h (declarations; bodies in gf_bridge.c): the C half of the bridge between Go workers and CPython.
 * Every worker function here runs on the worker's own thread, created in C
 * (package cthread), whose goroutine cannot leave it: a thread's
 * PyThreadState stays on the thread that created it.
 *
 * A worker keeps one Python thread state for its whole life: it is created
 * with the GIL in gf_attach, detached (GIL released) between tasks, and
 * re-attached for each task with PyEval_RestoreThread. That costs about
 * 0.2-0.3 us per task, against 10-36 us for creating a thread state per call,
 * and keeps threading.local and the thread's identity stable across tasks.
 *
 * The Python side of the contract is the hooks named by boundary.Thread
 * (gofutures.thread: _worker_start(pool, index) -> bool, _run_task(id) ->
 * outcome (taskstats.Outcome: how the task ended, for stats()),
 * _fail_task(id, kind, message) and _worker_stop(pool, last)).
 */
#ifndef GOFUTURES_BRIDGE_H
#define GOFUTURES_BRIDGE_H

#include "gf_python.h"
#include <semaphore.h>
#include <stdlib.h>

typedef struct {
    PyThreadState *ts;
    long long pool;
    long long index;
    int started;     /* the start hook ran */
    int held;        /* it holds the GIL (see gf_run and gf_park) */
    int spin_missed; /* its last spin in gf_park ended with no wake-up */
    int idle_ready;  /* idle was initialized: gf_worker_free destroys it */
    sem_t idle;      /* an idle worker sleeps on it (gf_park) */
} gf_worker;

/* gf_attach gives this thread a Python thread state without taking the GIL;
 * returns 1, or -1 when Python is gone or the worker cannot be set up. */
int gf_attach(gf_worker *w, long long pool, long long index);
/* gf_run runs task id: it takes the GIL with the worker's kept thread state
 * unless the worker still holds it (w->held), runs the start hook once, then
 * the task. It returns what the run hook returned (a taskstats.Outcome), -1
 * if that raised or returned no int, or GF_START_FAILED if the start hook
 * failed (the task did not run; the GIL is then released). w->held says
 * whether the worker still holds the GIL on return: only if the task ran
 * for less than GF_KEEP_GIL_NS (see gf_bridge.c). *began is how long the
 * call waited (GIL, start hook) before the task began, in nanoseconds.
 * After a task that ran, 1 is added to *returning (pool.Returning) before
 * the GIL may be released: the pool then counts on this worker for a task
 * submitted before it is back. A worker that holds the GIL after its last
 * task keeps it until gf_park (or gf_fail, gf_detach, gf_leave) lets it
 * go. */
#define GF_START_FAILED (-2L)
long gf_run(gf_worker *w, long long id, long long *began, long long *returning);
/* gf_leave releases the GIL if the worker holds it, keeping the thread state. */
void gf_leave(gf_worker *w);
/* gf_fail completes task id with an exception of kind (boundary.FailKind). */
void gf_fail(gf_worker *w, long long id, int kind, const char *msg);
/* gf_detach runs the stop hook and destroys this thread's Python state. */
void gf_detach(gf_worker *w, int last);
/* gf_set_thread_hooks names the hooks (boundary.Thread); the strings must
 * stay valid for the life of the process. */
void gf_set_thread_hooks(const char *module, const char *start, const char *run,
                         const char *fail, const char *stop);
/* gf_worker_free releases what gf_attach set up, whether or not it got that
 * far, and the worker itself. */
void gf_worker_free(gf_worker *w);
/* gf_park blocks this idle worker until gf_unpark, releasing the GIL first
 * if the worker holds it. */
void gf_park(gf_worker *w);
void gf_unpark(gf_worker *w);

/* threading.stack_size() for new worker threads (fastpath.c): noted with the
 * GIL held on each submit and worker start, read by the spawner without it. */
void gf_note_stack_size(void);
/* A new worker thread is counted when spawned (gf_count_spawn, from Go, on
 * the spawning thread) and when it first takes the GIL; a submit that
 * spawned one waits for that (gf_let_new_worker_start, GIL held, see
 * gf_bridge.c). */
void gf_count_spawn(void);
long long gf_spawn_count(void);
long long gf_first_gil_count(void);
void gf_let_new_worker_start(long long before);
size_t gf_thread_stack_size(void);

#endif
