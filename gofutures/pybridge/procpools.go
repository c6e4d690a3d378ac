package pybridge

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofutures/gofutures/gofutures/bufpool"
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
)

// How a process pool starts its workers.
const (
	// StartSharedZygote forks workers from the process-wide zygote that
	// Python forked before the Go runtime loaded (the 'fork' start method).
	StartSharedZygote = 0
	// StartOwnZygote executes a fresh zygote for the pool ('forkserver').
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

var shared struct {
	sync.Mutex
	zygote *procpool.ZygoteLauncher
}

// sharedZygote adopts the zygote described in spec (the first time) and
// returns the shared zygote if it is alive.
func sharedZygote(spec ProcPoolSpec) (*procpool.ZygoteLauncher, error) {
	shared.Lock()
	defer shared.Unlock()
	if spec.ZygotePid > 0 && shared.zygote == nil {
		z, err := procpool.AdoptZygote(spec.ZygotePid, spec.ZygoteCmdFd, spec.ZygoteRepFd)
		if err != nil {
			return nil, err
		}
		shared.zygote = z
	}
	if shared.zygote == nil || !shared.zygote.Alive() {
		return nil, nil
	}
	return shared.zygote, nil
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
	case StartSharedZygote:
		z, err := sharedZygote(spec)
		if err != nil {
			return 0, err
		}
		if z != nil {
			launcher = z
			break
		}
		fallthrough // no shared zygote (or it died): a zygote of the pool's own
	default:
		launcher = &procpool.ZygoteLauncher{Argv: spec.ZygoteArgv}
	}
	p, err := procpool.New(procpool.Config{
		Workers:          spec.Workers,
		MaxTasksPerChild: spec.MaxTasksPerChild,
		Depth:            spec.Depth,
		InitPayload:      spec.InitPayload,
		Launcher:         launcher,
		Alloc:            bufpool.Get,
		Release:          bufpool.Put,
	})
	if err != nil {
		return 0, err
	}
	id := lastProcID.Add(1)
	e := &procEntry{pool: p, pumpDone: make(chan struct{})}
	procPools.Store(id, e)
	go runPump(id, p, e.pumpDone)
	go func() {
		<-e.pumpDone
		p.Wait(-1)
		procPools.Delete(id)
	}()
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
	p, ok := ProcPool(poolID)
	if !ok {
		return fmt.Errorf(KindInvalid+"no process pool %d (already shut down)", poolID)
	}
	err := p.Submit(uint64(taskID), payload)
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
