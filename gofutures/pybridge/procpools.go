package pybridge

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofutures/gofutures/gofutures/bufpool"
	"github.com/gofutures/gofutures/gofutures/cblock"
	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/procpool"
)

// procEntry is a process pool reachable from Python and its pump.
type procEntry struct {
	pool     *procpool.Pool
	pumpDone chan struct{}
}

var (
	procPools  sync.Map // int64 -> *procEntry
	lastProcID atomic.Int64
	// liveProcPools counts pools not yet finished; the last one to finish
	// frees the cached result buffers.
	liveProcPools atomic.Int64
)

// How a process pool starts its workers.
const (
	// StartSharedZygote forks workers from the process-wide zygote that
	// Python forked before the Go runtime loaded (the 'fork' start method).
	StartSharedZygote = 0
	// StartOwnZygote forks workers from a zygote interpreter started fresh
	// (by the first pool that needs one) rather than forked from the program
	// ('forkserver').
	StartOwnZygote = 1
	// StartExec executes a fresh interpreter per worker ('spawn').
	StartExec = 2
)

// ProcPoolSpec is what Python asks for when it creates a process pool.
type ProcPoolSpec struct {
	Workers, MaxTasksPerChild, Depth    int
	Start                               int      // StartSharedZygote, StartOwnZygote or StartExec
	ZygotePid, ZygoteCmdFd, ZygoteRepFd int      // a zygote to adopt as the shared one, pid 0 if none
	ZygoteArgv, WorkerArgv              []string // commands that start a zygote / a worker
	InitPayload                         []byte
}

// The process-wide zygotes: `forked` is the one Python forked before the Go
// runtime loaded ('fork'), `fresh` a zygote interpreter started by the first
// pool that needs one ('forkserver', or 'fork' when Go was loaded first).
// Like multiprocessing's forkserver they serve every later pool, so only the
// first pool pays for starting an interpreter.
var shared struct {
	sync.Mutex
	forked, fresh *procpool.ZygoteLauncher
}

// sharedZygote returns the zygote for a pool of start mode spec.Start,
// adopting the one described in spec the first time it is given.
func sharedZygote(spec ProcPoolSpec) (*procpool.ZygoteLauncher, error) {
	shared.Lock()
	defer shared.Unlock()
	if spec.Start == StartSharedZygote {
		if spec.ZygotePid > 0 && shared.forked == nil {
			z, err := procpool.AdoptZygote(spec.ZygotePid, spec.ZygoteCmdFd, spec.ZygoteRepFd)
			if err != nil {
				return nil, err
			}
			shared.forked = z
		}
		if shared.forked != nil && shared.forked.Acquire() {
			return shared.forked, nil
		}
	}
	if shared.fresh == nil || !shared.fresh.Acquire() {
		shared.fresh = procpool.NewSharedZygote(spec.ZygoteArgv)
		shared.fresh.Acquire()
	}
	return shared.fresh, nil
}

// NewProcPool starts a process pool and its pump, and returns its id.
func NewProcPool(spec ProcPoolSpec) (int64, error) {
	if spec.Workers < 1 {
		return 0, errors.New(KindInvalid + "max_workers must be greater than 0")
	}
	var launcher procpool.Launcher
	switch spec.Start {
	case StartExec:
		launcher = &procpool.ExecLauncher{Argv: spec.WorkerArgv}
	default: // StartSharedZygote, StartOwnZygote
		z, err := sharedZygote(spec)
		if err != nil {
			return 0, err
		}
		launcher = z
	}
	p, err := procpool.New(procpool.Config{
		Workers:          spec.Workers,
		MaxTasksPerChild: spec.MaxTasksPerChild,
		Depth:            spec.Depth,
		InitPayload:      spec.InitPayload,
		Launcher:         launcher,
		Alloc:            allocPayload,
		Release:          bufpool.Put,
	})
	if err != nil {
		return 0, err
	}
	id := lastProcID.Add(1)
	e := &procEntry{pool: p, pumpDone: make(chan struct{})}
	procPools.Store(id, e)
	go runPump(id, p, e.pumpDone) // recovers itself: done must close whatever happens
	liveProcPools.Add(1)
	panics.Go(func() {
		<-e.pumpDone
		p.Wait(-1)
		procPools.Delete(id)
		if liveProcPools.Add(-1) == 0 {
			cblock.Trim() // no pool left to reuse the result buffers
		}
	}, nil) // nothing to report to: the pool has finished; at worst it stays listed
	return id, nil
}

// ProcPool returns the live pool with this id.
func ProcPool(id int64) (*procpool.Pool, bool) {
	e, ok := procPools.Load(id)
	if !ok {
		return nil, false
	}
	return e.(*procEntry).pool, true
}

// JoinProcPool waits up to timeout (forever if negative) for the pool's
// workers and pump to finish.
func JoinProcPool(id int64, timeout time.Duration) bool {
	v, ok := procPools.Load(id)
	if !ok {
		return true
	}
	e := v.(*procEntry)
	var deadline <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	select {
	case <-e.pumpDone:
	case <-deadline:
		return false
	}
	return e.pool.Wait(timeout)
}

func procSubmit(poolID, taskID int64, payload []byte) error {
	return submitTo(poolID, func(p *procpool.Pool) error { return p.Submit(uint64(taskID), payload) })
}

func procSubmitPieces(poolID, taskID int64, pieces [][]byte, done func()) error {
	return submitTo(poolID, func(p *procpool.Pool) error { return p.SubmitPieces(uint64(taskID), pieces, done) })
}

// submitTo runs submit on pool poolID, giving its errors their kinds.
func submitTo(poolID int64, submit func(*procpool.Pool) error) error {
	p, ok := ProcPool(poolID)
	if !ok {
		return fmt.Errorf(KindInvalid+"no process pool %d (already shut down)", poolID)
	}
	err := submit(p)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, procpool.ErrShutdown):
		return errors.New(KindShutdown + err.Error())
	case errors.Is(err, procpool.ErrBroken):
		return errors.New(KindBroken + strings.TrimPrefix(err.Error(), procpool.ErrBroken.Error()+": "))
	}
	return err
}
