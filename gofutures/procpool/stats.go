package procpool

import "github.com/gofutures/gofutures/gofutures/internal/taskstats"

// Task counters (ProcessPoolExecutor.stats()), kept under pool.mu where the
// pool already holds it, with no allocation per task:
//
//   - submitted: Submit; cancelled: Cancel that took a task back;
//   - completed and failed: a worker's RESULT and ERROR frames, and failed
//     also counts every task queued or in flight when the pool broke;
//   - queued and running are read from the queue and the slots' in-flight
//     sets; workers from the slots' live processes;
//   - worker_restarts: every worker that takes over a slot after another
//     (workerStartedLocked, called where a slot installs a new worker,
//     whatever the reason the one before it left);
//   - latency: from the task's hand-over to its worker (takeLocked) to its
//     result or error being read.

// taskStart is when a task in flight was handed to its worker.
type taskStart struct {
	id    uint64
	start int64 // taskstats.Now()
}

// TaskStats returns the pool's counters, queued and running tasks and live
// workers.
func (p *Pool) TaskStats() taskstats.Snapshot {
	s := p.counters.Snapshot()
	p.mu.Lock()
	defer p.mu.Unlock()
	s.Queued = int64(len(p.queued))
	s.Running = 0
	for _, sl := range p.slots {
		if p.broken == "" {
			s.Running += int64(len(sl.inflight))
		}
		if sl.proc != nil {
			s.Workers++
		}
	}
	return s
}

// countBrokenLocked counts the tasks a breaking pool fails: those queued
// and those in flight. pool.mu must be held, before the queue is dropped.
func (p *Pool) countBrokenLocked() {
	n := len(p.queued)
	for _, s := range p.slots {
		n += len(s.inflight)
	}
	p.counters.Failed(n)
}

// workerStartedLocked is called once per worker that takes over the slot;
// every worker after the slot's first is a restart. pool.mu must be held.
func (s *slot) workerStartedLocked() {
	if s.workers > 0 {
		s.pool.counters.Restarted()
	}
	s.workers++
	clear(s.starts)
	s.starts = s.starts[:0]
}

// sentLocked notes that task id was handed to the slot's worker.
func (s *slot) sentLocked(id uint64) {
	if s.starts == nil {
		s.starts = make([]taskStart, 0, s.pool.cfg.Depth) // in flight: at most Depth
	}
	s.starts = append(s.starts, taskStart{id, taskstats.Now()})
}

// doneLocked counts task id's outcome as reported by the worker, unless the
// pool broke (it then counted the task as failed already).
func (s *slot) doneLocked(id uint64, kind EventKind) {
	start := taskstats.Now()
	for i, t := range s.starts {
		if t.id == id {
			start = t.start
			last := len(s.starts) - 1
			s.starts[i] = s.starts[last]
			s.starts = s.starts[:last]
			break
		}
	}
	if s.pool.broken != "" {
		return
	}
	outcome := taskstats.Completed
	switch kind {
	case EventError:
		outcome = taskstats.Failed
	case EventTerminated:
		outcome = taskstats.Cancelled
	}
	s.pool.counters.Finish(outcome, start)
}

// endedLocked counts task id ended by the pool itself (fate.go): a
// terminated task as cancelled, one past its deadline or whose worker died
// as failed. pool.mu must be held.
func (s *slot) endedLocked(id uint64, kind EventKind) {
	if kind != EventTerminated {
		kind = EventError
	}
	s.doneLocked(id, kind)
}
