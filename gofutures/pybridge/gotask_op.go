package pybridge

// Direct calls of Go tasks (gofutures.io, gofutures.http called outside an
// executor): gf_go_call in C drives gfOpInline, or gfOpStart and gfOpWait,
// then gfOpCopy (see gf_gotask.h).
//
// Each exported function recovers its own panics: one that reached cgo
// would abort the interpreter (safety rule 1). The op then ends with the
// panic as its result, which Python raises as GoPanicError with the Go
// stack, as it raises a panic inside the task's own work (gotask.Do);
// gfOpCopy, which cannot take back what it told C, reports it instead.

/*
#include <stdlib.h>
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
	"github.com/gofutures/gofutures/gofutures/internal/wait"
	"github.com/gofutures/gofutures/gofutures/panics"
)

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

// opPanicNext is fault injection (OpPanicNext): the next call of that
// exported op function panics.
var opPanicNext atomic.Pointer[string]

// OpPanicNext makes the next call of the exported op function named
// ("start", "inline", "wait" or "copy") panic, so that tests can check that
// a panic there reaches Python as GoPanicError and the interpreter lives.
func OpPanicNext(name string) { opPanicNext.Store(&name) }

func maybeInjectOpPanic(name string) {
	if p := opPanicNext.Load(); p != nil && *p == name && opPanicNext.CompareAndSwap(p, nil) {
		panic("pybridge: injected panic in gfOp " + name + " (OpPanicNext)")
	}
}

// goBytes copies n bytes of C memory (C.GoBytes takes an int: 2 GiB at most).
func goBytes(p *C.char, n C.size_t) []byte {
	if n == 0 {
		return nil
	}
	return bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
}

func getOp(id int64) *op {
	opsMu.Lock()
	defer opsMu.Unlock()
	return ops[id]
}

func putOp(id int64, o *op) {
	opsMu.Lock()
	ops[id] = o
	opsMu.Unlock()
}

// finishedOp files op id as done with res.
func finishedOp(id int64, res gotask.Result) {
	o := &op{cancel: func() {}, done: make(chan struct{}), res: res}
	close(o.done)
	putOp(id, o)
}

// failOp makes the panic r op id's result: it stops the op and waits for
// its goroutine (if any) to be done with the caller's memory. A missing op
// is filed.
func failOp(id int64, r *panics.Recovered) {
	o := getOp(id)
	if o == nil {
		finishedOp(id, gotask.Panicked(r))
		return
	}
	o.cancel()
	<-o.done
	// Outside any recover (failOp is the recovery): a panic releasing the
	// result at worst leaks its memory.
	_ = panics.Try(o.res.Release)
	o.res = gotask.Panicked(r)
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
	if r := panics.Try(func() { startOp(id, gotask.Kind(kind), meta, mlen, body, blen) }); r != nil {
		failOp(id, r)
	}
	return C.longlong(id)
}

func startOp(id int64, kind gotask.Kind, meta *C.char, mlen C.size_t, body *C.char, blen C.size_t) {
	maybeInjectOpPanic("start")
	ctx, cancel := context.WithCancel(context.Background())
	o := &op{cancel: cancel, done: make(chan struct{})}
	m, b := goBytes(meta, mlen), []byte(nil)
	switch kind {
	case gotask.KindWrite, gotask.KindRun, gotask.KindRead:
		b = unsafe.Slice((*byte)(unsafe.Pointer(body)), int(blen))
	default:
		b = goBytes(body, blen)
	}
	putOp(id, o)
	panics.Go(func() { // gotask.Do recovers its own panics
		o.res = gotask.Do(ctx, kind, m, b)
		close(o.done)
	}, func(r *panics.Recovered) {
		o.res = gotask.Panicked(r)
		close(o.done)
	})
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
	n := lastOp.Add(1)
	*id = C.longlong(n)
	ran := true
	if r := panics.Try(func() { ran = inlineOp(n, k, meta, mlen, body, blen) }); r != nil {
		failOp(n, r)
	}
	if !ran {
		return 0
	}
	return gfOpWait(*id, 0, status, omlen, oblen, oblen2, two)
}

// inlineOp runs op id on this thread and reports whether it did.
func inlineOp(id int64, kind gotask.Kind, meta *C.char, mlen C.size_t, body *C.char, blen C.size_t) bool {
	maybeInjectOpPanic("inline")
	var b []byte
	if blen > 0 {
		b = unsafe.Slice((*byte)(unsafe.Pointer(body)), int(blen))
	}
	res := gotask.Do(gio.RegularOnly(context.Background()), kind, goBytes(meta, mlen), b)
	if res.Status == gotask.StatusNotRegular {
		return false
	}
	finishedOp(id, res)
	return true
}

// gfOpWait waits up to ms (forever if negative) for op id; when it is done
// it reports 1 and the sizes of its result's meta and body, which is two
// bytes objects when *two is set (gotask.Result.Bodies).
//
//export gfOpWait
func gfOpWait(id C.longlong, ms C.longlong, status *C.int, mlen, blen, blen2 *C.size_t, two *C.int) (done C.int) {
	report := func() { done = waitOp(int64(id), ms, status, mlen, blen, blen2, two) }
	if r := panics.Try(func() { maybeInjectOpPanic("wait"); report() }); r != nil {
		failOp(int64(id), r)
		if panics.Try(report) != nil { // it failed again: an error Python reports as such
			*status, *mlen, *blen, *blen2, *two, done = C.int(gotask.StatusError), 0, 0, 0, 0, 1
		}
	}
	return done
}

func waitOp(id int64, ms C.longlong, status *C.int, mlen, blen, blen2 *C.size_t, two *C.int) C.int {
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
	*mlen, *blen, *blen2 = C.size_t(len(o.res.Meta)), C.size_t(gotask.PiecesLen(first)), C.size_t(gotask.PiecesLen(second))
	*two = 0
	if second != nil {
		*two = 1
	}
	return 1
}

// gfOpCopy copies a finished op's result into the buffers C allocated (of
// the sizes gfOpWait reported; body nil when the body is in place, body2
// only for a second body) and forgets the op. A panic makes it return the
// error's kind and message (boundary.Kind) instead of 0: what C holds is
// then not the result.
//
//export gfOpCopy
func gfOpCopy(id C.longlong, meta, body, body2 *C.char, msg **C.char) C.int {
	defer gfOpFree(id)
	return guarded(msg, func() error {
		maybeInjectOpPanic("copy")
		if o := getOp(int64(id)); o != nil {
			copyPieces(meta, [][]byte{o.res.Meta}, nil)
			first, second := o.res.Bodies()
			copyPieces(body, first, o.res.Mapped)
			copyPieces(body2, second, o.res.Mapped)
		}
		return nil
	})
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
			mapped.ReleasePiece(p)
		}
	}
}

//export gfOpCancel
func gfOpCancel(id C.longlong) {
	panics.Try(func() {
		if o := getOp(int64(id)); o != nil {
			o.cancel()
		}
	})
}

// gfOpFree forgets op id and releases its result (gotask.Result.Release).
//
//export gfOpFree
func gfOpFree(id C.longlong) {
	panics.Try(func() {
		opsMu.Lock()
		o := ops[int64(id)]
		delete(ops, int64(id))
		opsMu.Unlock()
		if o == nil {
			return
		}
		o.cancel() // releases the context
		select {
		case <-o.done: // always, from C: it waits for the op first
			o.res.Release()
		default:
			panics.Go(func() { <-o.done; o.res.Release() }, nil)
		}
	})
}
