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

// newFactory returns a pool.Factory whose workers run tasks of pool poolID
// through the hooks in gofutures.thread.
func newFactory(poolID int64) pool.Factory {
	return func(index int) pool.Worker { return &worker{pool: poolID, index: index} }
}

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
func (w *worker) Run(id int64, next func() (int64, bool)) error {
	var held C.int
	defer func() {
		if held != 0 { // a panic in next
			C.gf_leave(w.c)
		}
	}()
	var began C.longlong
	if w.counters == nil {
		for ok := true; ok; id, ok = next() {
			if C.gf_run(w.c, C.longlong(id), &held, &began) == C.GF_START_FAILED {
				return errStartHook
			}
		}
	} else {
		// Counted for stats(): a task starts once its worker holds the GIL
		// (and ran its start hook); a task of a burst starts when the one
		// before it ended (one clock read per task, two per burst).
		var end int64
		for ok := true; ok; id, ok = next() {
			start := end
			if held == 0 {
				start = taskstats.Now()
			}
			w.counters.StartAt(start)
			outcome := C.gf_run(w.c, C.longlong(id), &held, &began)
			if outcome == C.GF_START_FAILED {
				w.counters.NotRun()
				return errStartHook
			}
			end = w.counters.Done(taskstats.Outcome(outcome), start+int64(began))
		}
	}
	if held != 0 {
		held = 0
		C.gf_leave(w.c)
	}
	return nil
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
