package pool_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gofutures/gofutures/gofutures/internal/taskstats"
	"github.com/gofutures/gofutures/gofutures/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingWorker runs tasks as the Python bridge does: each between
// Counters().Start and Done, with the outcome that outcome gives.
type countingWorker struct {
	p       *pool.Pool
	outcome func(id int64) taskstats.Outcome
	gate    <-chan struct{} // closed: tasks may run
}

func (w *countingWorker) Start() error { return nil }
func (w *countingWorker) Run(id int64, next func() (int64, bool)) error {
	c := w.p.Counters()
	start := taskstats.Now()
	for ok := true; ok; id, ok = next() {
		c.StartAt(start)
		<-w.gate
		start = c.Done(w.outcome(id), start)
	}
	return nil
}
func (w *countingWorker) Fail(int64, error) {}
func (w *countingWorker) Stop(bool)         {}

// newCountingPool returns a pool of workers counting outcome(id) for each task.
func newCountingPool(workers int, outcome func(int64) taskstats.Outcome, gate <-chan struct{}) *pool.Pool {
	var p *pool.Pool
	// p is set before the first Submit, which starts the first worker.
	p = pool.New(workers, func(int) pool.Worker {
		return &countingWorker{p: p, outcome: outcome, gate: gate}
	})
	return p
}

func TestTaskStatsMixedRun(t *testing.T) {
	tests := []struct {
		name                                 string
		workers                              int
		completed, failed, cancelled, queued int64
	}{
		{"one worker", 1, 6, 3, 2, 4},
		{"four workers", 4, 6, 3, 2, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Task ids say how they end: <100 complete, <200 fail, <300 are
			// cancelled futures a worker reaches, >=1000 are taken back by
			// Shutdown(cancel).
			outcome := func(id int64) taskstats.Outcome {
				switch {
				case id < 100:
					return taskstats.Completed
				case id < 200:
					return taskstats.Failed
				}
				return taskstats.Cancelled
			}
			gate := make(chan struct{})
			p := newCountingPool(tt.workers, outcome, gate)
			var submitted []int64
			for i := range tt.completed {
				submitted = append(submitted, i)
			}
			for i := range tt.failed {
				submitted = append(submitted, 100+i)
			}
			for i := range tt.cancelled {
				submitted = append(submitted, 200+i)
			}
			for _, id := range submitted {
				require.NoError(t, p.Submit(id))
			}
			close(gate)
			waitUntil(t, func() bool {
				s := p.TaskStats()
				return s.Completed+s.Failed+s.Cancelled == int64(len(submitted))
			})
			// Tasks that wait behind a blocked one, then taken back.
			block := make(chan struct{})
			p2 := newCountingPool(1, outcome, block)
			for i := range tt.queued + 1 {
				require.NoError(t, p2.Submit(1000+i))
			}
			waitUntil(t, func() bool { return p2.TaskStats().Running == 1 })
			s2 := p2.TaskStats()
			assert.Equal(t, tt.queued, s2.Queued)
			assert.Equal(t, int64(1), s2.Workers)
			assert.Len(t, p2.Shutdown(true), int(tt.queued))
			close(block)
			require.True(t, p2.Wait(10*time.Second))
			s2 = p2.TaskStats()
			assert.Equal(t, tt.queued+1, s2.Submitted)
			assert.Equal(t, tt.queued+1, s2.Cancelled, "taken back, and the one run reported cancelled")
			assert.Zero(t, s2.Queued)
			assert.Zero(t, s2.Workers)

			p.Shutdown(false)
			require.True(t, p.Wait(10*time.Second))
			s := p.TaskStats()
			assert.Equal(t, int64(len(submitted)), s.Submitted)
			assert.Equal(t, tt.completed, s.Completed)
			assert.Equal(t, tt.failed, s.Failed)
			assert.Equal(t, tt.cancelled, s.Cancelled)
			assert.Zero(t, s.Running)
			assert.Zero(t, s.WorkerRestarts)
			require.NotNil(t, s.P50)
			assert.LessOrEqual(t, *s.P50, *s.P99)
		})
	}
}

func TestTaskStatsBrokenAndPanic(t *testing.T) {
	r := newRecorder()
	r.startErr = func(int) error { return errors.New("no start") }
	p := pool.New(1, r.factory)
	require.NoError(t, p.Submit(1))
	require.True(t, waitUntilOK(func() bool { return p.TaskStats().Failed == 1 }))
	assert.ErrorIs(t, p.Submit(2), pool.ErrBroken)
	s := p.TaskStats()
	assert.Equal(t, int64(1), s.Submitted, "a refused submit is not counted")
	p.Shutdown(false)
	require.True(t, p.Wait(10*time.Second))

	p = newCountingPool(1, func(int64) taskstats.Outcome { return taskstats.Completed }, closedGate())
	p.PanicNextTask()
	require.NoError(t, p.Submit(1))
	p.Shutdown(false)
	require.True(t, p.Wait(10*time.Second))
	s = p.TaskStats()
	assert.Equal(t, int64(1), s.Failed, "a Go panic fails the task")
	assert.Zero(t, s.Running)
}

func closedGate() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func waitUntilOK(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	require.True(t, waitUntilOK(cond), "timed out")
}

// BenchmarkSubmitCounted is BenchmarkSubmit1 with the per-task counting
// that the Python bridge's workers do: compare the two for its cost
// (allocations: none).
func BenchmarkSubmitCounted(b *testing.B) {
	b.ReportAllocs()
	p := newCountingPool(1, func(int64) taskstats.Outcome { return taskstats.Completed }, closedGate())
	for i := 0; i < b.N; i++ {
		_ = p.Submit(int64(i))
	}
	p.Shutdown(false)
	p.Wait(-1)
}
