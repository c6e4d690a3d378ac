/* gf_gotask.c: the C half of Go tasks (see gf_gotask.h). */
#include "gf_gotask.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "_cgo_export.h"

/* In fastpath.c. */
extern PyObject *gf_raise_kind(int kind, char *msg);
extern int gf_args_ll(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t want, long long *out,
                      const char *usage);
extern PyObject *gf_ask_go(PyObject *const *args, Py_ssize_t nargs, const char *usage,
                           int (*ask)(long long, long long), int *said);

long long gf_go_outstanding;

void gf_go_outstanding_add(long long n) { __atomic_add_fetch(&gf_go_outstanding, n, __ATOMIC_RELAXED); }

static PyObject *gf_gotask_hook;
static const char *gf_gotask_module, *gf_gotask_deliver_name;

void gf_set_gotask_hook(const char *module, const char *deliver) {
    gf_gotask_module = module;
    gf_gotask_deliver_name = deliver;
}

int gf_gpump_attach(gf_gpump *p) {
    if (!gf_python_alive()) return -1;
    pthread_mutex_init(&p->done_mu, NULL);
    p->gil = PyGILState_Ensure();
    if (gf_gotask_hook == NULL && gf_gotask_module != NULL) {
        PyObject *mod = PyImport_ImportModule(gf_gotask_module);
        if (mod != NULL) {
            gf_gotask_hook = PyObject_GetAttrString(mod, gf_gotask_deliver_name);
            Py_DECREF(mod);
        }
        if (gf_gotask_hook == NULL) PyErr_WriteUnraisable(NULL);
    }
    p->ts = PyEval_SaveThread();
    return 1;
}

/* Appends id to p->done; 0 if there is no memory for it. */
static int gf_gpump_done_add(gf_gpump *p, long long id) {
    if (p->ndone == p->done_cap) {
        size_t cap = p->done_cap < 32 ? 64 : 2 * p->done_cap;
        long long *grown = realloc(p->done, cap * sizeof(long long));
        if (grown == NULL) return 0;
        p->done = grown;
        p->done_cap = cap;
    }
    p->done[p->ndone++] = id;
    return 1;
}

size_t gf_gpump_take_done(gf_gpump *p, long long *out, size_t cap) {
    pthread_mutex_lock(&p->done_mu);
    size_t n = p->ndone < cap ? p->ndone : cap;
    if (n > 0) {
        memcpy(out, p->done, n * sizeof *out);
        memmove(p->done, p->done + n, (p->ndone - n) * sizeof *out);
        p->ndone -= n;
    }
    pthread_mutex_unlock(&p->done_mu);
    return n;
}

/* Records id in p->done for Go to settle. */
static void gf_gpump_record(gf_gpump *p, long long id) {
    pthread_mutex_lock(&p->done_mu);
    if (!gf_gpump_done_add(p, id)) p->lost = 1;
    pthread_mutex_unlock(&p->done_mu);
}

/* The pump delivering on this thread (NULL outside gf_gpump_deliver). */
static __thread gf_gpump *gf_delivering_pump;

PyObject *gf_pump_progress(PyObject *self, PyObject *unused) {
    gf_gpump *p = gf_delivering_pump;
    if (p != NULL) __atomic_store_n(&p->in_python_since, gf_now_ns(), __ATOMIC_RELAXED);
    Py_RETURN_NONE;
}

PyObject *gf_pump_delivered(PyObject *self, PyObject *task) {
    long long id = PyLong_AsLongLong(task);
    if (id == -1 && PyErr_Occurred()) return NULL;
    gf_gpump *p = gf_delivering_pump;
    if (p != NULL) gf_gpump_record(p, id);
    Py_RETURN_NONE;
}

/* A new bytes object of n bytes, not yet written (GIL held). */
static PyObject *gf_new_bytes(size_t n) {
    if (n > (size_t)PY_SSIZE_T_MAX) return PyErr_NoMemory();
    return PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
}

/* Bodies of this many bytes or more are copied without the GIL: the bytes
 * object is not shared yet, and other threads run meanwhile (copying 16
 * files of 50 MB held it 0.3 s). Not smaller ones: taking the GIL back
 * waits out a busy thread's switch interval (5 ms), and from 1 MiB on that
 * made 400 submitted reads 3.5x slower next to a CPU-bound thread. */
#define GF_COPY_WITHOUT_GIL (8 << 20)

/* Unmaps the pieces of pieces[0:n] that C owns (gf_piece.unmap). */
static void gf_unmap_pieces(gf_piece *pieces, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (pieces[i].unmap != 0) munmap((void *)pieces[i].p, pieces[i].unmap);
        pieces[i].unmap = 0;
    }
}

/* One bytes object of pieces[0:n] end to end (GIL held). Each piece C owns
 * is unmapped once copied, so a large body is held about once, not twice. */
static PyObject *gf_joined_pieces(gf_piece *pieces, size_t n) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += pieces[i].n;
    PyObject *b = gf_new_bytes(total);
    if (b == NULL) return NULL;
    char *at = PyBytes_AS_STRING(b);
    PyThreadState *ts = total >= GF_COPY_WITHOUT_GIL ? PyEval_SaveThread() : NULL;
    for (size_t i = 0; i < n; i++) {
        memcpy(at, pieces[i].p, pieces[i].n);
        at += pieces[i].n;
        gf_unmap_pieces(&pieces[i], 1);
    }
    if (ts != NULL) PyEval_RestoreThread(ts);
    return b;
}

/* A completion's body as Python gets it: bytes, or (bytes, bytes) for a
 * body in pieces that is split (gf_gcomp). */
static PyObject *gf_gcomp_body(gf_gcomp *c) {
    if (c->pieces == NULL) {
        gf_piece one = {c->body, c->blen, 0};
        return gf_joined_pieces(&one, c->body == NULL ? 0 : 1);
    }
    if (c->split == 0) return gf_joined_pieces(c->pieces, c->npieces);
    PyObject *first = gf_joined_pieces(c->pieces, c->split);
    PyObject *second = first == NULL ? NULL : gf_joined_pieces(c->pieces + c->split, c->npieces - c->split);
    if (second == NULL) {
        Py_XDECREF(first);
        return NULL;
    }
    return Py_BuildValue("(NN)", first, second);
}

/* Fault injection (pybridge.PumpFailNext): the next body finds no memory. */
static int gf_fail_next_body;

void gf_gpump_fail_next_body(void) { __atomic_store_n(&gf_fail_next_body, 1, __ATOMIC_RELAXED); }

/* c's bytes, all pieces. */
static size_t gf_gcomp_len(gf_gcomp *c) {
    if (c->pieces == NULL) return c->blen;
    size_t total = 0;
    for (size_t i = 0; i < c->npieces; i++) total += c->pieces[i].n;
    return total;
}

/* The item of a task whose body found no memory (GIL held, MemoryError
 * set): the task fails with MemoryError, as reading the data into Python's
 * memory would have. NULL when even that finds none. */
static PyObject *gf_no_memory_item(gf_gcomp *c) {
    PyErr_Clear();
    char meta[128];
    int k = snprintf(meta, sizeof meta, "{\"class\":\"memory\",\"msg\":\"no memory for a result of %zu bytes\"}",
                     gf_gcomp_len(c));
    return Py_BuildValue("(Liy#y)", c->id, GF_STATUS_ERROR, meta, (Py_ssize_t)k, "");
}

int gf_gpump_deliver(gf_gpump *p, gf_gcomp *items, size_t n) {
    gf_go_outstanding_add(-(long long)n);
    PyEval_RestoreThread(p->ts);
    gf_delivering_pump = p;
    p->lost = 0;
    int reported = 0;
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list != NULL && i < n; i++) {
        gf_gcomp *c = &items[i];
        PyObject *body = __atomic_exchange_n(&gf_fail_next_body, 0, __ATOMIC_RELAXED) ? PyErr_NoMemory()
                                                                                      : gf_gcomp_body(c);
        PyObject *item = body == NULL ? gf_no_memory_item(c)
                                      : Py_BuildValue("(Liy#N)", c->id, c->status, c->meta == NULL ? "" : c->meta,
                                                      (Py_ssize_t)c->mlen, body);
        /* No memory even for an error: that task's future stays pending,
         * not the batch's; it is recorded to be settled with the rest (its
         * pool can still finish). */
        if (item == NULL || PyList_Append(list, item) < 0) {
            PyErr_WriteUnraisable(NULL);
            gf_gpump_record(p, c->id);
        }
        Py_XDECREF(item);
    }
    for (size_t i = 0; i < n; i++) /* the bodies not copied (no memory) */
        if (items[i].pieces != NULL) gf_unmap_pieces(items[i].pieces, items[i].npieces);
    /* Only now: a long copy (without the GIL) is not a callback holding
     * the pump, for which the pump is replaced (gotask_pump.go, check). */
    __atomic_store_n(&p->in_python_since, gf_now_ns(), __ATOMIC_RELAXED);
    if (list == NULL) {
        PyErr_WriteUnraisable(NULL);
    } else if (gf_gotask_hook != NULL) {
        PyObject *r = PyObject_CallOneArg(gf_gotask_hook, list);
        if (r == NULL) PyErr_WriteUnraisable(gf_gotask_hook);
        reported = r != NULL;
        Py_XDECREF(r);
    }
    Py_XDECREF(list);
    gf_delivering_pump = NULL;
    pthread_mutex_lock(&p->done_mu);
    if (p->lost) reported = 0;
    pthread_mutex_unlock(&p->done_mu);
    __atomic_store_n(&p->in_python_since, 0, __ATOMIC_RELAXED);
    p->ts = PyEval_SaveThread();
    return reported;
}

void gf_gpump_detach(gf_gpump *p) {
    PyEval_RestoreThread(p->ts);
    p->ts = NULL;
    PyGILState_Release(p->gil);
    pthread_mutex_destroy(&p->done_mu);
    free(p->done);
    p->done = NULL;
    p->ndone = p->done_cap = 0;
}

/* How long a direct call waits in Go before it looks at signals. */
#define GF_GO_SLICE_MS 50

/* fast_go_call(kind, meta, body[, into[, inline]]) -> (status, meta, body):
 * runs a Go task here (body: bytes, or (bytes, bytes) for a body in two),
 * GIL released while Go works; Ctrl-C (any exception a signal handler
 * raises) cancels it. Every call into Go is made without the GIL: entering
 * Go waits for a free P, which a busy Go may not have for milliseconds.
 *
 * into >= 0 (a file read, whose file holds that many bytes): the body is
 * read straight into a bytes object of into + 1 bytes made here, passed to
 * Go as the task's body, and shrunk to what was read: a large file is held
 * once, not read by Go and then copied. A file that grew past it comes back
 * in pieces, copied as any body is.
 *
 * inline true (a file read or write): Go does it on this thread if the path
 * names a regular file, which nothing needs to interrupt (gfOpInline), and
 * the ordinary way if not. */
PyObject *gf_go_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 3 || nargs > 5) {
        PyErr_SetString(PyExc_TypeError, "go_call(kind, meta, body[, into[, inline]]) takes 3 to 5 arguments");
        return NULL;
    }
    long kind = PyLong_AsLong(args[0]);
    if (kind == -1 && PyErr_Occurred()) return NULL;
    char *meta, *body;
    Py_ssize_t mlen, blen;
    if (PyBytes_AsStringAndSize(args[1], &meta, &mlen) < 0) return NULL;
    if (PyBytes_AsStringAndSize(args[2], &body, &blen) < 0) return NULL;
    PyObject *into = NULL; /* the bytes Go reads into, owned here */
    int inline_ = 0;
    if (nargs == 5 && (inline_ = PyObject_IsTrue(args[4])) < 0) return NULL;
    if (nargs >= 4) {
        Py_ssize_t n = PyLong_AsSsize_t(args[3]);
        if (n == -1 && PyErr_Occurred()) return NULL;
        if (n >= 0 && n < PY_SSIZE_T_MAX) {
            into = PyBytes_FromStringAndSize(NULL, n + 1);
            if (into == NULL) return NULL;
            body = PyBytes_AS_STRING(into);
            blen = n + 1;
        }
    }
    gf_go_outstanding_add(1); /* until it returns */
    long long op = 0;
    int status = 0, two = 0;
    size_t out_m = 0, out_b = 0, out_b2 = 0;
    int interrupted = 0, done_inline = 0;
    if (inline_) {
        Py_BEGIN_ALLOW_THREADS
        done_inline = gfOpInline((int)kind, meta, (size_t)mlen, body, (size_t)blen, &op, &status, &out_m, &out_b, &out_b2, &two);
        Py_END_ALLOW_THREADS
    }
    for (int first = 1; !done_inline; first = 0) {
        int done;
        Py_BEGIN_ALLOW_THREADS
        /* Go copies meta before it returns, and an HTTP request's body; it
           writes other bodies from where they are, and reads into into:
           args and into stay alive, and this returns only once Go is done
           with them, interrupted or not (gfOpStart). */
        if (first) op = gfOpStart((int)kind, meta, (size_t)mlen, body, (size_t)blen);
        done = gfOpWait(op, interrupted ? -1 : GF_GO_SLICE_MS, &status, &out_m, &out_b, &out_b2, &two);
        Py_END_ALLOW_THREADS
        if (done) break;
        if (PyErr_CheckSignals() < 0) {
            interrupted = 1; /* cancel, then wait (unsliced) for Go to stop */
            Py_BEGIN_ALLOW_THREADS
            gfOpCancel(op);
            Py_END_ALLOW_THREADS
        }
    }
    /* The body is in into already when it fits there: Go fills into first. */
    int in_place = into != NULL && !two && out_b <= (size_t)blen;
    PyObject *m = NULL, *b = NULL, *b2 = NULL;
    if (!interrupted) {
        m = gf_new_bytes(out_m);
        b = m == NULL || in_place ? NULL : gf_new_bytes(out_b);
        b2 = b == NULL || !two ? NULL : gf_new_bytes(out_b2);
    }
    gf_go_outstanding_add(-1);
    if (m == NULL || (b == NULL && !in_place) || (two && b2 == NULL)) { /* interrupted (the signal handler's exception), or no memory */
        Py_XDECREF(m);
        Py_XDECREF(b);
        Py_XDECREF(b2);
        Py_BEGIN_ALLOW_THREADS
        gfOpFree(op);
        Py_END_ALLOW_THREADS
        Py_XDECREF(into);
        return NULL;
    }
    /* Not shared yet: Go writes into them. */
    char *mp = PyBytes_AS_STRING(m), *bp = in_place ? NULL : PyBytes_AS_STRING(b), *bp2 = two ? PyBytes_AS_STRING(b2) : NULL;
    char *msg = NULL;
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = gfOpCopy(op, mp, bp, bp2, &msg); /* and frees the op; no body copied when bp is NULL */
    Py_END_ALLOW_THREADS
    if (failed) { /* a Go panic: what the bytes hold is not the result */
        Py_DECREF(m);
        Py_XDECREF(b);
        Py_XDECREF(b2);
        Py_XDECREF(into);
        return gf_raise_kind(failed, msg);
    }
    if (in_place) {
        b = into; /* shrunk to what was read: realloc, in place */
        if (_PyBytes_Resize(&b, (Py_ssize_t)out_b) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    } else {
        Py_XDECREF(into);
    }
    if (two) return Py_BuildValue("(iN(NN))", status, m, b, b2);
    return Py_BuildValue("(iNN)", status, m, b);
}

/* ---- the submission queue (see gf_gotask.h) ---- */

static pthread_mutex_t gf_subq_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gf_subq_cv = PTHREAD_COND_INITIALIZER;
static gf_sub *gf_subq;
static size_t gf_subq_len, gf_subq_cap;

static char *gf_copy(const char *p, size_t n) {
    char *c = malloc(n ? n : 1);
    if (c != NULL && n) memcpy(c, p, n);
    return c;
}

/* Queues a copy of the task (of its body too unless borrowed: see gf_sub);
 * -1 when out of memory. */
static int gf_subq_push(long long pool, long long task, int kind, const char *meta, size_t mlen,
                        const char *body, size_t blen, int borrowed) {
    char *m = gf_copy(meta, mlen), *b = borrowed ? (char *)body : gf_copy(body, blen);
    if (m == NULL || b == NULL) goto nomem;
    pthread_mutex_lock(&gf_subq_mu);
    if (gf_subq_len == gf_subq_cap) {
        size_t cap = gf_subq_cap ? 2 * gf_subq_cap : 256;
        gf_sub *q = realloc(gf_subq, cap * sizeof *q);
        if (q == NULL) {
            pthread_mutex_unlock(&gf_subq_mu);
            goto nomem;
        }
        gf_subq = q;
        gf_subq_cap = cap;
    }
    gf_subq[gf_subq_len++] = (gf_sub){pool, task, kind, m, b, mlen, blen, borrowed};
    if (gf_subq_len == 1) pthread_cond_signal(&gf_subq_cv);
    pthread_mutex_unlock(&gf_subq_mu);
    return 0;
nomem:
    free(m);
    if (!borrowed) free(b);
    return -1;
}

void gf_subq_wait(void) {
    pthread_mutex_lock(&gf_subq_mu);
    while (gf_subq_len == 0) pthread_cond_wait(&gf_subq_cv, &gf_subq_mu);
    pthread_mutex_unlock(&gf_subq_mu);
}

gf_sub *gf_subq_take_all(size_t *n) {
    pthread_mutex_lock(&gf_subq_mu);
    gf_sub *q = gf_subq;
    *n = gf_subq_len;
    gf_subq = NULL;
    gf_subq_len = gf_subq_cap = 0;
    pthread_mutex_unlock(&gf_subq_mu);
    return q;
}

/* ---- submit bursts leave the GIL to other threads ---- */

/* A Go task needs no Python thread to start, so a loop submitting thousands
 * of them holds the GIL for its whole length (20,000 submits: about 0.3 s)
 * and every other Python thread waits out CPython's 5 ms switch interval
 * each time it wants the GIL. A thread submitting without pause for
 * GF_BURST_SLICE_NS releases the GIL and sleeps GF_BURST_NAP_NS, so a
 * waiting thread takes the GIL within about a millisecond. Cost: one clock
 * read per submit, and a nap (50 us asked, about 100 us with the kernel's
 * timer slack) per millisecond of burst: some 10% of its wall time. When
 * another thread runs Python without pause, taking the GIL back after a nap
 * can wait out that thread's switch interval (5 ms) as well. */
#define GF_BURST_GAP_NS 200000LL    /* calls further apart start a new burst */
#define GF_BURST_SLICE_NS 1000000LL /* the longest a burst holds the GIL */
#define GF_BURST_NAP_NS 50000L      /* long enough for a waiter to wake */

static _Thread_local long long gf_burst_start, gf_burst_last;

static void gf_burst_yield(void) {
    long long now = gf_now_ns();
    if (now - gf_burst_last > GF_BURST_GAP_NS) gf_burst_start = now;
    gf_burst_last = now;
    if (now - gf_burst_start < GF_BURST_SLICE_NS) return;
    struct timespec nap = {0, GF_BURST_NAP_NS};
    Py_BEGIN_ALLOW_THREADS
    nanosleep(&nap, NULL);
    Py_END_ALLOW_THREADS
    gf_burst_start = gf_burst_last = gf_now_ns();
}

/* fast_go_submit(pool, task, kind, meta, body[, keep]) -> None: queues a Go
 * task on thread pool pool (GIL held, no call into Go; in a long burst of
 * submits, it leaves the GIL to others about once a millisecond). A pool
 * that is gone or shut down fails the task through the pump (RuntimeError):
 * Python refuses such submits before they get here.
 *
 * keep, a dict (None: the body is copied): the body is not copied but
 * borrowed, and keep[task] = body
 * holds it until Python deletes that entry, once the task's completion is
 * delivered or the task is taken back (a file write's data, a run's input;
 * never an HTTP body, which net/http may read after the response). The
 * entry is made here, in the same call that queues the task, so that no
 * exception (a signal handler's, raised as this call returns) can come
 * between the two. */
PyObject *gf_go_submit(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5 && nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "go_submit(pool, task, kind, meta, body[, keep]) takes 5 or 6 arguments");
        return NULL;
    }
    long long a[3];
    if (!gf_args_ll(args, 3, 3, a, "go_submit(pool, task, kind, meta, body)")) return NULL;
    char *meta, *body;
    Py_ssize_t mlen, blen;
    if (PyBytes_AsStringAndSize(args[3], &meta, &mlen) < 0) return NULL;
    if (PyBytes_AsStringAndSize(args[4], &body, &blen) < 0) return NULL;
    PyObject *keep = nargs == 6 && args[5] != Py_None ? args[5] : NULL, *key = NULL;
    if (keep != NULL) {
        if (!PyDict_Check(keep)) {
            PyErr_SetString(PyExc_TypeError, "go_submit: keep must be a dict");
            return NULL;
        }
        key = PyLong_FromLongLong(a[1]);
        if (key == NULL || PyDict_SetItem(keep, key, args[4]) < 0) {
            Py_XDECREF(key);
            return NULL;
        }
    }
    if (gf_subq_push(a[0], a[1], (int)a[2], meta, (size_t)mlen, body, (size_t)blen, keep != NULL) < 0) {
        if (key != NULL) { /* not queued: nothing to keep */
            if (PyDict_DelItem(keep, key) < 0) PyErr_Clear();
            Py_DECREF(key);
        }
        return PyErr_NoMemory();
    }
    Py_XDECREF(key);
    gf_go_outstanding_add(1);
    gf_burst_yield(); /* queued: a thread switch here is one Python could make anyway */
    Py_RETURN_NONE;
}

/* fast_go_cancel(pool, task, answer): takes a queued Go task back; appends
 * to answer whether Go let it go (False once it has started; True for a
 * task Go no longer knows, so asking again is safe). GIL released: Go is
 * busiest when tasks are queued. */
PyObject *gf_go_cancel(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    int cancelled;
    PyObject *r = gf_ask_go(args, nargs, "go_cancel(pool, task, answer)", gfGoCancel, &cancelled);
    if (cancelled == 1) gf_go_outstanding_add(-1); /* taken back: never delivered */
    return r;
}

/* fast_go_started(pool, task) -> bool: whether a Go task has left its
 * pool's queue (runs, or ran and is not delivered yet). GIL released. */
PyObject *gf_go_started(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    long long a[2];
    if (!gf_args_ll(args, nargs, 2, a, "go_started(pool, task)")) return NULL;
    int started;
    Py_BEGIN_ALLOW_THREADS
    started = gfGoStarted(a[0], a[1]);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(started);
}
