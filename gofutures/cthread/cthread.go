// Package cthread runs Go functions on threads created in C with
// pthread_create, the way CPython creates the threads of the threading
// module: with a chosen stack size, and with a failure to create one
// reported as an error instead of aborting the process.
//
// Go's own threads are made by the runtime when it needs them: their stack
// size is fixed by the runtime, and a failed pthread_create there is fatal
// ("runtime/cgo: pthread_create failed"). A function started here runs as a
// cgo callback on the new C thread: Go binds one of its extra Ms to the
// thread for the callback's life (extra Ms do not count against
// runtime/debug.SetMaxThreads: go.dev/issue/60004), and the goroutine stays
// locked to that thread until the function returns. The thread then exits;
// Go keeps the M for the next C thread that calls into Go.
//
// Cost: one pthread_create (about 15-40 us here, most of it mapping the
// stack), one cgo.Handle and the callback's M binding.
package cthread

/*
#include <stddef.h>
#include <stdint.h>

int gf_cthread_start(uintptr_t handle, size_t stack_size);
size_t gf_cthread_stack_size(void);
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime/cgo"
	"syscall"

	"github.com/gofutures/gofutures/gofutures/panics"
)

// ErrStart is wrapped by every error Start returns.
var ErrStart = errors.New("cannot create thread")

// Start runs fn on a new detached C thread whose stack is stackSize bytes
// (0: the platform default, as threading.stack_size(0) means in CPython).
// It returns once the thread is created, usually before fn runs. An error
// wraps ErrStart and the errno of pthread_create (EAGAIN when a thread limit
// such as RLIMIT_NPROC, or memory for the stack, ran out); fn then never
// runs.
//
// A panic in fn is recovered and printed to stderr: it ends the thread, not
// the process. Callers that need the panic catch it themselves.
func Start(stackSize uint64, fn func()) error {
	h := cgo.NewHandle(fn)
	if rc := C.gf_cthread_start(C.uintptr_t(h), C.size_t(stackSize)); rc != 0 {
		h.Delete()
		return fmt.Errorf("%w: %w", ErrStart, syscall.Errno(rc))
	}
	return nil
}

//export gfCthreadMain
func gfCthreadMain(handle C.uintptr_t) {
	// Nothing here may panic past this frame: a panic in a cgo callback
	// aborts the process.
	r := panics.Try(func() {
		h := cgo.Handle(handle)
		fn := h.Value().(func())
		h.Delete()
		fn()
	})
	if r != nil {
		fmt.Fprintf(os.Stderr, "gofutures: a C thread's function panicked: %v\n", r)
	}
}

// stackSize returns the size of the calling thread's stack, for tests.
func stackSize() uint64 { return uint64(C.gf_cthread_stack_size()) }
