package native

import (
	"runtime"
	"time"

	"github.com/gofutures/gofutures/gofutures/gotask"
	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/pybridge"
)

// Test hooks: not part of gofutures' API, and called by nothing but
// Python's test suite (tests/test_runtime.py, through the private
// gofutures._native.call). gopy exports every exported function of this
// package, so they are in the extension; they stay there, and not behind a
// build tag, because the suite tests the extension users install, not a
// special build. Each is harmless if called: it reads a counter, or makes
// one call or one task fail with a GoPanicError, or makes one worker wait.

// Goroutines returns the number of live goroutines, for leak tests.
func Goroutines() (n int64, err error) {
	defer panics.Catch(&err)
	return int64(runtime.NumGoroutine()), nil
}

// GoMaxProcs returns the number of Ps Go runs with (GOMAXPROCS), for the
// tests of the bridge's policy (pybridge/gomaxprocs.go).
func GoMaxProcs() (n int64, err error) {
	defer panics.Catch(&err)
	return int64(runtime.GOMAXPROCS(0)), nil
}

// DebugPanic panics inside an exported call with the given message: fault
// injection, so tests can check that the panic reaches Python as an
// exception with the Go stack and the interpreter survives.
func DebugPanic(message string) (ok bool, err error) {
	defer panics.Catch(&err)
	panic(message)
}

// ThreadPoolPanicNextTask makes the next task of pool id panic inside Go:
// fault injection, so tests can check that a Go panic in a worker becomes a
// Python exception on that task's future. It reports false when the pool
// is gone.
func ThreadPoolPanicNextTask(id int64) (ok bool, err error) {
	defer panics.Catch(&err)
	p, found := pybridge.ThreadPool(id)
	if found {
		p.PanicNextTask()
	}
	return found, nil
}

// ThreadPoolStallBetweenTasks makes the next worker of pool id that takes a
// task in the middle of a burst wait ms milliseconds in Go first, as Go's
// scheduler can make it wait for a P there: fault injection, so tests can
// check that other Python threads run meanwhile (the worker does not hold
// the GIL). It reports false when the pool is gone.
func ThreadPoolStallBetweenTasks(id, ms int64) (ok bool, err error) {
	defer panics.Catch(&err)
	p, found := pybridge.ThreadPool(id)
	if found {
		p.StallBetweenTasks(time.Duration(ms) * time.Millisecond)
	}
	return found, nil
}

// GoTaskPanicNext makes the next Go task (gofutures.io, gofutures.http)
// panic inside Go: fault injection, so tests can check that it becomes a
// GoPanicError carrying the Go stack, direct or submitted.
func GoTaskPanicNext() (ok bool, err error) {
	defer panics.Catch(&err)
	gotask.PanicNext()
	return true, nil
}

// ProcPumpFailNext makes the next result a process pool's pump hands to
// Python find no memory for its payload: fault injection, so tests can
// check that its task fails with MemoryError and the pool goes on.
func ProcPumpFailNext() (ok bool, err error) {
	defer panics.Catch(&err)
	pybridge.ProcPumpFailNext()
	return true, nil
}

// GoPumpFailNext makes the next batch of Go task results fail on its way
// to Python ("describe": a Go panic before the pump's C call; "memory": no
// memory for the first body): fault injection, so tests can check that
// every task still ends (GoPanicError, MemoryError) and the pump goes on.
func GoPumpFailNext(stage string) (ok bool, err error) {
	defer panics.Catch(&err)
	pybridge.PumpFailNext(stage)
	return true, nil
}

// GoOpPanicNext makes the next call of one of the functions a direct Go
// task call goes through ("start", "inline", "wait" or "copy") panic: fault
// injection, so tests can check that it becomes a GoPanicError and the
// interpreter lives on.
func GoOpPanicNext(name string) (ok bool, err error) {
	defer panics.Catch(&err)
	pybridge.OpPanicNext(name)
	return true, nil
}
