package pybridge

// Go tasks (gofutures.io, gofutures.http): direct calls (gfOpStart ...
// gfOpCopy, driven by gf_go_call in C) and thread pool tasks (gfGoSubmit,
// completed through the pumps of gotask_pump.go). See gf_gotask.h.

/*
#cgo CFLAGS: -fno-fast-math
#include <stdlib.h>
#include <string.h>
#include "gf_gotask.h"
*/
import "C"

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gofutures/gofutures/gofutures/gio"
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

// goBytes copies n bytes of C memory (C.GoBytes takes an int: 2 GiB at most).
func goBytes(p *C.char, n C.size_t) []byte {
	if n == 0 {
		return nil
	}
	return bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
}

// gfOpStart starts a direct call's Go task. It copies meta, and copies the
// body only for an HTTP request: a file write and a run's input are written
// from the caller's bytes where they are, and a read reads into its body (a
// bytes object gf_go_call made for it), so large data is never held twice.
// That is safe because those operations are done with their body when
// gotask.Do returns (gio.Run waits for its input's writer), and gf_go_call
// keeps the body alive and waits for that even when interrupted. net/http
// may still be sending a request body after the response came
// (http.RoundTripper).
//
//export gfOpStart
func gfOpStart(kind C.int, meta *C.char, mlen C.size_t, body *C.char, blen C.size_t) C.longlong {
	id := lastOp.Add(1)
	ctx, cancel := context.WithCancel(context.Background())
	o := &op{cancel: cancel, done: make(chan struct{})}
	m, b := goBytes(meta, mlen), []byte(nil)
	switch gotask.Kind(kind) {
	case gotask.KindWrite, gotask.KindRun, gotask.KindRead:
		b = unsafe.Slice((*byte)(unsafe.Pointer(body)), int(blen))
	default:
		b = goBytes(body, blen)
	}
	opsMu.Lock()
	ops[id] = o
	opsMu.Unlock()
	panics.Go(func() { // gotask.Do recovers its own panics
		o.res = gotask.Do(ctx, gotask.Kind(kind), m, b)
		close(o.done)
	}, func(r *panics.Recovered) {
		o.res = gotask.Panicked(r)
		close(o.done)
	})
	return C.longlong(id)
}

// gfOpInline runs a direct call's file read or write on the calling thread
// (no goroutine to start, nor to wait for: a small file's read took 50 us
// that way, and open().read() 6 us) when it is on a regular file, which
// waits on nothing Ctrl-C could stop (gio.RegularOnly). It reports 1 with
// the op done, as gfOpWait reports it (to be copied with gfOpCopy), or 0
// with nothing done: any other kind, or no regular file, is run the
// ordinary way. The body is used where it is (the call returns only once
// done with it).
//
//export gfOpInline
func gfOpInline(kind C.int, meta *C.char, mlen C.size_t, body *C.char, blen C.size_t,
	id *C.longlong, status *C.int, omlen, oblen, oblen2 *C.size_t, two *C.int) C.int {
	k := gotask.Kind(kind)
	if k != gotask.KindRead && k != gotask.KindWrite {
		return 0
	}
	var b []byte
	if blen > 0 {
		b = unsafe.Slice((*byte)(unsafe.Pointer(body)), int(blen))
	}
	res := gotask.Do(gio.RegularOnly(context.Background()), k, goBytes(meta, mlen), b)
	if res.Status == gotask.StatusNotRegular {
		return 0
	}
	o := &op{cancel: func() {}, done: make(chan struct{}), res: res}
	close(o.done)
	*id = C.longlong(lastOp.Add(1))
	opsMu.Lock()
	ops[int64(*id)] = o
	opsMu.Unlock()
	return gfOpWait(*id, 0, status, omlen, oblen, oblen2, two)
}

func getOp(id C.longlong) *op {
	opsMu.Lock()
	defer opsMu.Unlock()
	return ops[int64(id)]
}

// gfOpWait waits up to ms (forever if negative) for op id; when it is done
// it reports 1 and the sizes of its result's meta and body, which is two
// bytes objects when *two is set (gotask.Result.Bodies).
//
//export gfOpWait
func gfOpWait(id C.longlong, ms C.longlong, status *C.int, mlen, blen, blen2 *C.size_t, two *C.int) C.int {
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
	first, second := o.res.Bodies()
	*status = C.int(o.res.Status)
	*mlen, *blen, *blen2 = C.size_t(len(o.res.Meta)), C.size_t(piecesLen(first)), C.size_t(piecesLen(second))
	*two = 0
	if second != nil {
		*two = 1
	}
	return 1
}

// gfOpCopy copies a finished op's result into the buffers C allocated (of
// the sizes gfOpWait reported; body nil when the body is in place, body2
// only for a second body) and forgets the op.
//
//export gfOpCopy
func gfOpCopy(id C.longlong, meta, body, body2 *C.char) {
	if o := getOp(id); o != nil {
		copyPieces(meta, [][]byte{o.res.Meta}, nil)
		first, second := o.res.Bodies()
		copyPieces(body, first, o.res.Mapped)
		copyPieces(body2, second, o.res.Mapped)
	}
	gfOpFree(id)
}

func piecesLen(pieces [][]byte) int {
	n := 0
	for _, p := range pieces {
		n += len(p)
	}
	return n
}

// copyPieces copies pieces end to end into C memory at dst (room for all);
// nothing when dst is nil (the caller has them: a read into its buffer).
// The pieces of mapped are unmapped as soon as they are copied, so a large
// body is held about once, not twice.
func copyPieces(dst *C.char, pieces [][]byte, mapped gio.Mapped) {
	if dst == nil {
		return
	}
	at := 0
	for _, p := range pieces {
		if len(p) > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(dst), at)), len(p)), p)
			at += len(p)
			if n := mapped.Take(p); n > 0 {
				gio.Unmap(unsafe.Pointer(unsafe.SliceData(p)), n)
			}
		}
	}
}

//export gfOpCancel
func gfOpCancel(id C.longlong) {
	if o := getOp(id); o != nil {
		o.cancel()
	}
}

// gfOpFree forgets op id and releases its result (gotask.Result.Release).
//
//export gfOpFree
func gfOpFree(id C.longlong) {
	opsMu.Lock()
	o := ops[int64(id)]
	delete(ops, int64(id))
	opsMu.Unlock()
	if o != nil {
		o.cancel() // releases the context
		select {
		case <-o.done: // always, from C: it waits for the op first
			o.res.Release()
		default:
			panics.Go(func() { <-o.done; o.res.Release() }, nil)
		}
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
