// Package wire is the framing protocol between the Go supervisor and its
// Python worker processes, spoken over a Unix stream socket.
//
// A frame is a fixed 17-byte little-endian header followed by the payload:
//
//	offset 0  u64 payload length
//	offset 8  u8  kind (1..8, see Kind)
//	offset 9  u64 id
//	offset 17 payload (payload-length bytes)
//
// The length is a u64: a call's arguments or its result may take more than
// 4 GiB (the stdlib moves them; a u32 length, with a 1 GiB reader limit,
// once broke pools on anything over 1 GiB).
//
// The Python side (python/gofutures/_wire.py) is byte-compatible; both
// implementations are checked against tests/wire_vectors.json.
//
// The package does not interpret payloads (pickles, tracebacks, pids): it
// only moves opaque byte strings, of any length a Go slice can have. A
// Reader refuses frames whose declared payload is larger than its own limit
// (by default none but MaxPayload) before allocating anything for them.
package wire

import (
	"errors"
	"math"
	"strconv"
)

// HeaderSize is the size in bytes of a frame header.
const HeaderSize = 17

// MaxPayload is the largest payload a frame may carry: the header's u64
// length field, bounded by what a Go slice can hold.
const MaxPayload = math.MaxInt

// DefaultMaxPayload is the payload limit a Reader applies when NewReader is
// given a limit <= 0: none but MaxPayload. The peers are the pool's own
// workers (authenticated, see procpool), whose payloads are whatever a call
// takes or returns; a limit is for readers of untrusted streams.
const DefaultMaxPayload = MaxPayload

// Kind is the type of a frame. Valid kinds are 1 (KindHello) through 8
// (KindExit); 0 and anything above 8 are rejected by readers and writers.
type Kind uint8

// Frame kinds. The direction and the meaning of the id and the payload are
// fixed by the protocol; the package itself does not enforce directions.
const (
	// KindHello (worker -> parent): id is the token the worker was started
	// with, payload is the worker's pid in ASCII decimal.
	KindHello Kind = 1
	// KindInit (parent -> worker): payload is the pickled initializer spec,
	// or empty when there is no initializer.
	KindInit Kind = 2
	// KindReady (worker -> parent): empty; the initializer succeeded.
	KindReady Kind = 3
	// KindInitFailed (worker -> parent): payload is the UTF-8 traceback of
	// the failed initializer.
	KindInitFailed Kind = 4
	// KindTask (parent -> worker): id is the task id, payload the pickled
	// call.
	KindTask Kind = 5
	// KindResult (worker -> parent): id is the task id, payload the pickled
	// return value.
	KindResult Kind = 6
	// KindError (worker -> parent): id is the task id, payload the pickled
	// exception.
	KindError Kind = 7
	// KindExit (parent -> worker): empty; the worker exits after its current
	// work.
	KindExit Kind = 8
)

var kindNames = [...]string{
	KindHello:      "HELLO",
	KindInit:       "INIT",
	KindReady:      "READY",
	KindInitFailed: "INIT_FAILED",
	KindTask:       "TASK",
	KindResult:     "RESULT",
	KindError:      "ERROR",
	KindExit:       "EXIT",
}

// Valid reports whether k is one of the eight protocol kinds.
func (k Kind) Valid() bool { return k >= KindHello && k <= KindExit }

// String returns the protocol name of k ("HELLO", "INIT_FAILED", ...), or
// "Kind(N)" for an invalid kind.
func (k Kind) String() string {
	if k.Valid() {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Frame is one decoded frame.
type Frame struct {
	Kind Kind
	ID   uint64
	// Payload is owned by the caller: Reader.Next allocates it afresh for
	// every frame, or takes it from the function given to Reader.SetAlloc
	// (then it is whatever that returned, for the caller to give back). It
	// is nil when the frame has no payload.
	Payload []byte
}

// Sentinel errors. Errors returned by this package wrap them (test with
// errors.Is) and add detail: the kind, id and sizes involved.
var (
	// ErrFrameTooLarge: a header declares a payload larger than the
	// reader's limit, or a writer was given more than MaxPayload bytes.
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrBadKind: a header carries kind 0 or a kind above 8, or a writer
	// was asked to send one.
	ErrBadKind = errors.New("wire: invalid frame kind")
	// ErrNoMemory: the Reader's allocator (SetAlloc) had no buffer for a
	// payload.
	ErrNoMemory = errors.New("wire: cannot allocate")
)
