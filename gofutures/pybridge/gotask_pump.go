package pybridge

// The completion pump of Go tasks: finished tasks of every thread pool reach
// Python through it, in batches, one GIL acquisition each. Done-callbacks
// run on the pump; one that blocks (it waits for another task's result, or
// for a lock) keeps its pump in Python, and another pump takes over the
// queue, so other futures complete as they would on the stdlib's other
// workers.

/*
#include <stdlib.h>
#include "gf_gotask.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gofutures/gofutures/gofutures/gio"
	"github.com/gofutures/gofutures/gofutures/gotask"
	"github.com/gofutures/gofutures/gofutures/internal/wait"
	"github.com/gofutures/gofutures/gofutures/panics"
)

// completionQueue holds completions of every pool's Go tasks until a pump
// takes them, and the pumps' bookkeeping.
type completionQueue struct {
	mu    sync.Mutex
	cond  sync.Cond
	items []gotask.Completion
	// handed maps the tasks handed to Python, and not yet settled, to their
	// Sched: a pump records in C each task it delivered, after its
	// callbacks (it may be another pump's), and they are settled from
	// there (settleDone). Under its own lock: mu is also every finishing
	// task's.
	handedMu    sync.Mutex
	handed      map[int64]*gotask.Sched
	pumps       int                   // pump threads alive: the current one, and replaced ones still in Python
	replaced    map[*goPump]time.Time // replaced pumps still in Python, and when they were replaced
	current     bool                  // a pump that takes new batches runs
	drainWanted bool                  // the current pump should deliver what waits in Python, with no batch
	stopping    bool                  // pumps exit once the queue is empty
	exited      chan struct{}         // closed when the last pump exits
}

var completions = func() *completionQueue {
	q := &completionQueue{handed: map[int64]*gotask.Sched{}, replaced: map[*goPump]time.Time{}}
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

// maxBatchBytes bounds the bodies of one batch (a batch holds one
// completion at least): a batch's futures complete once all its bodies are
// copied. 16 reads of 50 MB files delivered as one batch made the first
// result wait 0.3 s for the last, and (read onto Go's heap then) held
// 1.4 GB at the peak, where the stdlib's open().read() held 0.7.
// 32 MiB: each batch waits for the GIL, 5 ms next to a busy thread, and
// 8 MiB made 1,000 submitted reads of 1 MB 1.4x slower.
const maxBatchBytes = 32 << 20

// batchLen is how many of items, the oldest first, the next batch takes.
func batchLen(items []gotask.Completion) int {
	n, size := 0, 0
	for n < len(items) && n < maxBatch && size < maxBatchBytes {
		size += items[n].Result.BodyLen()
		n++
	}
	return n
}

// pumpYield is how long the pump leaves the GIL to others between two full
// batches.
const pumpYield = 200 * time.Microsecond

// handOffAfter is how long one task's delivery (its done-callbacks) may
// hold a pump before another pump takes over the queue: a callback that
// blocks delays other futures by this much, not for as long as it blocks.
// Completing an HTTP request takes about 6 us; a pump held longer by a busy
// GIL costs one thread start when it is replaced needlessly.
const handOffAfter = 20 * time.Millisecond

// quickHandOff replaces handOffAfter while a pump replaced handOffAfter ago
// or more is still held, blocked rather than slow: callbacks that block
// often come together (they wait for each other, or for one resource), and
// 100 of them then start within 0.7 s, not 2 s. It is just over CPython's
// 5 ms switch interval, so that a pump merely waiting for the GIL is seldom
// replaced.
const quickHandOff = 6 * time.Millisecond

// maxPumps bounds the pump threads, for every pool together: beyond it, a
// blocked callback delays the others until one returns. (The stdlib's
// bound is each pool's max_workers.)
const maxPumps = 1024

// take waits for completions and returns up to maxBatch of them, oldest
// first, copied into spare (none when a drain was asked for); ok is false
// once the pump should exit.
func (q *completionQueue) take(spare []gotask.Completion) (batch []gotask.Completion, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.drainWanted {
		// When stopping, the current pump stays while replaced ones are
		// held: what they left in Python's queue is its to deliver.
		if q.stopping && len(q.replaced) == 0 {
			return nil, false
		}
		q.cond.Wait()
	}
	q.drainWanted = false
	n := batchLen(q.items)
	batch = append(spare[:0], q.items[:n]...)
	rest := copy(q.items, q.items[n:])
	clear(q.items[rest:])
	q.items = q.items[:rest]
	return batch, true
}

// hand records the batch a pump is about to hand to Python.
func (q *completionQueue) hand(batch []gotask.Completion) {
	q.handedMu.Lock()
	defer q.handedMu.Unlock()
	for _, comp := range batch {
		if comp.Sched != nil {
			q.handed[comp.ID] = comp.Sched
		}
	}
}

// settle tells each Sched which of the tasks handed to Python were
// delivered (a task refused before it reached a Sched has none; one settled
// already is skipped).
func (q *completionQueue) settle(ids []int64) {
	type delivered struct {
		s  *gotask.Sched
		id int64
	}
	var room [maxBatch]delivered
	found := room[:0]
	q.handedMu.Lock()
	for _, id := range ids {
		if s, ok := q.handed[id]; ok {
			delete(q.handed, id)
			found = append(found, delivered{s, id})
		}
	}
	q.handedMu.Unlock()
	for _, d := range found {
		d.s.Delivered(d.id)
	}
}

// settleBatch settles a whole batch: for a batch whose delivery failed, or
// whose delivered tasks could not all be recorded (its futures stay
// pending; the pool must still be able to finish; tasks of it another pump
// delivers may be settled before their callbacks end).
func (q *completionQueue) settleBatch(batch []gotask.Completion) {
	q.handedMu.Lock()
	for _, comp := range batch {
		delete(q.handed, comp.ID)
	}
	q.handedMu.Unlock()
	for _, comp := range batch {
		if comp.Sched != nil {
			comp.Sched.Delivered(comp.ID)
		}
	}
}

// ensureGoPump starts a pump if none takes new batches.
func ensureGoPump() {
	q := completions
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.current && !q.stopping {
		return
	}
	if q.stopping && q.pumps > 0 { // let the stopping ones finish first
		exited := q.exited
		q.mu.Unlock()
		<-exited
		q.mu.Lock()
		if q.current && !q.stopping {
			return
		}
	}
	q.current, q.stopping = true, false
	q.startPumpLocked(false)
}

// startPumpLocked starts a pump thread; drain: it first delivers what a
// replaced pump left queued in Python.
func (q *completionQueue) startPumpLocked(drain bool) {
	if q.pumps == 0 {
		q.exited = make(chan struct{})
	}
	q.pumps++
	panics.Go(func() { runGoPump(drain) }, nil) // runGoPump's defer counts it out, panic or not
}

// handOff replaces p, held in Python, by a new pump; false if p was
// replaced already or too many pumps run.
func (q *completionQueue) handOff(p *goPump) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if p.replaced.Load() || q.pumps >= maxPumps {
		return false
	}
	p.replaced.Store(true)
	q.replaced[p] = time.Now()
	q.startPumpLocked(true)
	return true
}

// requestDrain asks the current pump to deliver what a replaced one, held
// in a callback, left in Python's queue (it may have queued it after it was
// replaced: a garbage collection can hold a pump before its batch is
// queued). With no current pump (it panicked), one is started.
func (q *completionQueue) requestDrain() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.current {
		q.current = true
		q.startPumpLocked(true)
		return
	}
	q.drainWanted = true
	q.cond.Signal()
}

// handOffDelay is how long one task may hold a pump before it is replaced.
func (q *completionQueue) handOffDelay() time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, at := range q.replaced {
		if time.Since(at) >= handOffAfter {
			return quickHandOff
		}
	}
	return handOffAfter
}

func (q *completionQueue) pumpExited(p *goPump) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pumps--
	if _, ok := q.replaced[p]; ok {
		delete(q.replaced, p)
		q.cond.Broadcast() // a stopping current pump may exit now
	}
	if !p.replaced.Load() {
		q.current = false
	}
	if q.pumps == 0 {
		close(q.exited)
	}
}

// StopGoPump makes the pumps deliver what is queued and exit, and waits up
// to timeout for them (forever if negative). Called before the interpreter
// finalizes, after the thread pools have finished; a pump held in a
// done-callback is waited for, as the stdlib waits for its workers.
func StopGoPump(timeout time.Duration) bool {
	q := completions
	q.mu.Lock()
	if q.pumps == 0 {
		q.mu.Unlock()
		return true
	}
	q.stopping = true
	q.cond.Broadcast()
	exited := q.exited
	q.mu.Unlock()
	return wait.Closed(exited, timeout)
}

// goPump is one pump thread's state.
type goPump struct {
	replaced atomic.Bool // another pump took over: this one exits once back from Python

	mu         sync.Mutex
	c          *C.gf_gpump // nil once the pump has exited
	delivering bool        // in gf_gpump_deliver
	armed      bool        // watch will fire: left armed between batches, not reset for each
	watch      *time.Timer // fires check while delivering
}

// check, run by p.watch while p delivers: once one task has held p for
// handOffDelay, a new pump takes over the queue; while a replaced p stays
// held, the current pump is asked every handOffDelay to deliver what waits
// in Python.
func (p *goPump) check() {
	_ = panics.Try(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.delivering || p.c == nil {
			p.armed = false
			return
		}
		after := completions.handOffDelay()
		next := after
		if since := atomic.LoadInt64((*int64)(unsafe.Pointer(&p.c.in_python_since))); since != 0 {
			held := time.Duration(int64(C.gf_now_ns()) - since)
			if held >= after {
				// What p delivered before it was held: a pool's join may
				// wait for it (even one run by the callback holding p).
				p.settleDone()
			}
			switch {
			case held < after:
				next = after - held
			case p.replaced.Load():
				completions.requestDrain()
			default:
				completions.handOff(p) // false with maxPumps running: looked at again later
			}
		}
		p.watch.Reset(next)
	})
}

// runGoPump delivers completions to Python in batches, on its own locked OS
// thread with a kept Python thread state: one GIL acquisition per batch. It
// exits when stopping, with the queue empty and no replaced pump held, or
// after a batch during which another pump replaced it.
func runGoPump(drain bool) {
	runtime.LockOSThread() // never unlocked: the thread ends with the pump
	p := &goPump{}
	p.watch = time.AfterFunc(time.Hour, p.check)
	p.watch.Stop()
	defer completions.pumpExited(p)
	c := (*C.gf_gpump)(C.calloc(1, C.size_t(unsafe.Sizeof(C.gf_gpump{}))))
	if c == nil {
		panic("gofutures: no memory for the Go task pump") // recovered; the next submit starts a pump again
	}
	defer func() {
		p.mu.Lock()
		p.c, p.delivering = nil, false // check no longer reads c
		p.mu.Unlock()
		p.watch.Stop()
		C.free(unsafe.Pointer(c))
	}()
	p.c = c
	attached := C.gf_gpump_attach(c) == 1
	items := make([]C.gf_gcomp, maxBatch)
	var spare []gotask.Completion
	for first := true; ; first = false {
		var batch []gotask.Completion
		if !first || !drain {
			var ok bool
			if batch, ok = completions.take(spare); !ok {
				break
			}
		}
		if attached {
			completions.hand(batch)
			p.deliver(items, batch)
		} else {
			completions.settleBatch(batch)
		}
		for _, comp := range batch { // Python has its copies, or never will
			comp.Result.Release()
		}
		if p.replaced.Load() {
			break
		}
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

// deliver hands batch to Python (watched: a pump held there is replaced),
// then settles what this pump delivered.
func (p *goPump) deliver(items []C.gf_gcomp, batch []gotask.Completion) {
	p.mu.Lock()
	p.delivering = true
	arm := !p.armed
	p.armed = true
	p.mu.Unlock()
	if arm { // else check fires within handOffAfter, and sees this batch
		p.watch.Reset(completions.handOffDelay())
	}
	var reported C.int
	r := panics.Try(func() { reported = deliverGoBatch(p.c, items, batch) })
	if r != nil {
		// Go panicked before the C call: none of the batch reached Python.
		// Its tasks fail with the panic instead (their results are released
		// by the caller), so no future is left pending.
		failed := panickedBatch(batch, r)
		r = panics.Try(func() { reported = deliverGoBatch(p.c, items, failed) })
	}
	p.mu.Lock()
	p.delivering = false
	p.mu.Unlock()
	p.settleDone()
	if r != nil || reported != 1 {
		// Delivering even the panic failed (or Python found no memory even
		// for an error): what was not delivered stays pending, and nothing
		// better is left than to let its pool finish and keep pumping.
		completions.settleBatch(batch)
	}
}

// C fails a task whose body finds no memory with GF_STATUS_ERROR: it must
// be gotask.StatusError (a compile error otherwise).
var _ = [1]struct{}{}[C.GF_STATUS_ERROR-int(gotask.StatusError)]

// panickedBatch is batch's tasks, each failed with the panic r.
func panickedBatch(batch []gotask.Completion, r *panics.Recovered) []gotask.Completion {
	failed := make([]gotask.Completion, len(batch))
	for i, comp := range batch {
		failed[i] = gotask.Completion{Sched: comp.Sched, ID: comp.ID, Result: gotask.Panicked(r)}
	}
	return failed
}

// pumpFailNext is fault injection (PumpFailNext).
var pumpFailNext atomic.Pointer[string]

// PumpFailNext makes the next batch the pump delivers fail at stage:
// "describe", a Go panic before the C call; "memory", no memory in C for
// the first body. Tests check that every task still ends.
func PumpFailNext(stage string) {
	if stage == "memory" {
		C.gf_gpump_fail_next_body()
		return
	}
	pumpFailNext.Store(&stage)
}

// settleDone settles the tasks p recorded as delivered so far.
func (p *goPump) settleDone() {
	var ids [maxBatch]C.longlong
	for {
		n := int(C.gf_gpump_take_done(p.c, &ids[0], maxBatch))
		if n == 0 {
			return
		}
		completions.settle(unsafe.Slice((*int64)(unsafe.Pointer(&ids[0])), n))
	}
}

// deliverGoBatch hands batch to Python in one C call, through items (room
// for maxBatch completions) pointing at the results' bytes, pinned for the
// call as cgo requires of Go pointers in memory passed to C. The pieces
// outside Go's heap are C's to unmap from the call on, each as soon as it
// is copied (gio.Mapped.Take); a panic before the call leaves them the
// results', which the pump releases.
func deliverGoBatch(c *C.gf_gpump, items []C.gf_gcomp, batch []gotask.Completion) C.int {
	var pin runtime.Pinner
	defer pin.Unpin()
	defer clear(items[:len(batch)]) // before Unpin: items keeps no result alive
	for i, comp := range batch {
		res := comp.Result
		it := &items[i]
		it.id, it.status = C.longlong(comp.ID), C.int(res.Status)
		it.meta, it.mlen = pinnedBytes(&pin, res.Meta)
		pieces := res.Pieces
		if pieces == nil && len(res.Mapped) > 0 && len(res.Body) > 0 {
			pieces = [][]byte{res.Body} // a piece, for C to unmap if it is mapped
		}
		if len(pieces) > 0 {
			it.pieces, it.npieces, it.split = pinnedPieces(&pin, pieces), C.size_t(len(pieces)), C.size_t(res.Split)
		} else {
			it.body, it.blen = pinnedBytes(&pin, res.Body)
		}
	}
	if f := pumpFailNext.Load(); f != nil && *f == "describe" && pumpFailNext.CompareAndSwap(f, nil) {
		panic("pybridge: injected panic delivering a batch (PumpFailNext)")
	}
	for i, comp := range batch { // nothing left to fail before the call
		if items[i].pieces != nil {
			handOver(unsafe.Slice(items[i].pieces, items[i].npieces), comp.Result.Mapped)
		}
	}
	return C.gf_gpump_deliver(c, &items[0], C.size_t(len(batch)))
}

// pinnedPieces describes pieces (not empty) to C, those in Go memory pinned
// for a C call (handOver gives C those outside Go's heap).
func pinnedPieces(pin *runtime.Pinner, pieces [][]byte) *C.gf_piece {
	described := make([]C.gf_piece, len(pieces))
	for i, b := range pieces {
		described[i].p, described[i].n = pinnedBytes(pin, b)
	}
	pin.Pin(&described[0])
	return &described[0]
}

// handOver makes the described pieces that start one of mapped's mappings
// C's to unmap (gf_piece.unmap).
func handOver(described []C.gf_piece, mapped gio.Mapped) {
	for i := range described {
		if d := &described[i]; d.n > 0 {
			d.unmap = C.size_t(mapped.Take(unsafe.Slice((*byte)(unsafe.Pointer(d.p)), d.n)))
		}
	}
}

// pinnedBytes pins b's array for a C call (nothing to pin for C memory)
// and returns it as C sees it.
func pinnedBytes(pin *runtime.Pinner, b []byte) (*C.char, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	pin.Pin(&b[0])
	return (*C.char)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}
