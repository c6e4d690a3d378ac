// Package native is the gopy facade: the only Go API Python sees. It is kept
// small and plain (ints, strings, bools) because gopy cannot carry channels,
// generics or interfaces, and every call costs a GIL release and re-take
// (about 0.4 us).
//
// Contracts every exported function keeps:
//   - it returns (T, error), never a bare error (gopy leaks a string per call
//     on bare-error functions);
//   - it recovers panics: a panic becomes an error whose message starts with
//     "go panic:" and carries the Go stack, so the interpreter survives;
//   - it returns no other error: Python raises every error of this facade
//     as gofutures.GoPanicError. Calls that can fail for the caller's reasons
//     (submits, pool creation) are in the C fast path (pybridge/fastpath.c),
//     whose errors carry their kind (boundary.ErrKind).
//
// The functions in testhooks.go are for gofutures' own tests (fault
// injection, a goroutine count), not part of the API.
package native

// gopyh is what the generated bindings import; importing it here keeps the
// gopy requirement direct in go.mod, which is the form gopy's build writes.
import _ "github.com/go-python/gopy/gopyh"
