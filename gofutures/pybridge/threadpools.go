package pybridge

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/pool"
)

// Thread pools reachable from Python, by id. A pool leaves the registry when
// it is shut down and its last worker has stopped. Reads (every submit) take
// no lock.
var (
	threadPools  sync.Map // int64 -> *pool.Pool
	lastThreadID atomic.Int64
)

// Error kinds: the prefix of an error message tells Python which exception
// class to raise (see python/gofutures/_native.py).
const (
	KindShutdown = "shutdown: "
	KindBroken   = "broken: "
	KindInvalid  = "invalid: "
	KindNoThread = "nothread: "
)

// NewThreadPool starts a pool of at most maxWorkers Python workers and
// returns its id.
func NewThreadPool(maxWorkers int) (int64, error) {
	if maxWorkers < 1 {
		return 0, errors.New(KindInvalid + "max_workers must be greater than 0")
	}
	id := lastThreadID.Add(1)
	p := pool.New(maxWorkers, newFactory(id), pool.WithSpawner(spawnWorker))
	threadPools.Store(id, p)
	panics.Go(func() {
		<-p.Done()
		threadPools.Delete(id)
	}, nil) // nothing to report to: the pool has finished; at worst it stays listed
	return id, nil
}

// ThreadPool returns the live pool with this id, or (nil, false) once it has
// been shut down and all its workers stopped.
func ThreadPool(id int64) (*pool.Pool, bool) {
	p, ok := threadPools.Load(id)
	if !ok {
		return nil, false
	}
	return p.(*pool.Pool), true
}

// ThreadPoolOrError is ThreadPool with an "invalid:" error for a missing pool.
func ThreadPoolOrError(id int64) (*pool.Pool, error) {
	if p, ok := ThreadPool(id); ok {
		return p, nil
	}
	return nil, fmt.Errorf(KindInvalid+"no thread pool %d (already shut down)", id)
}

// WithKind prefixes pool errors with the kind Python maps to an exception.
func WithKind(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pool.ErrShutdown):
		return errors.New(KindShutdown + err.Error())
	case errors.Is(err, pool.ErrBroken):
		return errors.New(KindBroken + err.Error())
	case errors.Is(err, pool.ErrNoThread):
		return errors.New(KindNoThread + pool.ErrNoThread.Error())
	}
	return err
}
