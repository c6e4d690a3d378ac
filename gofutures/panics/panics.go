// Package panics turns a recovered Go panic into an error that carries the
// panicking goroutine's stack, so that a panic can cross into Python as an
// ordinary exception instead of aborting the interpreter.
package panics

import (
	"fmt"
	"runtime/debug"
)

// Recovered is a panic caught by Try or Catch: its value and the stack of
// the goroutine that panicked, captured at the point of recovery.
type Recovered struct {
	Value any
	Stack []byte
}

// Error implements error. The message is "go panic: ", the panic value, a
// blank line and the Go stack; the Python side recognizes a Go panic by
// that prefix.
func (r *Recovered) Error() string {
	return fmt.Sprintf("go panic: %v\n\n%s", r.Value, r.Stack)
}

// Unwrap returns the panic value when it was itself an error.
func (r *Recovered) Unwrap() error {
	if err, ok := r.Value.(error); ok {
		return err
	}
	return nil
}

// Try calls f and returns the panic it raised, or nil. Cost: one deferred
// closure (a few ns) when f does not panic.
func Try(f func()) (r *Recovered) {
	defer func() {
		if v := recover(); v != nil {
			r = &Recovered{Value: v, Stack: debug.Stack()}
		}
	}()
	f()
	return nil
}

// Catch is used as `defer panics.Catch(&err)` in a function with a named
// error result: a panic becomes a *Recovered stored in *err.
func Catch(err *error) {
	if v := recover(); v != nil {
		*err = &Recovered{Value: v, Stack: debug.Stack()}
	}
}

// Go runs f in a new goroutine. A Go panic that nothing recovers aborts the
// whole process (the Python interpreter with it), so every goroutine of
// gofutures starts through Go or recovers with Try itself: a panic in f is
// recovered and handed to onPanic, which turns it into an error the user
// sees (a broken pool carrying the Go stack). A panic in onPanic itself is
// recovered and dropped, since nothing is left to report it to.
func Go(f func(), onPanic func(*Recovered)) {
	go func() {
		if r := Try(f); r != nil && onPanic != nil {
			_ = Try(func() { onPanic(r) })
		}
	}()
}
