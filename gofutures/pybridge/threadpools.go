package pybridge

import (
	"time"

	"github.com/gofutures/gofutures/gofutures/boundary"
	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/pool"
)

// Thread pools reachable from Python, by id. A pool leaves the registry when
// it is shut down and its last worker has stopped.
var threadPools registry[*pool.Pool]

// NewThreadPool starts a pool of at most maxWorkers Python workers and
// returns its id.
func NewThreadPool(maxWorkers int) (int64, error) {
	if maxWorkers < 1 {
		return 0, boundary.Invalidf("max_workers must be greater than 0")
	}
	id := threadPools.newID()
	var p *pool.Pool
	p = pool.New(maxWorkers, func(index int) pool.Worker { // called once p is set
		return &worker{pool: id, index: index, returning: p.Returning()}
	}, pool.WithSpawner(spawnWorker), pool.WithReturningWorkers())
	threadPools.put(id, p)
	threadStats.put(id, p)                   // until Python releases it (stats.go)
	newGoSched(id, maxWorkers, p.Counters()) // Go tasks count in the pool's stats
	panics.Go(func() {
		<-p.Done()
		threadPools.remove(id)
	}, nil) // nothing to report to: the pool has finished; at worst it stays listed
	return id, nil
}

// ThreadPool returns the live pool with this id, or (nil, false) once it has
// been shut down and all its workers stopped.
func ThreadPool(id int64) (*pool.Pool, bool) { return threadPools.get(id) }

// ThreadPoolOrError is ThreadPool with an invalid-argument error for a
// missing pool.
func ThreadPoolOrError(id int64) (*pool.Pool, error) {
	if p, ok := ThreadPool(id); ok {
		return p, nil
	}
	return nil, boundary.Invalidf("no thread pool %d (already shut down)", id)
}

// ShutdownThreadPool refuses new tasks of pool id; with cancel it returns
// the ids of the tasks still queued, for Python to cancel. It does not wait.
// The pool's Go tasks (gofutures.io, gofutures.http) are shut down alike;
// their ids follow those of the workers' queue, and goTasks counts them.
func ShutdownThreadPool(id int64, cancel bool) (ids []int64, goTasks int) {
	if p, ok := ThreadPool(id); ok {
		ids = p.Shutdown(cancel)
	}
	if s, ok := GoSched(id); ok {
		taken := s.Shutdown(cancel)
		ids, goTasks = append(ids, taken...), len(taken)
	}
	return ids, goTasks
}

// JoinThreadPool waits up to timeout (forever if negative) for the workers
// of a shut down pool to stop and its Go tasks to be delivered, and reports
// whether they did (it may wait up to twice timeout).
func JoinThreadPool(id int64, timeout time.Duration) bool {
	if p, ok := ThreadPool(id); ok && !p.Wait(timeout) {
		return false
	}
	if s, ok := GoSched(id); ok && !s.Wait(timeout) {
		return false
	}
	return true
}
