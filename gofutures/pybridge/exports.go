package pybridge

// The Go half of the fast path (fastpath.c). The per-task functions are
// called from C with the GIL held, so that a submit is not a chance for a
// GIL hand-off (a gopy call releases the GIL and, with workers waiting for
// it, costs a thread switch each way). They never block on the GIL or on a
// running task: the pool mutex is only ever held briefly.
//
// The others (shutdown, join, stopping the pump) wait, and come right after
// a burst of Go tasks, when Go has no free P: entering Go from C waits for
// one, and gopy releases the GIL only once inside Go. C calls these with
// the GIL released (up to 70 ms held otherwise, after 20,000 submits).

/*
#include <stdint.h>
#include <stdlib.h>
#include "gf_chunk.h"
*/
import "C"

import (
	"sync"
	"time"
	"unsafe"

	"github.com/gofutures/gofutures/gofutures/boundary"
	"github.com/gofutures/gofutures/gofutures/bufpool"
	"github.com/gofutures/gofutures/gofutures/panics"
)

// guarded runs f and returns its error (a panic included) as the kind of
// Python exception it becomes (boundary.Kind) and, unless the kind is
// boundary.ErrNone, that exception's message as a C string in *msg, which
// the caller frees.
func guarded(msg **C.char, f func() error) C.int {
	var err error
	func() {
		defer panics.Catch(&err)
		err = f()
	}()
	kind, text := boundary.Kind(err)
	if kind != boundary.ErrNone {
		*msg = C.CString(text)
	}
	return C.int(kind)
}

//export gfThreadNew
func gfThreadNew(maxWorkers C.longlong, out *C.longlong, msg **C.char) C.int {
	return guarded(msg, func() error {
		id, err := NewThreadPool(int(maxWorkers))
		*out = C.longlong(id)
		return err
	})
}

//export gfThreadSubmit
func gfThreadSubmit(poolID, taskID C.longlong, msg **C.char) C.int {
	return guarded(msg, func() error {
		p, err := ThreadPoolOrError(int64(poolID))
		if err != nil {
			return err
		}
		return p.Submit(int64(taskID))
	})
}

// gfProcCancel takes queued task taskID back from process pool poolID:
// whether it did (0 when a worker has it, when no such pool exists, or on
// a panic). GIL released.
//
//export gfProcCancel
func gfProcCancel(poolID, taskID C.longlong) C.int {
	return tryBool(func() bool {
		p, found := ProcPool(int64(poolID))
		return found && p.Cancel(uint64(taskID))
	})
}

//export gfProcSubmit
func gfProcSubmit(poolID, taskID C.longlong, data *C.char, n C.size_t, msg **C.char) C.int {
	return guarded(msg, func() error {
		// One copy into a recycled Go buffer: Python may free the bytes as
		// soon as this returns. The pool releases the buffer once written.
		buf := bufpool.Get(int(n))
		if n > 0 {
			copy(buf, unsafe.Slice((*byte)(unsafe.Pointer(data)), int(n)))
		}
		return procSubmit(int64(poolID), int64(taskID), buf)
	})
}

// gfThreadShutdown is ShutdownThreadPool: the cancelled ids in *ids (C
// memory the caller frees; NULL when none), their count in *n, how many of
// them are Go tasks in *goTasks. GIL released.
//
//export gfThreadShutdown
func gfThreadShutdown(poolID C.longlong, cancel C.int, ids **C.longlong, n, goTasks *C.size_t, msg **C.char) C.int {
	return guarded(msg, func() error {
		got, gos := ShutdownThreadPool(int64(poolID), cancel != 0)
		*goTasks = C.size_t(gos)
		if len(got) == 0 {
			return nil
		}
		out := (*C.longlong)(C.malloc(C.size_t(len(got)) * C.size_t(unsafe.Sizeof(C.longlong(0)))))
		if out == nil {
			panic("gofutures: no memory for the cancelled task ids") // recovered into an exception
		}
		for i, id := range got {
			unsafe.Slice(out, len(got))[i] = C.longlong(id)
		}
		*ids, *n = out, C.size_t(len(got))
		return nil
	})
}

// gfThreadJoin is JoinThreadPool with a timeout in milliseconds (forever if
// negative); *done reports whether the pool finished. GIL released.
//
//export gfThreadJoin
func gfThreadJoin(poolID, timeoutMs C.longlong, done *C.int, msg **C.char) C.int {
	return guarded(msg, func() error {
		if JoinThreadPool(int64(poolID), time.Duration(timeoutMs)*time.Millisecond) {
			*done = 1
		}
		return nil
	})
}

// gfGoPumpStop is StopGoPump with a timeout in milliseconds (forever if
// negative); *done reports whether the pump stopped. GIL released.
//
//export gfGoPumpStop
func gfGoPumpStop(timeoutMs C.longlong, done *C.int, msg **C.char) C.int {
	return guarded(msg, func() error {
		if StopGoPump(time.Duration(timeoutMs) * time.Millisecond) {
			*done = 1
		}
		return nil
	})
}

// lentDone holds the handles of lent task pieces that Go has written or
// dropped, for gf_release_lent (C, GIL held) to release.
var (
	lentMu   sync.Mutex
	lentDone []C.uintptr_t
)

//export gfProcSubmitLent
func gfProcSubmitLent(poolID, taskID C.longlong, chunks *C.gf_chunk, count C.int, lent C.uintptr_t, msg **C.char) C.int {
	return guarded(msg, func() error {
		// The pieces point into Python objects that C keeps referenced until
		// lent comes back through gfTakeLent: Go writes them, never copies.
		cs := unsafe.Slice(chunks, int(count))
		pieces := make([][]byte, 0, len(cs))
		for _, c := range cs {
			if c.len > 0 {
				pieces = append(pieces, unsafe.Slice((*byte)(unsafe.Pointer(c.data)), int(c.len)))
			}
		}
		return procSubmitPieces(int64(poolID), int64(taskID), pieces, func() {
			lentMu.Lock()
			lentDone = append(lentDone, lent)
			lentMu.Unlock()
		})
	})
}

//export gfTakeLent
func gfTakeLent() (h C.uintptr_t) {
	panics.Try(func() { // a panic: none taken this time
		lentMu.Lock()
		defer lentMu.Unlock()
		if n := len(lentDone); n > 0 {
			h = lentDone[n-1]
			lentDone = lentDone[:n-1]
		}
	})
	return h
}

//export gfProcNew
func gfProcNew(record *C.char, n C.size_t, out *C.longlong, msg **C.char) C.int {
	return guarded(msg, func() error {
		spec, err := boundary.DecodeSpec(C.GoBytes(unsafe.Pointer(record), C.int(n)))
		if err != nil {
			return err
		}
		id, err := NewProcPool(spec)
		*out = C.longlong(id)
		return err
	})
}

// gfContract returns boundary.Table as a C string the caller frees ("{}"
// after a panic: Python then refuses the extension as not matching).
//
//export gfContract
func gfContract() *C.char {
	table := "{}"
	panics.Try(func() { table = boundary.Table() })
	return C.CString(table)
}
