// Package bufpool recycles large byte buffers (task payloads and results
// crossing between Python and worker processes).
//
// Why: a fresh 1 MiB Go allocation per message is zeroed, page-faulted in
// and, after the next GC, returned to the OS, only to be faulted in again
// for the next message; profiling a 1 MiB echo showed page faults, zeroing
// and the heap lock dominating. Buffers of 64 KiB and more are kept in
// power-of-two size classes in sync.Pools (which the GC still empties when
// they go unused). Smaller buffers are plain allocations.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minShift = 16 // 64 KiB: smaller buffers are not pooled
	maxShift = 31 // 2 GiB
)

var classes [maxShift + 1]sync.Pool

// Get returns a buffer of length n (contents undefined). Cost: a sync.Pool
// Get for n >= 64 KiB, else an allocation.
func Get(n int) []byte {
	shift := classOf(n)
	if shift < 0 {
		return make([]byte, n)
	}
	if p, ok := classes[shift].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<shift)
}

// Put returns a buffer obtained from Get; the caller must not use it again.
// Buffers of other capacities are ignored (left to the GC).
func Put(b []byte) {
	c := cap(b)
	if c < 1<<minShift || c&(c-1) != 0 {
		return
	}
	shift := bits.TrailingZeros(uint(c))
	if shift > maxShift {
		return
	}
	b = b[:0]
	classes[shift].Put(&b)
}

// classOf is the size class of n, or -1 when n is not pooled.
func classOf(n int) int {
	if n < 1<<minShift {
		return -1
	}
	shift := bits.Len(uint(n - 1))
	if shift > maxShift {
		return -1
	}
	return shift
}
