package pybridge

import (
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofutures/gofutures/gofutures/boundary"
	"github.com/gofutures/gofutures/gofutures/bufpool"
	"github.com/gofutures/gofutures/gofutures/cblock"
	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/procpool"
)

// procEntry is a process pool reachable from Python and its pump.
type procEntry struct {
	pool     *procpool.Pool
	pumpDone chan struct{}
	// released closes once the pool's workers are reaped and the descriptors
	// it held for them are closed: a join that returns true has left no
	// descriptor of the pool open in the program.
	released chan struct{}
}

var (
	procPools registry[*procEntry]
	// liveProcPools counts pools not yet finished; the last one to finish
	// frees the cached result buffers.
	liveProcPools atomic.Int64
)

// The process-wide fresh zygote interpreter, started by the first pool that
// needs one ('forkserver'). Like multiprocessing's forkserver it serves every
// later pool, so only the first pool pays for starting an interpreter.
var shared struct {
	sync.Mutex
	fresh *procpool.ZygoteLauncher
}

// zygoteFor returns the zygote launcher of a pool of start mode spec.Start.
func zygoteFor(spec boundary.ProcPoolSpec) (*procpool.ZygoteLauncher, error) {
	if spec.Start == boundary.StartForkedZygote {
		if spec.ZygotePid <= 0 {
			return nil, boundary.Invalidf("a forked zygote's pid is required")
		}
		z, err := procpool.AdoptZygote(spec.ZygotePid, spec.ZygoteCmdFd, spec.ZygoteRepFd)
		if err != nil {
			return nil, err
		}
		z.Acquire()
		return z, nil
	}
	shared.Lock()
	defer shared.Unlock()
	if shared.fresh == nil || !shared.fresh.Acquire() {
		shared.fresh = procpool.NewSharedZygote(boundary.Argv(spec.ZygoteArgv), spec.Env())
		shared.fresh.Acquire()
	}
	return shared.fresh, nil
}

// dupFds duplicates fds (close-on-exec) so that the pool owns its copies.
func dupFds(fds []int) ([]int, error) {
	dups := make([]int, 0, len(fds))
	for _, fd := range fds {
		d, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 3)
		if errno != 0 {
			err := error(errno)
			closeFds(dups)
			return nil, boundary.Invalidf("file descriptor %d for the initializer: %v", fd, err)
		}
		dups = append(dups, int(d))
	}
	return dups, nil
}

func closeFds(fds []int) {
	for _, fd := range fds {
		_ = syscall.Close(fd)
	}
}

// NewProcPool starts a process pool and its pump, and returns its id.
//
// A zygote given in spec (boundary.StartForkedZygote) is the pool's from the start:
// whatever fails, it is ended and reaped here.
func NewProcPool(spec boundary.ProcPoolSpec) (int64, error) {
	var launcher procpool.Launcher
	switch spec.Start {
	case boundary.StartExec:
		launcher = &procpool.ExecLauncher{Argv: boundary.Argv(spec.WorkerArgv), Env: spec.Env()}
	case boundary.StartForkedZygote, boundary.StartFreshZygote:
		z, err := zygoteFor(spec)
		if err != nil {
			return 0, err
		}
		launcher = z
	default:
		return 0, boundary.Invalidf("unknown start mode %d", spec.Start)
	}
	if spec.Workers < 1 {
		_ = launcher.Close()
		return 0, boundary.Invalidf("max_workers must be greater than 0")
	}
	fds, err := dupFds(spec.InitFds)
	if err != nil {
		_ = launcher.Close()
		return 0, err
	}
	p, err := procpool.New(procpool.Config{
		Workers:          spec.Workers,
		MaxTasksPerChild: spec.MaxTasksPerChild,
		MaxWorkerMemory:  spec.MaxWorkerMemory,
		Depth:            spec.Depth,
		InitPayload:      spec.InitPayload,
		InitFds:          fds,
		Launcher:         launcher,
		Alloc:            allocPayload,
		Release:          bufpool.Put,
		TaskTimeout:      time.Duration(spec.TaskTimeoutNs),
		FailTaskOnDeath:  spec.FailTaskOnDeath,
		Replaceable:      spec.Replaceable,
	})
	if err != nil {
		closeFds(fds)
		_ = launcher.Close()
		return 0, err
	}
	e := &procEntry{pool: p, pumpDone: make(chan struct{}), released: make(chan struct{})}
	id := procPools.newID()
	procPools.put(id, e)
	procStats.put(id, p)          // until Python releases it (stats.go)
	go runPump(id, p, e.pumpDone) // recovers itself: done must close whatever happens
	liveProcPools.Add(1)
	panics.Go(func() {
		defer close(e.released) // even after a panic: a join must not hang on it
		<-e.pumpDone
		p.Wait(-1)
		closeFds(fds)
		procPools.remove(id)
		if liveProcPools.Add(-1) == 0 {
			cblock.Trim() // no pool left to reuse the result buffers
		}
	}, nil) // nothing to report to: the pool has finished; at worst it stays listed
	return id, nil
}

// ProcPool returns the live pool with this id.
func ProcPool(id int64) (*procpool.Pool, bool) {
	e, ok := procPools.get(id)
	if !ok {
		return nil, false
	}
	return e.pool, true
}

// JoinProcPool waits for the pool's pump to deliver its last events, up to
// timeout, then for its workers to be reaped and its descriptors closed, up
// to timeout again: up to twice timeout in all (forever if negative). Python
// calls it in short slices (see _native.join), so the bound is not worth a
// shared deadline.
func JoinProcPool(id int64, timeout time.Duration) bool {
	e, ok := procPools.get(id)
	if !ok {
		return true
	}
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
	if !e.pool.Wait(timeout) {
		return false
	}
	// Reaped: the closing goroutine is past its only wait and closes the
	// descriptors at once. Without this, the caller could return from
	// shutdown() with one of them still open for a few milliseconds.
	<-e.released
	return true
}

func procSubmit(poolID, taskID int64, payload []byte) error {
	return submitTo(poolID, func(p *procpool.Pool) error { return p.Submit(uint64(taskID), payload) })
}

func procSubmitPieces(poolID, taskID int64, pieces [][]byte, done func()) error {
	return submitTo(poolID, func(p *procpool.Pool) error { return p.SubmitPieces(uint64(taskID), pieces, done) })
}

// submitTo runs submit on pool poolID.
func submitTo(poolID int64, submit func(*procpool.Pool) error) error {
	p, ok := ProcPool(poolID)
	if !ok {
		return boundary.Invalidf("no process pool %d (already shut down)", poolID)
	}
	return submit(p)
}
