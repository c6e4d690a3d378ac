package pybridge

// Go tasks (gofutures.io, gofutures.http) of thread pools: queued in C by
// gf_go_submit, moved into each pool's gotask.Sched by the drainer,
// completed through the pumps of gotask_pump.go. Direct calls are in
// gotask_op.go. See gf_gotask.h.

/*
#cgo CFLAGS: -fno-fast-math
#include <stdlib.h>
#include <string.h>
#include "gf_gotask.h"
*/
import "C"

import (
	"sync"
	"time"
	"unsafe"

	"github.com/gofutures/gofutures/gofutures/gotask"
	"github.com/gofutures/gofutures/gofutures/internal/taskstats"
	"github.com/gofutures/gofutures/gofutures/panics"
)

// ---- thread pool tasks ----

// Go task schedulers of the thread pools, by pool id: made with the pool,
// forgotten once shut down and drained.
var goScheds registry[*gotask.Sched]

func newGoSched(poolID int64, maxWorkers int, counters *taskstats.Counters) {
	startDrainer()
	s := gotask.NewSched(maxWorkers, counters, completions.push)
	goScheds.put(poolID, s)
	panics.Go(func() {
		<-s.Done()
		goScheds.remove(poolID)
	}, nil)
}

// GoTaskPools returns the ids of the thread pools whose Go tasks are not
// all delivered yet, with every task submitted so far: their Python workers
// may all be gone (a pool shut down without waiting), and interpreter exit
// must still wait for them.
func GoTaskPools() []int64 {
	syncSubmissions()
	return goScheds.ids()
}

// GoSched returns the Go task scheduler of thread pool id, while it has one,
// with every task submitted to it so far (syncSubmissions).
func GoSched(id int64) (*gotask.Sched, bool) {
	syncSubmissions()
	return goScheds.get(id)
}

// ---- the submission queue's drainer ----

// drainMu makes taking tasks from the submission queue (gf_gotask.h) and
// handing them to their Scheds one step for every caller: once
// syncSubmissions returns, each task queued before it is in its Sched.
var drainMu sync.Mutex

// startDrainer starts the goroutine that moves queued tasks into their
// Scheds: it waits in C (on an OS thread of its own, one of those Go keeps)
// until the queue holds a task.
var startDrainer = sync.OnceFunc(func() {
	panics.Go(func() {
		for {
			C.gf_subq_wait()
			taken := 0
			// It recovers each task's panic; one outside a task (none is
			// known) must not stop the draining.
			_ = panics.Try(func() { taken = syncSubmissions() })
			if taken > 1 {
				time.Sleep(drainLinger)
			}
		}
	}, nil)
})

// drainLinger is how long the drainer stays away from the queue after
// taking a burst's tasks. A submit that finds the queue empty wakes the
// drainer (a futex call and a context switch, about a third of a submit's
// cost in a burst); lingering lets a burst's tasks pile up to be taken
// together. A submit after a pause longer than that is taken at once.
const drainLinger = 200 * time.Microsecond

// syncSubmissions hands every queued task to its thread pool's Sched and
// returns how many it took. A task whose pool is gone or shut down fails
// with RuntimeError (Python refuses those submits before they are queued;
// this is a backstop).
func syncSubmissions() int {
	drainMu.Lock()
	defer drainMu.Unlock()
	var n C.size_t
	q := C.gf_subq_take_all(&n)
	if q == nil {
		return 0
	}
	defer C.free(unsafe.Pointer(q))
	// Recovered: the tasks taken must reach their Scheds whatever happens
	// (their completions wait in the queue for the next pump started).
	_ = panics.Try(ensureGoPump)
	for _, e := range unsafe.Slice(q, int(n)) {
		t := gotask.Task{ID: int64(e.task), Kind: gotask.Kind(e.kind), Meta: goBytes(e.meta, e.mlen)}
		C.free(unsafe.Pointer(e.meta))
		if e.borrowed != 0 { // Python keeps it alive until the task is done
			t.Body = unsafe.Slice((*byte)(unsafe.Pointer(e.body)), int(e.blen))
		} else {
			t.Body = goBytes(e.body, e.blen)
			C.free(unsafe.Pointer(e.body))
		}
		if r := panics.Try(func() { submitQueued(int64(e.pool), t) }); r != nil {
			completions.push(gotask.Completion{ID: t.ID, Result: gotask.Panicked(r)})
		}
	}
	return int(n)
}

func submitQueued(poolID int64, t gotask.Task) {
	s, ok := goScheds.get(poolID)
	if !ok {
		completions.push(gotask.Completion{ID: t.ID, Result: gotask.Refused(gotask.ErrShutdown)})
		return
	}
	if _, err := s.Submit(t); err != nil {
		completions.push(gotask.Completion{ID: t.ID, Result: gotask.Refused(err)})
	}
}

//export gfGoCancel
func gfGoCancel(poolID, taskID C.longlong) C.int {
	return tryBool(func() bool {
		s, found := GoSched(int64(poolID)) // with the tasks still in the submission queue
		return !found || s.Cancel(int64(taskID))
	})
}

//export gfGoStarted
func gfGoStarted(poolID, taskID C.longlong) C.int {
	return tryBool(func() bool {
		s, found := GoSched(int64(poolID)) // with the tasks still in the submission queue
		return found && s.Started(int64(taskID))
	})
}

// tryBool returns f's answer as a C bool; 0 if f panics.
func tryBool(f func() bool) C.int {
	var ok bool
	if r := panics.Try(func() { ok = f() }); r != nil || !ok {
		return 0
	}
	return 1
}
