package pybridge

// The Go half of the submit fast path (fastpath.c). These functions are
// called from C with the GIL held, so that a submit is not a chance for a
// GIL hand-off (a gopy call releases the GIL and, with workers waiting for
// it, costs a thread switch each way). They never block on the GIL or on a
// running task: the pool mutex is only ever held briefly.

/*
#include <stdint.h>
#include <stdlib.h>
#include "gf_chunk.h"
*/
import "C"

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/gofutures/gofutures/gofutures/bufpool"
	"github.com/gofutures/gofutures/gofutures/panics"
)

// submitResult turns an error into a C string the caller frees (nil: ok).
func submitResult(err error) *C.char {
	if err == nil {
		return nil
	}
	return C.CString(err.Error())
}

// guarded runs f, turning its error or panic into submitResult's C string.
func guarded(f func() error) *C.char {
	var err error
	func() {
		defer panics.Catch(&err)
		err = f()
	}()
	return submitResult(err)
}

//export gfThreadSubmit
func gfThreadSubmit(poolID, taskID C.longlong) *C.char {
	return guarded(func() error {
		p, err := ThreadPoolOrError(int64(poolID))
		if err != nil {
			return err
		}
		return WithKind(p.Submit(int64(taskID)))
	})
}

//export gfProcSubmit
func gfProcSubmit(poolID, taskID C.longlong, data *C.char, n C.size_t) *C.char {
	return guarded(func() error {
		// One copy into a recycled Go buffer: Python may free the bytes as
		// soon as this returns. The pool releases the buffer once written.
		buf := bufpool.Get(int(n))
		if n > 0 {
			copy(buf, unsafe.Slice((*byte)(unsafe.Pointer(data)), int(n)))
		}
		return procSubmit(int64(poolID), int64(taskID), buf)
	})
}

// lentDone holds the handles of lent task pieces that Go has written or
// dropped, for gf_release_lent (C, GIL held) to release.
var (
	lentMu   sync.Mutex
	lentDone []C.uintptr_t
)

//export gfProcSubmitLent
func gfProcSubmitLent(poolID, taskID C.longlong, chunks *C.gf_chunk, count C.int, lent C.uintptr_t) *C.char {
	return guarded(func() error {
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
func gfTakeLent() C.uintptr_t {
	lentMu.Lock()
	defer lentMu.Unlock()
	n := len(lentDone)
	if n == 0 {
		return 0
	}
	h := lentDone[n-1]
	lentDone = lentDone[:n-1]
	return h
}

//export gfProcNew
func gfProcNew(workers, maxTasks, depth, start, zPid, zCmd, zRep C.longlong,
	zygoteArgv *C.char, zygoteLen C.size_t,
	workerArgv *C.char, workerLen C.size_t,
	initPayload *C.char, initLen C.size_t,
	initFds *C.char, initFdsLen C.size_t, out *C.longlong) *C.char {
	return guarded(func() error {
		split := func(p *C.char, n C.size_t) []string {
			return strings.Split(string(C.GoBytes(unsafe.Pointer(p), C.int(n))), "\x00")
		}
		fds, err := parseFds(C.GoStringN(initFds, C.int(initFdsLen)))
		if err != nil {
			return err
		}
		id, err := NewProcPool(ProcPoolSpec{
			Workers:          int(workers),
			MaxTasksPerChild: int(maxTasks),
			Depth:            int(depth),
			Start:            int(start),
			ZygotePid:        int(zPid),
			ZygoteCmdFd:      int(zCmd),
			ZygoteRepFd:      int(zRep),
			ZygoteArgv:       split(zygoteArgv, zygoteLen),
			WorkerArgv:       split(workerArgv, workerLen),
			InitPayload:      C.GoBytes(unsafe.Pointer(initPayload), C.int(initLen)),
			InitFds:          fds,
		})
		*out = C.longlong(id)
		return err
	})
}

// parseFds reads space-separated descriptor numbers.
func parseFds(s string) ([]int, error) {
	var fds []int
	for _, f := range strings.Fields(s) {
		fd, err := strconv.Atoi(f)
		if err != nil || fd < 0 {
			return nil, fmt.Errorf(KindInvalid+"bad file descriptor %q", f)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}
