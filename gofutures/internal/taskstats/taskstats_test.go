package taskstats

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBucketsCoverEveryDurationInOrder(t *testing.T) {
	prev := -1
	for _, ns := range []uint64{0, 1, 7, 8, 9, 15, 16, 17, 1000, 1 << 20, 1<<40 + 12345, math.MaxInt64, math.MaxUint64} {
		i := bucket(ns)
		require.Less(t, i, numBuckets, "ns=%d", ns)
		require.GreaterOrEqual(t, i, prev, "ns=%d", ns)
		lower, width := bounds(i)
		assert.LessOrEqual(t, lower, ns, "ns=%d", ns)
		assert.Less(t, ns-lower, width, "ns=%d", ns)
		prev = i
	}
}

func TestQuantiles(t *testing.T) {
	tests := []struct {
		name     string
		samples  map[time.Duration]int // duration -> how many
		p50, p99 time.Duration
	}{
		{"one", map[time.Duration]int{time.Millisecond: 1}, time.Millisecond, time.Millisecond},
		{"uniform", map[time.Duration]int{10 * time.Microsecond: 50, 20 * time.Microsecond: 50}, 10 * time.Microsecond, 20 * time.Microsecond},
		{"tail", map[time.Duration]int{time.Microsecond: 98, time.Second: 2}, time.Microsecond, time.Second},
		{"zero", map[time.Duration]int{0: 3}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for d, n := range tt.samples {
				for range n {
					h.Record(d)
				}
			}
			ds, ok := h.Quantiles(0.5, 0.99)
			require.True(t, ok)
			assert.InEpsilon(t, float64(tt.p50)+1, float64(ds[0])+1, 1.0/16)
			assert.InEpsilon(t, float64(tt.p99)+1, float64(ds[1])+1, 1.0/16)
		})
	}
}

func TestQuantilesOfNothing(t *testing.T) {
	var h Histogram
	_, ok := h.Quantiles(0.5)
	assert.False(t, ok)
	var c Counters
	s := c.Snapshot()
	assert.Nil(t, s.P50)
	assert.Nil(t, s.P99)
}

func TestCounters(t *testing.T) {
	var c Counters
	c.Submitted(5)
	started := []int64{c.Start(), c.Start(), c.Start()}
	c.Start()
	assert.Equal(t, int64(4), c.Snapshot().Running)
	c.NotRun()
	assert.Equal(t, int64(3), c.Snapshot().Running)
	c.Done(Completed, started[0])
	c.Done(Failed, started[1])
	c.Done(Cancelled, started[2])
	c.Cancelled(1)
	c.Failed(1)
	c.Restarted()
	s := c.Snapshot()
	assert.Equal(t, Snapshot{
		Submitted: 5, Completed: 1, Failed: 2, Cancelled: 2, WorkerRestarts: 1,
		P50: s.P50, P99: s.P99,
	}, s)
	require.NotNil(t, s.P50)
	assert.GreaterOrEqual(t, *s.P99, *s.P50)
}

func TestCountersConcurrently(t *testing.T) {
	var c Counters
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				c.Submitted(1)
				c.Done(Completed, c.Start())
			}
		}()
	}
	wg.Wait()
	s := c.Snapshot()
	assert.Equal(t, int64(8000), s.Submitted)
	assert.Equal(t, int64(8000), s.Completed)
	assert.Equal(t, int64(0), s.Running)
}

// BenchmarkTask is the counters' cost per task: what a pool adds to each.
func BenchmarkTask(b *testing.B) {
	b.ReportAllocs()
	var c Counters
	for b.Loop() {
		c.Submitted(1)
		c.Done(Completed, c.Start())
	}
}

func BenchmarkTaskParallel(b *testing.B) {
	b.ReportAllocs()
	var c Counters
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Submitted(1)
			c.Done(Completed, c.Start())
		}
	})
}
