package pybridge

import (
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
	p := pool.New(maxWorkers, newFactory(id), pool.WithSpawner(spawnWorker))
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
