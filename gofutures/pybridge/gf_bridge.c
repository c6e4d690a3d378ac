/* gf_bridge.c: the C half of the bridge between Go workers and CPython (see
 * gf_bridge.h). */
#include "gf_bridge.h"
#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <time.h>

#include <stdlib.h>

/* Polls of the semaphore before an idle worker sleeps (see gf_park);
 * GOFUTURES_PARK_SPINS overrides it (0 turns spinning off). */
static int gf_park_spins = -1;

static int gf_spins(void) {
    if (gf_park_spins < 0) {
        const char *env = getenv("GOFUTURES_PARK_SPINS");
        gf_park_spins = env != NULL ? atoi(env) : 2000;
    }
    return gf_park_spins;
}

#if defined(__x86_64__) || defined(__i386__)
#define gf_cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define gf_cpu_relax() __asm__ __volatile__("yield")
#else
#define gf_cpu_relax() ((void)0)
#endif



/* Workers spinning in gf_park right now (process-wide), and how many may. */
static int gf_spinners;
#ifndef GF_MAX_SPINNERS
#define GF_MAX_SPINNERS 1
#endif

/* A wake-up this soon after a worker went to sleep would have been caught by
 * spinning: it may spin again. */
#define GF_QUICK_WAKE_NS 100000LL

/* CLOCK_MONOTONIC in nanoseconds (also used by gf_gotask.c). */
long long gf_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* gf_park blocks this idle worker until gf_unpark; it sleeps in C so Go's
 * scheduler has no locked thread to hand a P to when waking it. A worker
 * that goes idle while no other spins polls its semaphore for about 30 us
 * first: the pool wakes the most recently idled worker first, so a
 * submit().result() loop finds it awake and skips a futex wake-up (round
 * trip 62-93 -> 44-57 us here). One spinner at most bounds the CPU spent,
 * and a worker whose spin found nothing stops spinning until a wake-up
 * comes soon after it went to sleep: many workers going idle one after
 * another (the end of a burst of blocking tasks) burn no CPU in turn. */
void gf_park(gf_worker *w) {
    gf_leave(w);
    if (!w->spin_missed) {
        int spins = gf_spins();
        if (__atomic_fetch_add(&gf_spinners, 1, __ATOMIC_RELAXED) < GF_MAX_SPINNERS) {
            for (int i = 0; i < spins; i++) {
                if (sem_trywait(&w->idle) == 0) {
                    __atomic_fetch_sub(&gf_spinners, 1, __ATOMIC_RELAXED);
                    return;
                }
                gf_cpu_relax();
            }
            w->spin_missed = spins > 0;
        }
        __atomic_fetch_sub(&gf_spinners, 1, __ATOMIC_RELAXED);
    }
    long long slept = w->spin_missed ? gf_now_ns() : 0;
    while (sem_wait(&w->idle) == -1 && errno == EINTR) {
    }
    if (w->spin_missed && gf_now_ns() - slept < GF_QUICK_WAKE_NS) w->spin_missed = 0;
}

void gf_unpark(gf_worker *w) { sem_post(&w->idle); }

static PyObject *gf_hook_start, *gf_hook_run, *gf_hook_fail, *gf_hook_stop;

/* The hooks' module and function names (boundary.Thread), set once by Go
 * before any worker starts; kept for the life of the process. */
static const char *gf_thread_module, *gf_thread_start, *gf_thread_run, *gf_thread_fail,
    *gf_thread_stop;

void gf_set_thread_hooks(const char *module, const char *start, const char *run,
                         const char *fail, const char *stop) {
    gf_thread_module = module;
    gf_thread_start = start;
    gf_thread_run = run;
    gf_thread_fail = fail;
    gf_thread_stop = stop;
}

/* Loads the hooks once; the GIL must be held. Returns 0 on failure. */
static int gf_load_hooks(void) {
    if (gf_hook_stop != NULL) return 1;
    if (gf_thread_module == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "gofutures: thread hooks not set");
        return 0;
    }
    PyObject *mod = PyImport_ImportModule(gf_thread_module);
    if (mod == NULL) return 0;
    PyObject *start = PyObject_GetAttrString(mod, gf_thread_start);
    PyObject *run = PyObject_GetAttrString(mod, gf_thread_run);
    PyObject *fail = PyObject_GetAttrString(mod, gf_thread_fail);
    PyObject *stop = PyObject_GetAttrString(mod, gf_thread_stop);
    Py_DECREF(mod);
    if (!start || !run || !fail || !stop) {
        Py_XDECREF(start); Py_XDECREF(run); Py_XDECREF(fail); Py_XDECREF(stop);
        return 0;
    }
    /* Kept for the life of the process: the module is never unloaded. */
    gf_hook_start = start; gf_hook_run = run; gf_hook_fail = fail; gf_hook_stop = stop;
    return 1;
}

/* gf_attach gives this thread a Python thread state without taking the GIL
 * (PyThreadState_New does not need it), so a new worker costs no GIL
 * hand-off: its start hook runs with its first task (gf_start). Returns 1, or
 * -1 when Python is gone. The thread state is bound to this thread for
 * PyGILState_* calls made by C code that the tasks run. */
int gf_attach(gf_worker *w, long long pool, long long index) {
    if (!gf_python_alive()) return -1;
    w->pool = pool;
    w->index = index;
    w->started = 0;
    if (sem_init(&w->idle, 0, 0) != 0) return -1;
    w->idle_ready = 1;
    w->ts = PyThreadState_New(PyInterpreterState_Main());
    return w->ts != NULL ? 1 : -1;
}

/* Workers spawned by this thread, and workers that took the GIL for the
 * first time: a submit that spawned one lets it start
 * (gf_let_new_worker_start). The spawn count is per thread: Go spawns a
 * submit's worker inside that submit's cgo callback, which runs on the
 * submitting thread, so a submit counts only its own spawns (not those of
 * other submitters, or of workers that start more workers). */
static _Thread_local long long gf_spawned;
static _Atomic long long gf_first_gil;

void gf_count_spawn(void) { gf_spawned++; }
long long gf_spawn_count(void) { return gf_spawned; }
long long gf_first_gil_count(void) { return atomic_load(&gf_first_gil); }

/* The stdlib's submit starts a new worker thread and waits until it runs
 * (Thread.start), so a pool grows one thread per submit, each taking the
 * GIL once before the next is made. Go starts a worker without waiting;
 * a loop of submits then made hundreds of threads at once, all wanting the
 * GIL for their first task: 2,000 time.sleep(0.02) on ThreadPoolExecutor(500)
 * took 0.27-0.47 s against the stdlib's 0.22-0.24, and a 1 ms heartbeat
 * thread stalled 27-112 ms in that herd. So the submit that spawned a worker
 * releases the GIL until some worker takes it for the first time since
 * `before` (normally the new one, which always has a first task), or for
 * GF_SPAWN_WAIT_NS at most (a thread the machine is slow to schedule, or
 * one that finds Python finalizing). GIL held on entry. */
#define GF_SPAWN_WAIT_NS 50000000LL
#define GF_SPAWN_POLL_NS 20000L

void gf_let_new_worker_start(long long before) {
    long long deadline = gf_now_ns() + GF_SPAWN_WAIT_NS;
    struct timespec poll = {0, GF_SPAWN_POLL_NS};
    Py_BEGIN_ALLOW_THREADS
    while (atomic_load(&gf_first_gil) <= before && gf_now_ns() < deadline) nanosleep(&poll, NULL);
    Py_END_ALLOW_THREADS
}

/* gf_start runs the start hook (thread name, initializer) once; the GIL must
 * be held. Returns 1 when the worker may run tasks, 0 when it failed. */
static int gf_start(gf_worker *w) {
    if (w->started) return 1;
    w->started = 1;
    atomic_fetch_add(&gf_first_gil, 1);
    gf_note_stack_size(); /* for the workers this one starts */
    if (!gf_load_hooks()) {
        PyErr_WriteUnraisable(NULL);
        return 0;
    }
    PyObject *r = PyObject_CallFunction(gf_hook_start, "LL", w->pool, w->index);
    if (r == NULL) {
        PyErr_WriteUnraisable(gf_hook_start);
        return 0;
    }
    int ok = PyObject_IsTrue(r) == 1;
    Py_DECREF(r);
    return ok;
}

/* gf_call_run runs task id; the GIL must be held. It returns the hook's
 * result, the task's outcome (taskstats.Outcome), or -1. */
static long gf_call_run(long long id) {
    PyObject *arg = PyLong_FromLongLong(id);
    PyObject *r = arg ? PyObject_CallOneArg(gf_hook_run, arg) : NULL;
    Py_XDECREF(arg);
    if (r == NULL) {
        PyErr_WriteUnraisable(gf_hook_run);
        return -1;
    }
    long outcome = PyLong_Check(r) ? PyLong_AsLong(r) : -1;
    if (outcome == -1 && PyErr_Occurred()) PyErr_Clear();
    Py_DECREF(r);
    return outcome;
}

/* A worker keeps the GIL from one task to the next (a burst) only after a
 * task that ran for less than this: CPython's default switch interval.
 *
 * Go lets a thread that is in a C call keep its P (scheduler slot); its
 * sysmon thread takes the P away only from a call it has seen twice, 20 us or
 * more apart. After a longer call the thread may come back to Go without a P,
 * and every P is usually held by some worker blocked in C (a sleeping task, a
 * wait for the GIL), so it then waits until sysmon takes one back and the
 * scheduler hands it over: tens of microseconds on an idle machine, but 1 to
 * 159 ms at a time measured (2,000 time.sleep(0.02) tasks on 500 new
 * workers, up to 130 ms a run in all) once hundreds of threads wait for the
 * GIL and saturate the CPUs. Holding the GIL through that wait stalled every
 * Python thread, whose waits for the GIL then grew, and so on. So after a
 * task that ran long (it blocked, or computed) the worker releases the GIL
 * before it returns to Go.
 *
 * Shorter tasks, and a long wait for the GIL or a new worker's start hook
 * before a short task, do not count: the worker then goes on to the next
 * task with the GIL, as the stdlib's worker does unless a switch interval
 * ends just then, so the program does not see that task still pending (a
 * map(buffersize=) closed right after a result cancels only the ones after
 * it). A 20 us limit, the most that always keeps the P, broke that in 1 run
 * of 2 under load (tests/test_map_buffersize.py: the short task ran longer).
 * Tasks between the two can still make Python threads wait, as before.
 * While Go may be congested (fastpath.c: many Go tasks outstanding, or a
 * call into Go just waited long for a P), no task keeps the GIL. */
#define GF_KEEP_GIL_NS 5000000LL

/* In fastpath.c. */
extern int gf_go_congested(void);

long gf_run(gf_worker *w, long long id, long long *began, long long *returning) {
    long long t0 = gf_now_ns(), t1 = t0;
    if (!w->held) {
        PyEval_RestoreThread(w->ts);
        t1 = gf_now_ns();
    }
    long long t2 = t1;
    int first = !w->started;
    long outcome = GF_START_FAILED;
    if (gf_start(w)) {
        if (first) t2 = gf_now_ns();
        outcome = gf_call_run(id);
    }
    *began = t2 - t0;
    if (outcome != GF_START_FAILED) __atomic_add_fetch(returning, 1, __ATOMIC_SEQ_CST);
    w->held = outcome != GF_START_FAILED && gf_now_ns() - t2 < GF_KEEP_GIL_NS && !gf_go_congested();
    if (!w->held) w->ts = PyEval_SaveThread();
    return outcome;
}

/* gf_leave releases the GIL if the worker holds it, keeping the thread state
 * for the next task. */
void gf_leave(gf_worker *w) {
    if (w->held) {
        w->held = 0;
        w->ts = PyEval_SaveThread();
    }
}

/* gf_fail completes task id with an exception of the given kind. */
void gf_fail(gf_worker *w, long long id, int kind, const char *msg) {
    if (!w->held) PyEval_RestoreThread(w->ts);
    w->held = 0;
    PyObject *r = PyObject_CallFunction(gf_hook_fail, "Lis", id, kind, msg);
    if (r == NULL) PyErr_WriteUnraisable(gf_hook_fail);
    Py_XDECREF(r);
    w->ts = PyEval_SaveThread();
}

/* gf_detach runs the stop hook and destroys this thread's Python state. */
void gf_detach(gf_worker *w, int last) {
    if (!w->held) PyEval_RestoreThread(w->ts);
    w->held = 0;
    /* A worker that never ran a task has nothing to undo, unless it is the
     * pool's last: then Python must hear that the pool is gone. */
    if (w->started || last) {
        if (!gf_load_hooks()) {
            PyErr_WriteUnraisable(NULL);
        } else {
            PyObject *r = PyObject_CallFunction(gf_hook_stop, "Li", w->pool, last);
            if (r == NULL) PyErr_WriteUnraisable(gf_hook_stop);
            Py_XDECREF(r);
        }
    }
    w->ts = NULL;
    PyThreadState_Clear(PyThreadState_Get());
    PyThreadState_DeleteCurrent(); /* releases the GIL */
}

void gf_worker_free(gf_worker *w) {
    if (w == NULL) return;
    if (w->idle_ready) sem_destroy(&w->idle);
    free(w);
}

