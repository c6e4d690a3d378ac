package pybridge

/*
#cgo CFLAGS: -fno-fast-math
#include "gf_pump.h"
*/
import "C"

import (
	"runtime"
	"unsafe"

	"github.com/gofutures/gofutures/gofutures/boundary"
	"github.com/gofutures/gofutures/gofutures/bufpool"
	"github.com/gofutures/gofutures/gofutures/cblock"
	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/procpool"
)

// runPump delivers a process pool's events to Python in batches until the
// pool has finished, then closes done. It runs on its own locked OS thread
// with a kept Python thread state: one GIL acquisition per batch.
func runPump(poolID int64, p *procpool.Pool, done chan<- struct{}) {
	runtime.LockOSThread() // never unlocked: the thread ends with the pump
	defer close(done)
	c := (*C.gf_pump)(C.calloc(1, C.size_t(unsafe.Sizeof(C.gf_pump{}))))
	defer C.free(unsafe.Pointer(c))
	attached := C.gf_pump_attach(c) == 1
	// A panic outside deliver (which recovers its own) would leave futures
	// waiting for ever: break the pool and go on pumping, which delivers the
	// Broken event. After a few, only drain, so the pool can finish.
	for tries := 0; ; tries++ {
		r := panics.Try(func() { pumpEvents(c, poolID, p, attached && tries < 3) })
		if r == nil {
			break
		}
		p.Kill("internal error in the completion pump: " + r.Error())
	}
	if attached {
		C.gf_pump_detach(c)
	}
}

// pumpEvents delivers events until the pool has finished (only releases
// them when deliverToPython is false: Python is gone).
func pumpEvents(c *C.gf_pump, poolID int64, p *procpool.Pool, deliverToPython bool) {
	var buf []procpool.Event
	for {
		events, ok := p.NextEvents(buf)
		if !ok {
			return
		}
		buf = events
		if !deliverToPython {
			for _, ev := range events {
				releasePayload(ev.Payload, false)
			}
			continue // drain so the pool can finish
		}
		var rc, kept C.int
		r := panics.Try(func() { rc, kept = deliver(c, poolID, events) })
		if r != nil {
			p.Kill("internal error delivering results: " + r.Error())
		}
		if rc == boundary.PumpClose {
			p.Close()
		}
		for _, ev := range events {
			releasePayload(ev.Payload, r != nil || kept != 0)
		}
		clear(buf)
	}
}

// ProcPumpFailNext makes the next payload a process pool's pump hands to
// Python find no memory (fault injection: its task fails with MemoryError).
func ProcPumpFailNext() { C.gf_pump_fail_next_payload() }

// deliver hands a batch to Python in one C call (gf_pump_deliver): no Go
// runs with the GIL held. The events are described in a Go slice pinned for
// the call with the payloads in Go memory, as cgo requires of Go memory
// that holds Go pointers. Payloads in C memory (cblock) go as memoryviews,
// without a copy; kept is set when Python still exports one of them after
// delivery.
func deliver(c *C.gf_pump, poolID int64, events []procpool.Event) (rc, kept C.int) {
	var pin runtime.Pinner
	defer pin.Unpin()
	described := make([]C.gf_pevent, len(events))
	for i, ev := range events {
		d := &described[i]
		d.kind, d.id = C.int(ev.Kind), C.ulonglong(ev.ID)
		d.data, d.n = pinnedBytes(&pin, ev.Payload)
		if isBlock(ev.Payload) {
			d.lend = 1
		}
	}
	var first *C.gf_pevent // nil for no events: the hook is still called
	if len(described) > 0 {
		first = &described[0]
		pin.Pin(first)
	}
	rc = C.gf_pump_deliver(c, C.longlong(poolID), first, C.size_t(len(described)), &kept)
	return rc, kept
}

// allocPayload provides the buffers the pool reads results into: large ones
// in C memory, which the pump lends to Python without a copy.
func allocPayload(n int) []byte {
	if n >= cblock.MinSize {
		if b := cblock.Get(n); b != nil {
			return b
		}
	}
	return bufpool.Get(n)
}

// releasePayload recycles a delivered payload. A C block that Python may
// still read (kept) is abandoned instead of reused.
func releasePayload(b []byte, kept bool) {
	switch {
	case !isBlock(b):
		bufpool.Put(b)
	case kept:
		cblock.Abandon(b)
	default:
		cblock.Put(b)
	}
}

// isBlock reports whether a payload is in C memory (cblock). Only payloads
// of cblock.MinSize and more can be (allocPayload), so the small ones of the
// per-task path skip cblock's lock.
func isBlock(b []byte) bool { return len(b) >= cblock.MinSize && cblock.Owns(b) }
