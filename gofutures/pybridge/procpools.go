package pybridge

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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

// ProcPoolSpec is what Python asks for when it creates a process pool.
type ProcPoolSpec struct {
	Workers, MaxTasksPerChild, Depth int
	Spawn                            bool     // exec every worker instead of forking a zygote
	ZygoteArgv, WorkerArgv           []string // commands that start a zygote / a worker
	InitPayload                      []byte
}

// NewProcPool starts a process pool and its pump, and returns its id.
func NewProcPool(spec ProcPoolSpec) (int64, error) {
	if spec.Workers < 1 {
		return 0, errors.New(KindInvalid + "max_workers must be greater than 0")
	}
	var launcher procpool.Launcher
	if spec.Spawn {
		launcher = &procpool.ExecLauncher{Argv: spec.WorkerArgv}
	} else {
		launcher = &procpool.ZygoteLauncher{Argv: spec.ZygoteArgv}
	}
	p, err := procpool.New(procpool.Config{
		Workers:          spec.Workers,
		MaxTasksPerChild: spec.MaxTasksPerChild,
		Depth:            spec.Depth,
		InitPayload:      spec.InitPayload,
		Launcher:         launcher,
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
