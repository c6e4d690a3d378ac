// Package pybridge runs pool tasks as Python calls. Each worker runs on a
// thread of its own, created in C like a threading.Thread (package cthread:
// the stack size is threading.stack_size(), and a thread that cannot be
// created makes submit raise instead of aborting the process), and keeps one
// Python thread state for its life (see gf_bridge.h for the C half and its
// costs).
//
// The Python include directory must be in CGO_CFLAGS (the build driver and
// the Makefile take it from the target interpreter).
package pybridge

/*
#cgo CFLAGS: -fno-fast-math
#include <stdlib.h>
#include "gf_bridge.h"
*/
import "C"

import (
	"errors"
	"sync/atomic"
	"unsafe"

	"github.com/gofutures/gofutures/gofutures/boundary"
	"github.com/gofutures/gofutures/gofutures/cthread"
	"github.com/gofutures/gofutures/gofutures/internal/taskstats"
	"github.com/gofutures/gofutures/gofutures/pool"
)

// errPythonGone reports that the interpreter is finalizing: the worker
// cannot run Python code any more.
var errPythonGone = errors.New("python interpreter is not running")

// errStartHook reports that the Python start hook (the initializer) failed.
var errStartHook = errors.New("worker initializer failed")

// spawnWorker is the thread pools' pool.Spawner: each worker gets a C thread
// whose stack is threading.stack_size() as the submit that starts it (or,
// for a worker started by another, the latest submit or worker start) saw
// it. The worker runs as a cgo callback on that thread, so its goroutine
// stays on it (Python thread states are per thread) until it stops; the
// thread then exits. While workers live, Go runs with more Ps
// (workerStarted).
func spawnWorker(run func()) error {
	workerStarted()
	err := cthread.Start(uint64(C.gf_thread_stack_size()), func() {
		defer workerStopped()
		run()
	})
	if err != nil {
		workerStopped()
		return err
	}
	C.gf_count_spawn() // the submit that spawned it lets it start (gf_bridge.c)
	return nil
}

// worker implements pool.Worker on its own thread with a kept Python thread
// state. Its C struct lives in C memory so that C may keep pointers into it
// across calls.
type worker struct {
	pool     int64
	index    int
	c        *C.gf_worker
	attached bool
	counters *taskstats.Counters // its pool's task counters
	// returning is its pool's count of workers returning from a task
	// (pool.WithReturningWorkers): gf_run adds 1 after each task, before
	// it may release the GIL.
	returning *atomic.Int64
}

// Start creates the worker's thread state without the GIL; the Python start
// hook runs with the first task.
func (w *worker) Start() error {
	w.c = (*C.gf_worker)(C.calloc(1, C.size_t(unsafe.Sizeof(C.gf_worker{}))))
	if C.gf_attach(w.c, C.longlong(w.pool), C.longlong(w.index)) != 1 {
		return errPythonGone
	}
	w.attached = true
	if p, ok := ThreadPool(w.pool); ok { // registered before its first submit
		w.counters = p.Counters()
	}
	return nil
}

// Run runs the task and every task next yields while the queue is
// non-empty (a burst), one cgo call each (gf_run), which takes the GIL when
// the worker does not hold it. The worker keeps the GIL between tasks only
// after a task shorter than 5 ms: Go code that runs after a long call may
// wait for the scheduler, and must not make every Python thread wait with
// it (see GF_KEEP_GIL_NS in gf_bridge.c). Other Python threads still get the GIL
// during a burst: the eval loop hands it over on request.
//
// After the burst's last task the worker still holds the GIL if it did: it
// lets it go in Park (gf_park), once the pool counts it idle. The stdlib's
// worker counts itself idle before it lets the GIL go, so a program that
// submits the next task as soon as a result arrives (submit(f).result() in
// a loop) finds it idle; released here, the program's submit came first
// and started a second worker for blocking tasks (and ran the initializer
// again). Between the two the worker only takes the pool's mutex.
//
// A start that fails releases the GIL (gf_run); after a panic in next the
// pool calls Fail, which uses the GIL the worker holds and releases it.
func (w *worker) Run(id int64, next func() (int64, bool)) error {
	var began C.longlong
	if w.counters == nil {
		for ok := true; ok; id, ok = next() {
			if C.gf_run(w.c, C.longlong(id), &began, w.returningCounter()) == C.GF_START_FAILED {
				return errStartHook
			}
		}
		return nil
	}
	// Counted for stats(): a task starts once its worker holds the GIL
	// (and ran its start hook); a task of a burst starts when the one
	// before it ended (one clock read per task, two per burst).
	var end int64
	for ok := true; ok; id, ok = next() {
		start := end
		if w.c.held == 0 || start == 0 {
			start = taskstats.Now()
		}
		w.counters.StartAt(start)
		outcome := C.gf_run(w.c, C.longlong(id), &began, w.returningCounter())
		if outcome == C.GF_START_FAILED {
			w.counters.NotRun()
			return errStartHook
		}
		end = w.counters.Done(taskstats.Outcome(outcome), start+int64(began))
	}
	return nil
}

// returningCounter is w.returning for gf_run, which adds to it during the
// call only.
func (w *worker) returningCounter() *C.longlong {
	return (*C.longlong)(unsafe.Pointer(w.returning))
}

func (w *worker) Fail(id int64, err error) {
	if !w.attached {
		return
	}
	kind := boundary.FailPanic
	if errors.Is(err, pool.ErrBroken) {
		kind = boundary.FailBroken
	}
	msg := C.CString(err.Error())
	defer C.free(unsafe.Pointer(msg))
	C.gf_fail(w.c, C.longlong(id), C.int(kind), msg)
}

func (w *worker) Stop(last bool) {
	if w.attached {
		l := 0
		if last {
			l = 1
		}
		C.gf_detach(w.c, C.int(l))
		w.attached = false
	}
	C.gf_worker_free(w.c) // whether or not Start got as far as its semaphore
	w.c = nil
}

// NewParker makes the pool park this worker in C (see gf_park).
func (w *worker) NewParker() pool.Parker { return semParker{w.c} }

type semParker struct{ c *C.gf_worker }

func (s semParker) Park()   { C.gf_park(s.c) }
func (s semParker) Unpark() { C.gf_unpark(s.c) }
