package pybridge

// Go tasks (gofutures.io, gofutures.http): direct calls (gfOpStart ...
// gfOpCopy, driven by gf_go_call in C) and thread pool tasks (gfGoSubmit,
// completed through one pump, runGoPump). See gf_gotask.h.

/*
#cgo CFLAGS: -fno-fast-math
#include <stdlib.h>
#include <string.h>
#include "gf_gotask.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gofutures/gofutures/gofutures/gotask"
	"github.com/gofutures/gofutures/gofutures/internal/taskstats"
	"github.com/gofutures/gofutures/gofutures/internal/wait"
	"github.com/gofutures/gofutures/gofutures/panics"
)

// ---- direct calls ----

// op is a Go task run for a direct call: the calling thread waits for it
// with the GIL released (gf_go_call).
type op struct {
	cancel context.CancelFunc
	done   chan struct{}
	res    gotask.Result
}

var (
	opsMu  sync.Mutex
	ops    = map[int64]*op{}
	lastOp atomic.Int64
)

func goBytes(p *C.char, n C.size_t) []byte {
	if n == 0 {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

//export gfOpStart
func gfOpStart(kind C.int, meta *C.char, mlen C.size_t, body *C.char, blen C.size_t) C.longlong {
	id := lastOp.Add(1)
	ctx, cancel := context.WithCancel(context.Background())
	o := &op{cancel: cancel, done: make(chan struct{})}
	m, b := goBytes(meta, mlen), goBytes(body, blen)
	opsMu.Lock()
	ops[id] = o
	opsMu.Unlock()
	go func() { // gotask.Do recovers its panics; nothing else here can panic
		defer close(o.done)
		o.res = gotask.Do(ctx, gotask.Kind(kind), m, b)
	}()
	return C.longlong(id)
}

func getOp(id C.longlong) *op {
	opsMu.Lock()
	defer opsMu.Unlock()
	return ops[int64(id)]
}

// gfOpWait waits up to ms (forever if negative) for op id; when it is done
// it reports 1 and the sizes of its result's meta and body.
//
//export gfOpWait
func gfOpWait(id C.longlong, ms C.longlong, status *C.int, mlen, blen *C.size_t) C.int {
	o := getOp(id)
	if o == nil {
		*status = C.int(gotask.StatusError)
		return 1
	}
	var timeout time.Duration = -1
	if ms >= 0 {
		timeout = time.Duration(ms) * time.Millisecond
	}
	if !wait.Closed(o.done, timeout) {
		return 0
	}
	*status = C.int(o.res.Status)
	*mlen, *blen = C.size_t(len(o.res.Meta)), C.size_t(len(o.res.Body))
	return 1
}

// gfOpCopy copies a finished op's result into the buffers C allocated (of
// the sizes gfOpWait reported) and forgets the op.
//
//export gfOpCopy
func gfOpCopy(id C.longlong, meta, body *C.char) {
	if o := getOp(id); o != nil {
		if n := len(o.res.Meta); n > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(meta)), n), o.res.Meta)
		}
		if n := len(o.res.Body); n > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(body)), n), o.res.Body)
		}
	}
	gfOpFree(id)
}

//export gfOpCancel
func gfOpCancel(id C.longlong) {
	if o := getOp(id); o != nil {
		o.cancel()
	}
}

//export gfOpFree
func gfOpFree(id C.longlong) {
	opsMu.Lock()
	o := ops[int64(id)]
	delete(ops, int64(id))
	opsMu.Unlock()
	if o != nil {
		o.cancel() // releases the context
	}
}

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
		t := gotask.Task{ID: int64(e.task), Kind: gotask.Kind(e.kind), Meta: goBytes(e.meta, e.mlen), Body: goBytes(e.body, e.blen)}
		C.free(unsafe.Pointer(e.meta))
		C.free(unsafe.Pointer(e.body))
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

// ---- the completion pump ----

// completionQueue holds completions of every pool's Go tasks until the pump
// takes them.
type completionQueue struct {
	mu       sync.Mutex
	cond     sync.Cond
	items    []gotask.Completion
	running  bool          // a pump runs
	stopping bool          // the pump exits once the queue is empty
	exited   chan struct{} // closed when the running pump exits
}

var completions = func() *completionQueue {
	q := &completionQueue{}
	q.cond.L = &q.mu
	return q
}()

func (q *completionQueue) push(c gotask.Completion) {
	q.mu.Lock()
	q.items = append(q.items, c)
	if len(q.items) == 1 {
		q.cond.Signal()
	}
	q.mu.Unlock()
}

// maxBatch bounds the completions delivered under one GIL acquisition: a
// pump holding the GIL for thousands of them at once would stall every other
// Python thread (a 1 ms heartbeat measured 119 ms at its p99 without it).
// 64 completions of HTTP requests take about 0.4 ms of Python. (32 cost
// io.sleep x 2,000 on 500 workers 1.30-1.35x its ideal instead of 1.18-1.22x:
// twice the naps between full batches, and the last wave's wait on them.)
const maxBatch = 64

// pumpYield is how long the pump leaves the GIL to others between two full
// batches.
const pumpYield = 200 * time.Microsecond

// take waits for completions and returns up to maxBatch of them, oldest
// first, copied into spare; ok is false once the pump should exit.
func (q *completionQueue) take(spare []gotask.Completion) (batch []gotask.Completion, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 {
		if q.stopping {
			return nil, false
		}
		q.cond.Wait()
	}
	n := min(len(q.items), maxBatch)
	batch = append(spare[:0], q.items[:n]...)
	rest := copy(q.items, q.items[n:])
	clear(q.items[rest:])
	q.items = q.items[:rest]
	return batch, true
}

// ensureGoPump starts the pump if none runs.
func ensureGoPump() {
	q := completions
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.running && !q.stopping {
		return
	}
	if q.running { // stopping: let it finish first
		exited := q.exited
		q.mu.Unlock()
		<-exited
		q.mu.Lock()
		if q.running {
			return
		}
	}
	q.running, q.stopping = true, false
	q.exited = make(chan struct{})
	exited := q.exited
	panics.Go(func() { runGoPump(exited) }, nil) // runGoPump's defer marks it exited, panic or not
}

// StopGoPump makes the pump deliver what is queued and exit, and waits up to
// timeout for it (forever if negative). Called before the interpreter
// finalizes, after the thread pools have finished.
func StopGoPump(timeout time.Duration) bool {
	q := completions
	q.mu.Lock()
	if !q.running {
		q.mu.Unlock()
		return true
	}
	q.stopping = true
	q.cond.Broadcast()
	exited := q.exited
	q.mu.Unlock()
	return wait.Closed(exited, timeout)
}

// runGoPump delivers completions to Python in batches, on its own locked OS
// thread with a kept Python thread state: one GIL acquisition per batch.
func runGoPump(exited chan struct{}) {
	runtime.LockOSThread() // never unlocked: the thread ends with the pump
	defer func() {
		q := completions
		q.mu.Lock()
		q.running = false
		close(exited)
		q.mu.Unlock()
	}()
	c := (*C.gf_gpump)(C.calloc(1, C.size_t(unsafe.Sizeof(C.gf_gpump{}))))
	if c == nil {
		panic("gofutures: no memory for the Go task pump") // recovered; the next submit starts a pump again
	}
	defer C.free(unsafe.Pointer(c))
	attached := C.gf_gpump_attach(c) == 1
	items := make([]C.gf_gcomp, maxBatch)
	var spare []gotask.Completion
	for {
		batch, ok := completions.take(spare)
		if !ok {
			break
		}
		if attached {
			if r := panics.Try(func() { deliverGoBatch(c, items, batch) }); r != nil {
				// The batch's futures stay pending: nothing better is left
				// to do with a panic here than to keep pumping.
				_ = r
			}
		}
		settle(batch)
		if len(batch) == maxBatch {
			// A backlog: let waiting Python threads take the GIL first.
			// Taking it straight back would restart their wait (CPython
			// asks a holder to drop the GIL only after a waiter waited a
			// whole switch interval, 5 ms, with no other thread taking it).
			time.Sleep(pumpYield)
		}
		clear(batch)
		spare = batch
	}
	if attached {
		C.gf_gpump_detach(c)
	}
}

// deliverGoBatch hands batch to Python in one C call, through items (room
// for maxBatch completions) pointing at the results' bytes, pinned for the
// call as cgo requires of Go pointers in memory passed to C.
func deliverGoBatch(c *C.gf_gpump, items []C.gf_gcomp, batch []gotask.Completion) {
	var pin runtime.Pinner
	defer pin.Unpin()
	defer clear(items[:len(batch)]) // before Unpin: items keeps no result alive
	for i, comp := range batch {
		it := &items[i]
		it.id, it.status = C.longlong(comp.ID), C.int(comp.Result.Status)
		it.meta, it.mlen = pinnedBytes(&pin, comp.Result.Meta)
		it.body, it.blen = pinnedBytes(&pin, comp.Result.Body)
	}
	C.gf_gpump_deliver(c, &items[0], C.size_t(len(batch)))
}

// pinnedBytes pins b's array for a C call and returns it as C sees it.
func pinnedBytes(pin *runtime.Pinner, b []byte) (*C.char, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	pin.Pin(&b[0])
	return (*C.char)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// settle tells each Sched which of its tasks were delivered (a task refused
// before it reached a Sched has none).
func settle(batch []gotask.Completion) {
	for _, comp := range batch {
		if comp.Sched != nil {
			comp.Sched.Delivered(comp.ID)
		}
	}
}
