// Package cblock hands out large byte buffers in C memory, pooled.
//
// Why: a result payload delivered to Python without a copy must stay
// readable after the cgo call that passed it returns (Python reads it while
// unpickling, through a memoryview), and cgo forbids C from keeping Go
// pointers. C memory has no such rule. Freshly malloc'd megabytes cost an
// mmap and a page fault per 4 KiB, so freed blocks are kept, in power-of-two
// size classes, up to a bound (MaxCached bytes), and reused.
//
// Blocks are never moved or freed while in use: Get returns a slice over a
// block that stays valid until Put.
package cblock

/*
#include <stdlib.h>
*/
import "C"

import (
	"math/bits"
	"sync"
	"unsafe"
)

const (
	// MinSize is the smallest request served from C memory; callers use
	// ordinary Go buffers below it.
	MinSize  = 64 << 10
	minShift = 16
	maxShift = 31
	// MaxCached bounds the bytes of free blocks kept for reuse.
	MaxCached = 64 << 20
)

var (
	mu     sync.Mutex
	live   = map[unsafe.Pointer]int{} // block -> size class, while handed out
	free   [maxShift + 1][]unsafe.Pointer
	cached int // bytes in free
)

// Get returns n bytes (n >= 1) of C memory, contents undefined. It returns
// nil when n is above 2 GiB or C is out of memory. Cost: a mutex and, if no
// block of the class is free, a malloc.
func Get(n int) []byte {
	if n <= 0 {
		return nil
	}
	shift := max(bits.Len(uint(n-1)), minShift)
	if shift > maxShift {
		return nil
	}
	mu.Lock()
	var p unsafe.Pointer
	if k := len(free[shift]); k > 0 {
		p = free[shift][k-1]
		free[shift] = free[shift][:k-1]
		cached -= 1 << shift
	}
	mu.Unlock()
	if p == nil {
		p = C.malloc(C.size_t(1) << shift)
		if p == nil {
			return nil
		}
	}
	mu.Lock()
	live[p] = shift
	mu.Unlock()
	return unsafe.Slice((*byte)(p), 1<<shift)[:n:n]
}

// Owns reports whether b starts at a block handed out by Get and not yet put back.
func Owns(b []byte) bool {
	if cap(b) == 0 {
		return false
	}
	mu.Lock()
	_, ok := live[unsafe.Pointer(unsafe.SliceData(b))]
	mu.Unlock()
	return ok
}

// Put gives back a block from Get (b must start where Get's slice started)
// and reports whether b was one; other slices are left alone. The block must
// not be used afterwards.
func Put(b []byte) bool {
	if cap(b) == 0 {
		return false
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	mu.Lock()
	shift, ok := live[p]
	if !ok {
		mu.Unlock()
		return false
	}
	delete(live, p)
	keep := cached+1<<shift <= MaxCached
	if keep {
		free[shift] = append(free[shift], p)
		cached += 1 << shift
	}
	mu.Unlock()
	if !keep {
		C.free(p)
	}
	return true
}

// Abandon forgets a block from Get without freeing or reusing it: for a
// block that C code may still read. Its memory is lost.
func Abandon(b []byte) {
	if cap(b) == 0 {
		return
	}
	mu.Lock()
	delete(live, unsafe.Pointer(unsafe.SliceData(b)))
	mu.Unlock()
}

// Trim frees every block kept for reuse (blocks handed out are untouched).
func Trim() {
	mu.Lock()
	var blocks []unsafe.Pointer
	for i := range free {
		blocks = append(blocks, free[i]...)
		free[i] = nil
	}
	cached = 0
	mu.Unlock()
	for _, p := range blocks {
		C.free(p)
	}
}
