package gio

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An Output's pieces past its first offHeapAfter bytes are mapped outside
// Go's heap (anonymous mmap) and unmapped as soon as their owner is done
// with them: Output.Release, or whoever took the Mapped over (a Result,
// whose pieces are unmapped one by one as they are copied into Python's
// bytes object, so a large body is held about once, not twice). Left to
// Go's heap, what Python had already copied stayed until a collection, and
// its pages until the scavenger gave them back: ex.map(gofutures.io.read_file)
// over 16 files of 50 MB peaked at 2.1-2.4x the RSS of the stdlib's
// open().read() and kept 600-800 MB after. The first bytes of an output of
// unknown size stay on the heap, which Go reuses: a fresh mapping costs a
// page fault per 4 KiB and two system calls, and mapping pieces from
// 256 KiB on made results of 256 KiB to a few MiB 1.5-3.7x slower to read.
// An output known to be large (Output.Expect: a file's size, a
// Content-Length) is mapped from its first byte.
const offHeapAfter = 4 << 20

// mapping is one piece's memory outside Go's heap. Once freed is set it is
// unmapped, or about to be by whoever set it (Take).
type mapping struct {
	mem   []byte
	freed atomic.Bool
}

// liveMappings counts the mappings that Go still owns (LiveMappings).
var liveMappings atomic.Int64

// mapPiece returns an empty piece of capacity size outside Go's heap, and
// its mapping; on the heap (and no mapping) when the system refuses one.
func mapPiece(size int) ([]byte, *mapping) {
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return make([]byte, 0, size), nil
	}
	liveMappings.Add(1)
	mem := unsafe.Slice((*byte)(p), size)
	return mem[:0], &mapping{mem: mem}
}

// take marks m as no longer Go's to unmap, and reports whether it was.
func (m *mapping) take() bool {
	if !m.freed.CompareAndSwap(false, true) {
		return false
	}
	liveMappings.Add(-1)
	return true
}

// Mapped is the memory outside Go's heap behind an Output's large pieces.
// Whoever holds those pieces last (the Output, or a Result made of them)
// releases it once done with them: every slice of it is invalid after. A
// second Release does nothing.
type Mapped []*mapping

// Release unmaps the memory that is still m's.
func (m Mapped) Release() {
	for _, x := range m {
		if x.take() {
			Unmap(unsafe.Pointer(unsafe.SliceData(x.mem)), len(x.mem))
		}
	}
}

// Take hands over the mapping that piece starts, if it is m's and not
// released: m forgets it, and the caller unmaps it (Unmap, or munmap in C)
// once done with piece. It returns the mapping's length: 0 when piece is
// not the start of one of m's mappings (it is on Go's heap, or not m's).
func (m Mapped) Take(piece []byte) int {
	if len(piece) == 0 {
		return 0
	}
	for _, x := range m {
		if unsafe.SliceData(x.mem) == unsafe.SliceData(piece) {
			if x.take() {
				return len(x.mem)
			}
			return 0
		}
	}
	return 0
}

// ReleasePiece unmaps the mapping that piece starts, if it is m's and not
// released yet (Take, then Unmap): piece and every slice of it are invalid
// after. A piece on Go's heap is left alone.
func (m Mapped) ReleasePiece(piece []byte) {
	if n := m.Take(piece); n > 0 {
		Unmap(unsafe.Pointer(unsafe.SliceData(piece)), n)
	}
}

// Unmap unmaps length bytes at p, a mapping handed over by Take.
func Unmap(p unsafe.Pointer, length int) { _ = unix.MunmapPtr(p, uintptr(length)) }

// LiveMappings is how many mappings Go still owns, for tests.
func LiveMappings() int64 { return liveMappings.Load() }
