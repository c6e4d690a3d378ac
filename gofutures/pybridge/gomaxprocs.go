package pybridge

import (
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/gofutures/gofutures/gofutures/panics"
)

// workerProcs is the smallest GOMAXPROCS while thread pool workers (Python
// threads) live. Each worker is a goroutine locked to its own OS thread, and
// waking one means handing it a P; with as few Ps as cores (2 here) the
// hand-offs queue up behind each other: 2,000 sleeping tasks on 500 workers
// took 0.27-0.46 s with 2 Ps and 0.14-0.17 s with 8 (benchmarks/,
// thread.sleep); 4 measured the same as 8 cold and within 10% warm.
//
// Without workers, Go's own default (the cores) applies: Go tasks
// (gofutures.http, gofutures.io) are real Go work, and with more Ps than
// cores they crowd the Python threads off the CPUs. At 1,000 HTTP requests
// in flight on 2 cores, 4 Ps made 20,000 submits take 1.0-1.3 s instead of
// 0.4-0.9 s, and a 1 ms heartbeat thread's p99 lag 8-10 ms instead of 5.
const workerProcs = 4

// procsSettle is how long no worker must live before the Ps go back to the
// default: a program that makes a pool per batch of work does not pay for a
// GOMAXPROCS change (a stop-the-world) each time.
const procsSettle = time.Second

// procs raises GOMAXPROCS while workers live (workerStarted, workerStopped),
// unless the user set GOMAXPROCS.
var procs = struct {
	sync.Mutex
	fixed   bool // the user's GOMAXPROCS wins
	workers int
	raised  bool
	lower   *time.Timer // pending lowerProcs, if any
	gen     int         // which lowerProcs is the pending one
}{fixed: os.Getenv("GOMAXPROCS") != ""}

// workerStarted counts a worker thread that is about to start.
func workerStarted() {
	procs.Lock()
	defer procs.Unlock()
	procs.workers++
	if procs.lower != nil {
		procs.lower.Stop() // if it already fired, its gen is stale: it does nothing
		procs.lower = nil
		procs.gen++
	}
	if !procs.fixed && !procs.raised && runtime.GOMAXPROCS(0) < workerProcs {
		runtime.GOMAXPROCS(workerProcs)
		procs.raised = true
	}
}

// workerStopped counts a worker thread that has stopped (or failed to
// start); procsSettle after the last one, the Ps go back to the default.
func workerStopped() {
	procs.Lock()
	defer procs.Unlock()
	procs.workers--
	if procs.workers == 0 && procs.raised && procs.lower == nil {
		procs.gen++
		gen := procs.gen
		procs.lower = time.AfterFunc(procsSettle, func() { _ = panics.Try(func() { lowerProcs(gen) }) })
	}
}

// lowerProcs gives GOMAXPROCS back to Go (its default, which follows the
// CPUs and the cgroup's quota again), if the timer of generation gen is
// still the pending one and no worker lives.
func lowerProcs(gen int) {
	procs.Lock()
	defer procs.Unlock()
	if gen != procs.gen {
		return
	}
	procs.lower = nil
	if procs.workers == 0 && procs.raised {
		runtime.SetDefaultGOMAXPROCS()
		procs.raised = false
	}
}

// reservedProcs is the most Ps the bridge runs with, for reserving Go's
// threads (cthread.ReserveGoThreads).
func reservedProcs() int {
	if procs.fixed {
		return runtime.GOMAXPROCS(0)
	}
	return max(runtime.GOMAXPROCS(0), workerProcs)
}
