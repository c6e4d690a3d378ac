package cthread

import (
	"runtime"
	"sync"

	"github.com/gofutures/gofutures/gofutures/panics"
)

// SpareGoThreads is how many OS threads Go starts, beyond GOMAXPROCS, when the
// extension loads (ReserveGoThreads).
const SpareGoThreads = 4

// ReserveGoThreads makes Go start n OS threads (Ms) now and keep them idle.
//
// Go starts an M whenever it needs one more to run goroutines (a GC worker,
// a goroutine woken while others wait in cgo calls) and aborts the process
// when pthread_create fails ("runtime/cgo: pthread_create failed"). Thread
// pool workers are C threads whose creation fails cleanly (Go in this package), but
// under a low RLIMIT_NPROC, or at the system's thread limit, Go's own need
// for one more M would still abort the interpreter. Ms made while the
// process can still start threads stay in Go's idle list (Go never ends an
// idle M) and are reused first, so that need rarely arises. Each locked,
// blocked goroutine holds an M of its own; once they unlock and return, their
// Ms go idle. Cost: a few milliseconds once, and n idle threads (about 10 KB
// of memory each).
func ReserveGoThreads(n int) {
	var locked, done sync.WaitGroup
	release := make(chan struct{})
	locked.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		panics.Go(func() {
			defer done.Done()
			runtime.LockOSThread()
			locked.Done()
			<-release
			runtime.UnlockOSThread()
		}, nil)
	}
	locked.Wait()
	close(release)
	done.Wait()
}
