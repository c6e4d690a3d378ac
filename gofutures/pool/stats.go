package pool

import "github.com/gofutures/gofutures/gofutures/internal/taskstats"

// Task counters (ThreadPoolExecutor.stats()). The pool counts what it sees:
// submits, tasks that Shutdown(cancel) takes back, tasks failed because the
// pool broke or Go panicked. Running tasks, their outcomes and latencies are
// counted by the Worker, which knows them (Counters().Start and Done around
// each task it runs).

// Counters returns the pool's task counters, for its workers to update.
func (p *Pool) Counters() *taskstats.Counters { return &p.counters }

// TaskStats returns the pool's counters, its queued tasks and its live
// workers. Workers never restart: WorkerRestarts is 0.
func (p *Pool) TaskStats() taskstats.Snapshot {
	s := p.counters.Snapshot()
	p.mu.Lock()
	s.Queued = int64(p.queue.len())
	s.Workers = int64(p.live)
	p.mu.Unlock()
	return s
}
