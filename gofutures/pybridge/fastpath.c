/* fastpath.c: Python builtins for the per-task calls, which gopy's bindings
 * would make slower: gopy releases the GIL on every call, and with workers
 * waiting for the GIL that release becomes two thread switches per submit.
 * These builtins call Go with the GIL held (about 0.1-0.2 us).
 *
 * And builtins for the calls that wait (a thread pool's shutdown and join,
 * stopping the Go-task pump), which gopy would make stall other threads:
 * entering Go from C waits for a free P, and right after a burst of Go
 * tasks there may be none for tens of milliseconds; gopy releases the GIL
 * only once inside Go. These release it before they call Go.
 *
 * gf_install_fastpath() publishes them as attributes of gofutures._native
 * (see gf_fast_defs); the facade's InstallFastPath calls it once, when the
 * extension is loaded.
 *
 * Errors: a Go function of exports.go returns the kind of Python exception
 * its error becomes (boundary.ErrKind) and its message; gf_raise raises it
 * with the factory Python handed over for that kind at load
 * (fast_set_error_factories). No message is parsed. */
#include "gf_python.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "_cgo_export.h"
#include "gf_bridge.h"
#include "gf_gotask.h"

/* In gf_bridge.c. */
extern long long gf_now_ns(void);

/* One exception factory (a class, or a callable returning an exception) per
 * boundary.ErrKind, indexed by kind; kept for the life of the process. */
static PyObject *gf_error_factories;

static PyObject *gf_set_error_factories(PyObject *self, PyObject *factories) {
    if (!PyTuple_CheckExact(factories)) {
        PyErr_SetString(PyExc_TypeError, "set_error_factories takes a tuple");
        return NULL;
    }
    Py_INCREF(factories);
    Py_XSETREF(gf_error_factories, factories);
    Py_RETURN_NONE;
}

/* gf_raise raises the exception of Go error kind with message msg (which it
 * frees) and returns NULL. */
static PyObject *gf_raise(int kind, char *msg) {
    PyObject *text = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "replace");
    free(msg);
    if (text == NULL) return NULL;
    PyObject *factory = PyExc_RuntimeError;
    if (gf_error_factories != NULL && kind >= 0 && kind < PyTuple_GET_SIZE(gf_error_factories) &&
        PyTuple_GET_ITEM(gf_error_factories, kind) != Py_None) {
        factory = PyTuple_GET_ITEM(gf_error_factories, kind);
    }
    PyObject *exc = PyObject_CallOneArg(factory, text);
    Py_DECREF(text);
    if (exc == NULL) return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

/* For gf_gotask.c. */
PyObject *gf_raise_kind(int kind, char *msg) { return gf_raise(kind, msg); }

int gf_args_ll(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t want, long long *out,
               const char *usage) {
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s takes %zd arguments", usage, want);
        return 0;
    }
    for (Py_ssize_t i = 0; i < want; i++) {
        out[i] = PyLong_AsLongLong(args[i]);
        if (out[i] == -1 && PyErr_Occurred()) return 0;
    }
    return 1;
}

/* Parses (int, int, answer: list) into a[0], a[1], and returns the answer
 * list (NULL with TypeError). Go's answer is appended to a list the caller
 * made, before returning: a signal handler's exception (Ctrl-C) raised as
 * the call returns cannot lose it, and the caller still ends what Go took
 * back (see thread.py's shutdown). */
static PyObject *gf_args_answer(PyObject *const *args, Py_ssize_t nargs, long long *a, const char *usage) {
    if (nargs != 3) return PyErr_Format(PyExc_TypeError, "%s takes 3 arguments", usage);
    if (!PyList_Check(args[2])) return PyErr_Format(PyExc_TypeError, "%s: the answer must be a list", usage);
    return gf_args_ll(args, 2, 2, a, usage) ? args[2] : NULL;
}

/* A (pool, task, answer) call whose answer is yes or no: asks Go with
 * ask(pool, task), the GIL released, and appends the answer (a bool) to
 * answer. None, or NULL with an exception; *said is Go's answer, or -1 when
 * Go was not asked. */
PyObject *gf_ask_go(PyObject *const *args, Py_ssize_t nargs, const char *usage, int (*ask)(long long, long long),
                    int *said) {
    long long a[2];
    *said = -1;
    PyObject *answer = gf_args_answer(args, nargs, a, usage);
    if (answer == NULL) return NULL;
    int yes;
    Py_BEGIN_ALLOW_THREADS
    yes = ask(a[0], a[1]);
    Py_END_ALLOW_THREADS
    *said = yes != 0;
    if (PyList_Append(answer, yes ? Py_True : Py_False) < 0) return NULL;
    Py_RETURN_NONE;
}

/* fast_for_each(items: list, step) -> list: step(item) for each item in
 * order, every one of them, and what each returned. An exception meanwhile
 * (a signal handler's: Ctrl-C) is kept and that step tried again (steps
 * must be idempotent; one failing GF_FOR_EACH_TRIES times is given up, and
 * has no result); the first is raised once all are done. In C, so that no
 * Python frame of its own can be interrupted: the futures of tasks Go took
 * back are all ended, or they stay pending for ever (_native's "answer"
 * lists). A signal that comes after is raised as it returns, as for any
 * call. */
#define GF_FOR_EACH_TRIES 10

static PyObject *gf_fast_for_each(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyList_Check(args[0]))
        return PyErr_Format(PyExc_TypeError, "for_each(items: list, step) takes 2 arguments");
    PyObject *items = args[0], *step = args[1];
    PyObject *results = PyList_New(0);
    if (results == NULL) return NULL;
    PyObject *type = NULL, *value = NULL, *tb = NULL; /* the first exception */
    int tries = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items);) {
        PyObject *item = PyList_GET_ITEM(items, i);
        Py_INCREF(item);
        PyObject *r = PyObject_CallOneArg(step, item);
        Py_DECREF(item);
        int ok = r != NULL && PyList_Append(results, r) == 0;
        Py_XDECREF(r);
        if (ok) {
            i++;
            tries = 0;
            continue;
        }
        if (type == NULL) PyErr_Fetch(&type, &value, &tb);
        else PyErr_Clear();
        if (++tries == GF_FOR_EACH_TRIES) {
            i++;
            tries = 0;
        }
    }
    if (type != NULL) {
        Py_DECREF(results);
        PyErr_Restore(type, value, tb);
        return NULL;
    }
    return results;
}

/* threading.stack_size() as last seen with the GIL held: the stack size of
 * the next worker thread. A submit that starts a worker notes it just
 * before; a worker started by another worker (without the GIL) gets the
 * latest value noted. Read with PyThread_get_stacksize, which needs the GIL
 * held (a current thread state): about 2 ns. */
static size_t gf_stack_size;

void gf_note_stack_size(void) {
    __atomic_store_n(&gf_stack_size, PyThread_get_stacksize(), __ATOMIC_RELAXED);
}

size_t gf_thread_stack_size(void) { return __atomic_load_n(&gf_stack_size, __ATOMIC_RELAXED); }

/* The per-task calls hold the GIL while they call Go, which takes 0.1-0.2
 * us, unless Go may be congested: entering Go waits for a free P, and with
 * thousands of goroutines runnable (Go tasks' responses arriving) that wait
 * reached 0.3-0.9 s, every other Python thread waiting with it. Go may be
 * congested while more than GF_GO_BUSY_TASKS Go tasks are outstanding, and
 * for GF_GO_CONGESTED_NS after a call into Go slower than GF_GO_SLOW_NS;
 * then the per-task calls release the GIL first. Costs two clock reads a
 * call. */
#define GF_GO_BUSY_TASKS 256
#define GF_GO_SLOW_NS 200000LL         /* 0.2 ms: 1,000x a free P's cost */
#define GF_GO_CONGESTED_NS 200000000LL /* 0.2 s */
static long long gf_go_congested_until;

int gf_go_congested(void) {
    return __atomic_load_n(&gf_go_outstanding, __ATOMIC_RELAXED) > GF_GO_BUSY_TASKS ||
           gf_now_ns() < __atomic_load_n(&gf_go_congested_until, __ATOMIC_RELAXED);
}

static void gf_note_go_call(long long started) {
    long long now = gf_now_ns();
    if (now - started > GF_GO_SLOW_NS)
        __atomic_store_n(&gf_go_congested_until, now + GF_GO_CONGESTED_NS, __ATOMIC_RELAXED);
}

/* GF_CALL_GO(call): runs call (an assignment from an exported Go function)
 * with the GIL held, or released while Go is congested; times it. */
#define GF_CALL_GO(call)                        \
    do {                                        \
        long long gf_started_ = gf_now_ns();    \
        if (gf_go_congested()) {                \
            Py_BEGIN_ALLOW_THREADS              \
            call;                               \
            gf_note_go_call(gf_started_);       \
            Py_END_ALLOW_THREADS                \
        } else {                                \
            call;                               \
            gf_note_go_call(gf_started_);       \
        }                                       \
    } while (0)

static PyObject *gf_fast_submit(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    long long a[2];
    if (!gf_args_ll(args, nargs, 2, a, "thread_submit(pool, task)")) return NULL;
    gf_note_stack_size();
    char *msg = NULL;
    long long spawns = gf_spawn_count(), first_gils = gf_first_gil_count();
    int kind;
    GF_CALL_GO(kind = gfThreadSubmit(a[0], a[1], &msg));
    if (kind != 0) return gf_raise(kind, msg);
    if (gf_spawn_count() != spawns) gf_let_new_worker_start(first_gils); /* as Thread.start() */
    Py_RETURN_NONE;
}

/* fast_thread_new(max_workers) -> pool id. */
static PyObject *gf_fast_thread_new(PyObject *self, PyObject *arg) {
    long long workers = PyLong_AsLongLong(arg);
    if (workers == -1 && PyErr_Occurred()) return NULL;
    long long id = 0;
    char *msg = NULL;
    int kind = gfThreadNew(workers, &id, &msg);
    if (kind != 0) return gf_raise(kind, msg);
    return PyLong_FromLongLong(id);
}

/* fast_thread_shutdown(pool, cancel, answer): refuse new tasks; with
 * cancel, take back the queued ones and append their ids to answer. GIL
 * released. */
static PyObject *gf_fast_thread_shutdown(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    long long a[2];
    PyObject *answer = gf_args_answer(args, nargs, a, "thread_shutdown(pool, cancel, answer)");
    if (answer == NULL) return NULL;
    long long *ids = NULL;
    size_t n = 0, go_tasks = 0;
    char *msg = NULL;
    int kind;
    Py_BEGIN_ALLOW_THREADS
    kind = gfThreadShutdown(a[0], a[1] != 0, &ids, &n, &go_tasks, &msg);
    Py_END_ALLOW_THREADS
    if (kind != 0) return gf_raise(kind, msg);
    gf_go_outstanding_add(-(long long)go_tasks); /* taken back: never delivered */
    int ok = 1;
    for (size_t i = 0; ok && i < n; i++) {
        PyObject *id = PyLong_FromLongLong(ids[i]);
        ok = id != NULL && PyList_Append(answer, id) == 0;
        Py_XDECREF(id);
    }
    free(ids);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

/* fast_thread_join(pool, ms) -> bool: wait up to ms (forever if negative)
 * for a shut down pool to finish; whether it did. GIL released. */
static PyObject *gf_fast_thread_join(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    long long a[2];
    if (!gf_args_ll(args, nargs, 2, a, "thread_join(pool, ms)")) return NULL;
    int done = 0, kind;
    char *msg = NULL;
    Py_BEGIN_ALLOW_THREADS
    kind = gfThreadJoin(a[0], a[1], &done, &msg);
    Py_END_ALLOW_THREADS
    if (kind != 0) return gf_raise(kind, msg);
    return PyBool_FromLong(done);
}

/* fast_keep_forever(obj): one reference to obj that is never dropped, so
 * that interpreter finalization does not free it (the bodies that Go tasks
 * still running at exit read, when exit did not wait for them: Ctrl-C). */
static PyObject *gf_fast_keep_forever(PyObject *self, PyObject *obj) {
    Py_INCREF(obj);
    Py_RETURN_NONE;
}

/* fast_go_pump_stop(ms) -> bool: make the Go-task pump deliver what it holds
 * and exit; wait up to ms (forever if negative); whether it did. GIL
 * released. */
static PyObject *gf_fast_go_pump_stop(PyObject *self, PyObject *arg) {
    long long ms = PyLong_AsLongLong(arg);
    if (ms == -1 && PyErr_Occurred()) return NULL;
    int done = 0, kind;
    char *msg = NULL;
    Py_BEGIN_ALLOW_THREADS
    kind = gfGoPumpStop(ms, &done, &msg);
    Py_END_ALLOW_THREADS
    if (kind != 0) return gf_raise(kind, msg);
    return PyBool_FromLong(done);
}

/* The buffers of a task whose pieces Go writes without copying: held (with
 * a reference to each exporter) until Go is done with them. */
typedef struct {
    Py_ssize_t n;
    Py_buffer views[];
} gf_lent;

static void gf_lent_free(gf_lent *l, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) PyBuffer_Release(&l->views[i]);
    free(l);
}

/* gf_release_lent releases the buffers of every task Go has written or
 * dropped since the last call; the GIL must be held. Called on each submit
 * and by the completion pump, so they go soon after their task's frame. */
void gf_release_lent(void) {
    uintptr_t h;
    while ((h = gfTakeLent()) != 0) {
        gf_lent *l = (gf_lent *)h;
        gf_lent_free(l, l->n);
    }
}

/* Submits the concatenation of list's buffer objects (the pieces a pickler
 * wrote, big buffers by reference): Go writes them to the worker as they are,
 * and hands them back to gf_release_lent. No copy. */
static PyObject *gf_proc_submit_chunks(long long pool, long long task, PyObject *list) {
    Py_ssize_t count = PyList_GET_SIZE(list);
    gf_lent *lent = calloc(1, sizeof(gf_lent) + ((size_t)count + 1) * sizeof(Py_buffer));
    gf_chunk *chunks = PyMem_Calloc((size_t)count + 1, sizeof(gf_chunk));
    Py_ssize_t got = 0;
    if (lent == NULL || chunks == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (; got < count; got++) {
        if (PyObject_GetBuffer(PyList_GET_ITEM(list, got), &lent->views[got], PyBUF_C_CONTIGUOUS) < 0) goto fail;
        chunks[got].data = lent->views[got].buf;
        chunks[got].len = (size_t)lent->views[got].len;
    }
    lent->n = count;
    char *msg = NULL;
    int kind;
    GF_CALL_GO(kind = gfProcSubmitLent(pool, task, chunks, (int)count, (uintptr_t)lent, &msg));
    PyMem_Free(chunks);
    if (kind != 0) {
        gf_lent_free(lent, count); /* not queued: Go will not hand it back */
        return gf_raise(kind, msg);
    }
    Py_RETURN_NONE;
fail:
    if (lent != NULL) gf_lent_free(lent, got);
    PyMem_Free(chunks);
    return NULL;
}

/* fast_proc_submit(pool, task, payload): queue a pickled task on a process
 * pool. payload is bytes (copied once into Go memory), or a list of buffer
 * objects to concatenate (a pickle written in pieces), which Go writes out
 * without copying and gives back later. */
static PyObject *gf_fast_proc_submit(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    long long a[2];
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "proc_submit(pool, task, payload) takes 3 arguments");
        return NULL;
    }
    if (!gf_args_ll(args, 2, 2, a, "proc_submit(pool, task, payload)")) return NULL;
    gf_release_lent();
    if (PyList_CheckExact(args[2])) return gf_proc_submit_chunks(a[0], a[1], args[2]);
    char *data;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(args[2], &data, &n) < 0) return NULL;
    char *msg = NULL;
    int kind;
    GF_CALL_GO(kind = gfProcSubmit(a[0], a[1], data, (size_t)n, &msg));
    if (kind != 0) return gf_raise(kind, msg);
    Py_RETURN_NONE;
}

/* fast_proc_cancel(pool, task, answer): takes a queued task back from a
 * process pool; appends to answer whether Go did (false: a worker has it,
 * or no such pool). GIL released. */
static PyObject *gf_fast_proc_cancel(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    int taken;
    return gf_ask_go(args, nargs, "proc_cancel(pool, task, answer)", gfProcCancel, &taken);
}

/* fast_proc_new(spec: bytes) -> pool id. spec is the JSON record of
 * boundary.ProcPoolSpec. */
static PyObject *gf_fast_proc_new(PyObject *self, PyObject *arg) {
    char *spec;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(arg, &spec, &n) < 0) return NULL;
    long long id = 0;
    char *msg = NULL;
    int kind = gfProcNew(spec, (size_t)n, &id, &msg);
    if (kind != 0) return gf_raise(kind, msg);
    return PyLong_FromLongLong(id);
}

/* fast_contract() -> str: boundary.Table, the values Python shares with
 * Go and C (JSON). */
static PyObject *gf_fast_contract(PyObject *self, PyObject *unused) {
    char *text = gfContract();
    PyObject *r = PyUnicode_FromString(text);
    free(text);
    return r;
}

/* fork_program() -> pid: os.fork() without its warning about threads. A
 * process pool forks its zygote from the program (the 'fork' start method);
 * once the Go runtime is loaded the program always has threads, Go's, which
 * the child never uses (it never calls Go), so the warning that Python 3.12+
 * gives for os.fork() in a threaded process would be about gofutures' own
 * threads, not the program's. Same steps as os.fork otherwise. */
static PyObject *gf_fork_program(PyObject *self, PyObject *unused) {
    PyOS_BeforeFork();
    pid_t pid = fork();
    int saved = errno;
    if (pid == 0) {
        PyOS_AfterFork_Child();
    } else {
        PyOS_AfterFork_Parent();
    }
    if (pid < 0) {
        errno = saved;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromLong((long)pid);
}

/* In gf_threadname.c and gf_environ.c. */
extern PyObject *gf_give_back_thread_number(PyObject *self, PyObject *arg);
extern PyObject *gf_environ(PyObject *self, PyObject *unused);

static PyMethodDef gf_fast_defs[] = {
    {"fork_program", (PyCFunction)gf_fork_program, METH_NOARGS,
     "fork_program() -> pid: os.fork() without the warning about Go's threads."},
    {"fast_proc_submit", (PyCFunction)(void (*)(void))gf_fast_proc_submit, METH_FASTCALL,
     "fast_proc_submit(pool, task, payload): queue a pickled task on a process pool."},
    {"fast_proc_cancel", (PyCFunction)(void (*)(void))gf_fast_proc_cancel, METH_FASTCALL,
     "fast_proc_cancel(pool, task, answer): take a queued process pool task back; answer gets whether Go did."},
    {"fast_proc_new", (PyCFunction)gf_fast_proc_new, METH_O,
     "fast_proc_new(spec: bytes) -> pool id: start a process pool (spec: boundary.ProcPoolSpec, JSON)."},
    {"fast_thread_new", (PyCFunction)gf_fast_thread_new, METH_O,
     "fast_thread_new(max_workers) -> pool id: start a thread pool."},
    {"fast_contract", (PyCFunction)gf_fast_contract, METH_NOARGS,
     "fast_contract() -> str: the values shared by Python, C and Go (JSON)."},
    {"fast_set_error_factories", (PyCFunction)gf_set_error_factories, METH_O,
     "fast_set_error_factories(factories): the exception factory of each Go error kind."},
    {"fast_thread_submit", (PyCFunction)(void (*)(void))gf_fast_submit, METH_FASTCALL,
     "fast_thread_submit(pool, task): queue task id on a thread pool, GIL held."},
    {"fast_thread_shutdown", (PyCFunction)(void (*)(void))gf_fast_thread_shutdown, METH_FASTCALL,
     "fast_thread_shutdown(pool, cancel, answer): shut a thread pool down; the cancelled task ids appended to answer."},
    {"fast_thread_join", (PyCFunction)(void (*)(void))gf_fast_thread_join, METH_FASTCALL,
     "fast_thread_join(pool, ms) -> bool: wait up to ms for a shut down thread pool, GIL released."},
    {"fast_for_each", (PyCFunction)(void (*)(void))gf_fast_for_each, METH_FASTCALL,
     "fast_for_each(items, step) -> list: step(item) for every item, even past an interrupt."},
    {"fast_keep_forever", (PyCFunction)gf_fast_keep_forever, METH_O,
     "fast_keep_forever(obj): a reference to obj that is never dropped."},
    {"fast_go_pump_stop", (PyCFunction)gf_fast_go_pump_stop, METH_O,
     "fast_go_pump_stop(ms) -> bool: stop the Go-task pump, waiting up to ms, GIL released."},
    {"fast_go_call", (PyCFunction)(void (*)(void))gf_go_call, METH_FASTCALL,
     "fast_go_call(kind, meta, body) -> (status, meta, body): run a Go task here, GIL released."},
    {"fast_go_submit", (PyCFunction)(void (*)(void))gf_go_submit, METH_FASTCALL,
     "fast_go_submit(pool, task, kind, meta, body): queue a Go task on a thread pool."},
    {"fast_go_cancel", (PyCFunction)(void (*)(void))gf_go_cancel, METH_FASTCALL,
     "fast_go_cancel(pool, task, answer): take a queued Go task back; answer gets whether Go let it go."},
    {"fast_go_started", (PyCFunction)(void (*)(void))gf_go_started, METH_FASTCALL,
     "fast_go_started(pool, task) -> bool: whether a Go task left its pool's queue."},
    {"fast_pump_progress", (PyCFunction)gf_pump_progress, METH_NOARGS,
     "fast_pump_progress(): on a Go-task pump, a task's done-callbacks are about to run."},
    {"fast_pump_delivered", (PyCFunction)gf_pump_delivered, METH_O,
     "fast_pump_delivered(task): on a Go-task pump, the task's delivery ended."},
    {"fast_give_back_thread_number", (PyCFunction)gf_give_back_thread_number, METH_O,
     "fast_give_back_thread_number(n) -> bool: threading's default thread names take n again."},
    {"fast_environ", (PyCFunction)gf_environ, METH_NOARGS,
     "fast_environ() -> list[bytes]: the C library's environment, as a child inherits it."},
    {NULL, NULL, 0, NULL},
};

/* gf_install_fastpath may be called from a thread that released the GIL (a
 * gopy call): it takes the GIL itself. Returns 1 on success. */
int gf_install_fastpath(void) {
    PyGILState_STATE g = PyGILState_Ensure();
    int ok = 1;
    PyObject *mod = PyImport_ImportModule("gofutures._native");
    if (mod == NULL) {
        ok = 0;
    } else {
        for (PyMethodDef *d = gf_fast_defs; d->ml_name != NULL && ok; d++) {
            PyObject *fn = PyCFunction_NewEx(d, NULL, NULL);
            if (fn == NULL || PyObject_SetAttrString(mod, d->ml_name, fn) < 0) ok = 0;
            Py_XDECREF(fn);
        }
        Py_DECREF(mod);
    }
    if (!ok) PyErr_WriteUnraisable(NULL);
    PyGILState_Release(g);
    return ok;
}
