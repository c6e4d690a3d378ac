package pybridge

// The Go half of the submit fast path (fastpath.c). These functions are
// called from C with the GIL held, so that a submit is not a chance for a
// GIL hand-off (a gopy call releases the GIL and, with workers waiting for
// it, costs a thread switch each way). They never block on the GIL or on a
// running task: the pool mutex is only ever held briefly.

/*
#include <stdlib.h>
#include "gf_chunk.h"
*/
import "C"

import (
	"strings"
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

//export gfProcSubmitChunks
func gfProcSubmitChunks(poolID, taskID C.longlong, chunks *C.gf_chunk, count C.int, total C.size_t) *C.char {
	return guarded(func() error {
		// The pieces of a pickle written by reference (see fast_proc_submit):
		// one copy, straight into a recycled Go buffer.
		buf := bufpool.Get(int(total))
		off := 0
		for _, c := range unsafe.Slice(chunks, int(count)) {
			if c.len > 0 {
				off += copy(buf[off:], unsafe.Slice((*byte)(unsafe.Pointer(c.data)), int(c.len)))
			}
		}
		return procSubmit(int64(poolID), int64(taskID), buf[:off])
	})
}

//export gfProcNew
func gfProcNew(workers, maxTasks, depth, start, zPid, zCmd, zRep C.longlong,
	zygoteArgv *C.char, zygoteLen C.size_t,
	workerArgv *C.char, workerLen C.size_t,
	initPayload *C.char, initLen C.size_t, out *C.longlong) *C.char {
	return guarded(func() error {
		split := func(p *C.char, n C.size_t) []string {
			return strings.Split(string(C.GoBytes(unsafe.Pointer(p), C.int(n))), "\x00")
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
		})
		*out = C.longlong(id)
		return err
	})
}
