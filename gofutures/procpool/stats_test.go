package procpool_test

import (
	"strconv"
	"testing"

	"github.com/gofutures/gofutures/gofutures/procpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitFor polls cond until it holds or 30 s pass.
func TestTaskStatsMixedRun(t *testing.T) {
	tests := []struct {
		name                   string
		quota                  int
		results, errs, cancels int
		restarts               int64
	}{
		{"no quota", 0, 6, 3, 2, 0},
		{"quota 2", 2, 6, 3, 2, 4}, // 9 tasks run, 2 a worker: 5 workers
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(t, procpool.Config{Workers: 1, MaxTasksPerChild: tt.quota, Depth: 1})
			// A slow first task keeps the rest queued, so they can be cancelled.
			require.NoError(t, p.Submit(1, []byte("sleep:300")))
			id := uint64(2)
			var cancellable []uint64
			for range tt.cancels {
				require.NoError(t, p.Submit(id, []byte("echo:c")))
				cancellable = append(cancellable, id)
				id++
			}
			for range tt.results - 1 {
				require.NoError(t, p.Submit(id, []byte("echo:"+strconv.Itoa(int(id)))))
				id++
			}
			for range tt.errs {
				require.NoError(t, p.Submit(id, []byte("error:boom")))
				id++
			}
			s := p.TaskStats()
			assert.Equal(t, int64(tt.results+tt.errs+tt.cancels), s.Submitted)
			for _, c := range cancellable {
				require.True(t, p.Cancel(c), "task %d was queued", c)
			}
			got, broken := collect(t, p, tt.results+tt.errs)
			require.Nil(t, broken)
			require.Len(t, got, tt.results+tt.errs)
			s = p.TaskStats()
			assert.Equal(t, int64(tt.results+tt.errs+tt.cancels), s.Submitted)
			assert.Equal(t, int64(tt.results), s.Completed)
			assert.Equal(t, int64(tt.errs), s.Failed)
			assert.Equal(t, int64(tt.cancels), s.Cancelled)
			assert.Zero(t, s.Queued)
			assert.Zero(t, s.Running)
			// Replacements started ahead and never used do not count.
			assert.Equal(t, tt.restarts, s.WorkerRestarts)
			require.NotNil(t, s.P50)
			require.NotNil(t, s.P99)
			// The 300 ms task is the slowest: the 99th percentile is it.
			assert.InDelta(t, 0.3, *s.P99, 0.3*0.5)
			assert.Less(t, *s.P50, *s.P99)
			waitFor(t, "the counts to settle", func() bool { return p.TaskStats().Workers == 1 })
			finish(t, p)
			s = p.TaskStats()
			assert.Zero(t, s.Workers, "after the pool finished")
			assert.Equal(t, int64(tt.results), s.Completed, "kept after the pool finished")
		})
	}
}

func TestTaskStatsQueuedAndRunning(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 2, Depth: 1})
	for id := uint64(1); id <= 5; id++ {
		require.NoError(t, p.Submit(id, []byte("sleep:400")))
	}
	waitFor(t, "the counts to settle", func() bool { return p.TaskStats().Running == 2 })
	s := p.TaskStats()
	assert.Equal(t, int64(3), s.Queued)
	assert.Equal(t, int64(2), s.Workers)
	_, broken := collect(t, p, 5)
	require.Nil(t, broken)
	finish(t, p)
}

func TestTaskStatsBrokenPoolFailsQueuedAndRunning(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 1, Depth: 1})
	require.NoError(t, p.Submit(1, []byte("echo:x")))
	_, broken := collect(t, p, 1)
	require.Nil(t, broken)
	require.NoError(t, p.Submit(2, []byte("kill")))
	for id := uint64(3); id <= 6; id++ {
		require.NoError(t, p.Submit(id, []byte("echo:y")))
	}
	_, broken = collect(t, p, 5)
	require.NotNil(t, broken)
	s := p.TaskStats()
	assert.Equal(t, int64(6), s.Submitted)
	assert.Equal(t, int64(1), s.Completed)
	assert.Equal(t, int64(5), s.Failed, "the killed task and the 4 queued")
	assert.Zero(t, s.Queued)
	assert.Zero(t, s.Running)
	finish(t, p)
}
