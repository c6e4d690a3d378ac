package pool

import "time"

// Fault injection. Not part of the pool's API: nothing in gofutures calls
// it in normal operation. It stays in the shipped code, not behind
// export_test.go, because Python's test suite needs it in the extension it
// tests (the installed one, as users get it), through
// native.ThreadPoolPanicNextTask, to check that a Go panic inside a worker
// fails only the task it hit and reaches Python with the Go stack, and
// native.ThreadPoolStallBetweenTasks, to check that a worker waiting in Go
// between two tasks does not hold the GIL.

// PanicNextTask makes the next task dequeued panic inside the pool instead of
// running: fault injection for tests of panic recovery. Not for other uses.
func (p *Pool) PanicNextTask() { p.panicNext.Store(true) }

// maybeInjectPanic panics, once, after PanicNextTask; it costs one atomic
// load a task otherwise.
func (p *Pool) maybeInjectPanic() {
	if p.panicNext.CompareAndSwap(true, false) {
		panic("injected fault: task dequeued by a worker that panicked")
	}
}

// StallBetweenTasks makes the next worker that takes a task in the middle of
// a burst (in Go, right after running another) wait d first, once, as Go's
// scheduler can make a thread that returns from C wait for a P there: fault
// injection for tests. Not for other uses.
func (p *Pool) StallBetweenTasks(d time.Duration) { p.stallNext.Store(int64(d)) }

// maybeInjectStall sleeps, once, after StallBetweenTasks; it costs one
// atomic load a task otherwise.
func (p *Pool) maybeInjectStall() {
	if d := p.stallNext.Swap(0); d > 0 {
		time.Sleep(time.Duration(d))
	}
}
