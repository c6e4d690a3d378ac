package pybridge

import (
	"github.com/gofutures/gofutures/gofutures/internal/taskstats"
	"github.com/gofutures/gofutures/gofutures/pool"
	"github.com/gofutures/gofutures/gofutures/procpool"
)

// Pools whose stats Python can read, by id: a pool stays here after it has
// finished (stats() after shutdown reports the final counts) until Python
// releases it, when its executor is collected.
var (
	threadStats registry[*pool.Pool]
	procStats   registry[*procpool.Pool]
)

// ThreadPoolStats returns thread pool id's counters; false once released.
func ThreadPoolStats(id int64) (taskstats.Snapshot, bool) {
	p, ok := threadStats.get(id)
	if !ok {
		return taskstats.Snapshot{}, false
	}
	snap := p.TaskStats()
	if s, ok := GoSched(id); ok {
		snap.Queued += int64(s.Queued()) // Go tasks waiting for a slot
	}
	return snap, true
}

// ProcPoolStats returns process pool id's counters; false once released.
func ProcPoolStats(id int64) (taskstats.Snapshot, bool) {
	p, ok := procStats.get(id)
	if !ok {
		return taskstats.Snapshot{}, false
	}
	return p.TaskStats(), true
}

// ReleaseThreadPoolStats forgets thread pool id's stats.
func ReleaseThreadPoolStats(id int64) { threadStats.remove(id) }

// ReleaseProcPoolStats forgets process pool id's stats.
func ReleaseProcPoolStats(id int64) { procStats.remove(id) }
