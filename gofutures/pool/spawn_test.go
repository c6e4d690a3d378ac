package pool_test

import (
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errNoThread = errors.New("pthread_create: resource temporarily unavailable")

// spawner starts workers on goroutines, failing the calls that fail says to.
type spawner struct {
	mu    sync.Mutex
	calls int
	fail  func(call int) error
}

func (s *spawner) spawn(run func()) error {
	s.mu.Lock()
	call, fail := s.calls, s.fail
	s.calls++
	s.mu.Unlock()
	if fail != nil {
		if err := fail(call); err != nil {
			return err
		}
	}
	go run()
	return nil
}

func (s *spawner) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *spawner) setFail(fail func(call int) error) {
	s.mu.Lock()
	s.fail = fail
	s.mu.Unlock()
}

func always(err error) func(int) error { return func(int) error { return err } }

func TestSubmitThatStartsAWorkerKeepsItsTask(t *testing.T) {
	// CPython's test_cancel_futures_wait_false: a task whose submit started
	// a worker runs even if shutdown(cancel_futures=True) follows at once.
	for _, tc := range []struct {
		name string
		many bool
	}{{"Submit", false}, {"SubmitMany", true}} {
		t.Run(tc.name, func(t *testing.T) {
			for round := 0; round < 200; round++ {
				r := newRecorder()
				p := pool.New(4, r.factory)
				if tc.many {
					require.NoError(t, p.SubmitMany([]int64{1}))
				} else {
					require.NoError(t, p.Submit(1))
				}
				require.Empty(t, p.Shutdown(true), "round %d: the new worker's task was cancelled", round)
				require.True(t, p.Wait(5*time.Second))
				require.Equal(t, []int64{1}, r.ran)
			}
		})
	}
}

func TestWorkerStartsWithTheOldestQueuedTask(t *testing.T) {
	// One worker busy, one more allowed: the worker started for task 3
	// takes task 2 (FIFO), and task 3 stays cancellable like any queued task.
	r := newRecorder()
	s := &spawner{}
	release := make(chan struct{})
	running := map[int64]chan struct{}{1: make(chan struct{}), 2: make(chan struct{})}
	r.run = func(id int64) {
		if c, ok := running[id]; ok {
			close(c)
			<-release
		}
	}
	s.setFail(func(call int) error {
		if call == 1 {
			return errNoThread // task 2 waits for a worker
		}
		return nil
	})
	p := pool.New(2, r.factory, pool.WithSpawner(s.spawn))
	require.NoError(t, p.Submit(1))
	<-running[1]
	require.NoError(t, p.Submit(2), "a live worker will run it")
	assert.Equal(t, 1, p.Stats().Queued)
	require.NoError(t, p.Submit(3)) // starts worker 2, which takes task 2
	<-running[2]
	assert.Equal(t, []int64{3}, p.Shutdown(true))
	close(release)
	require.True(t, p.Wait(5*time.Second))
	assert.Equal(t, []int64{1, 2}, r.ranSorted())
}

func TestNoWorkerCanStart(t *testing.T) {
	panicking := func(int) error { panic("spawner exploded") }
	for _, tc := range []struct {
		name  string
		fail  func(int) error
		many  bool
		cause func(t *testing.T, err error)
	}{
		{"Submit, spawner error", always(errNoThread), false, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, errNoThread)
		}},
		{"SubmitMany, spawner error", always(errNoThread), true, func(t *testing.T, err error) {
			assert.ErrorIs(t, err, errNoThread)
		}},
		{"Submit, spawner panic", panicking, false, func(t *testing.T, err error) {
			var rec *panics.Recovered
			assert.ErrorAs(t, err, &rec)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder()
			s := &spawner{fail: tc.fail}
			p := pool.New(4, r.factory, pool.WithSpawner(s.spawn))
			var err error
			if tc.many {
				err = p.SubmitMany([]int64{1, 2, 3})
			} else {
				err = p.Submit(1)
			}
			require.ErrorIs(t, err, pool.ErrNoThread)
			assert.Equal(t, "can't start new thread", err.Error())
			tc.cause(t, err)
			assert.Equal(t, pool.Stats{}, p.Stats(), "nothing queued, no worker, not broken")

			// Threads are back: the pool works, and the refused tasks never run.
			s.setFail(nil)
			require.NoError(t, p.Submit(10))
			require.NoError(t, p.SubmitMany([]int64{11, 12}))
			p.Shutdown(false)
			require.True(t, p.Wait(5*time.Second))
			assert.Equal(t, []int64{10, 11, 12}, r.ranSorted())
			assert.Empty(t, r.failed)
		})
	}
}

func TestTaskWaitsForALiveWorkerWhenNoMoreStart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers int // live when threads run out
		tasks   int
	}{
		{"one busy worker", 1, 20},
		{"three busy workers", 3, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder()
			// Threads run out after tc.workers: from the start, since a
			// worker starting may reserve a spare one meanwhile (a later
			// setFail would let that spare start, and run the tasks).
			s := &spawner{fail: func(call int) error {
				if call >= tc.workers {
					return errNoThread
				}
				return nil
			}}
			gate := make(chan struct{})
			var started sync.WaitGroup
			started.Add(tc.workers)
			r.run = func(id int64) {
				if id <= int64(tc.workers) {
					started.Done()
					<-gate
				}
			}
			p := pool.New(100, r.factory, pool.WithSpawner(s.spawn))
			for id := 1; id <= tc.workers; id++ {
				require.NoError(t, p.Submit(int64(id)))
			}
			started.Wait()
			for id := tc.workers + 1; id <= tc.tasks; id++ {
				require.NoError(t, p.Submit(int64(id)), "task %d", id)
			}
			assert.Equal(t, tc.tasks-tc.workers, p.Stats().Queued)
			close(gate)
			p.Shutdown(false)
			require.True(t, p.Wait(5*time.Second))
			assert.Equal(t, ids(tc.tasks), r.ranSorted())
			assert.Equal(t, tc.workers, r.started)
		})
	}
}

func TestFailedStartPutsTheTaskBackFirst(t *testing.T) {
	// The first worker starts, no other can: the tasks taken for the others
	// go back to the head of the queue, and the one worker runs them first.
	r := newRecorder()
	s := &spawner{fail: func(call int) error {
		if call > 0 {
			return errNoThread
		}
		return nil
	}}
	var mu sync.Mutex
	var order []int64
	gate := make(chan struct{})
	inFirst := make(chan struct{})
	r.run = func(id int64) {
		if id == 1 {
			close(inFirst) // its own attempts to start workers are over
			<-gate
		}
		mu.Lock()
		order = append(order, id)
		mu.Unlock()
	}
	p := pool.New(8, r.factory, pool.WithSpawner(s.spawn))
	require.NoError(t, p.SubmitMany(ids(100)))
	<-inFirst
	require.Eventually(t, func() bool { return s.count() >= 4 && p.Stats().Queued == 99 }, 5*time.Second, time.Millisecond)
	close(gate)
	p.Shutdown(false)
	require.True(t, p.Wait(5*time.Second))
	assert.Equal(t, 1, r.started)
	require.Len(t, order, 100)
	head := append([]int64(nil), order[:s.count()]...)
	sort.Slice(head, func(i, j int) bool { return head[i] < head[j] })
	assert.Equal(t, ids(s.count()), head, "the tasks put back ran first")
	assert.Equal(t, ids(100)[s.count():], order[s.count():], "then the queue, in order")
}

func TestWorkerIndexesSkipFailedStarts(t *testing.T) {
	var mu sync.Mutex
	var indexes []int
	r := newRecorder()
	s := &spawner{fail: func(call int) error {
		if call == 1 {
			return errNoThread
		}
		return nil
	}}
	gate := make(chan struct{})
	r.run = func(int64) { <-gate }
	p := pool.New(3, func(index int) pool.Worker {
		mu.Lock()
		indexes = append(indexes, index)
		mu.Unlock()
		return r.factory(index)
	}, pool.WithSpawner(s.spawn))
	require.NoError(t, p.Submit(1)) // worker 0
	require.Eventually(t, func() bool { return p.Stats().Workers == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, p.Submit(2)) // its start fails: queued
	require.Eventually(t, func() bool { return s.count() == 2 && p.Stats().Queued == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, p.Submit(3)) // workers 1 and 2
	require.Eventually(t, func() bool { return p.Stats().Workers == 3 }, 5*time.Second, time.Millisecond)
	close(gate)
	p.Shutdown(false)
	require.True(t, p.Wait(5*time.Second))
	sort.Ints(indexes)
	assert.Equal(t, []int{0, 1, 2}, indexes, "a start that failed used no index")
	assert.Equal(t, ids(3), r.ranSorted())
}

func TestFailingStartsUnderConcurrentSubmitsAndShutdown(t *testing.T) {
	// Whatever fails to start, every task a Submit accepted runs exactly once
	// or is handed back by Shutdown, a refused one never runs, and the pool
	// ends.
	for _, tc := range []struct {
		name  string
		every int // every n-th start fails; 1: all after the first
		max   int
	}{
		{"no failures", 0, 4},
		{"half fail", 2, 4},
		{"most fail", 1, 8},
		{"one worker, half fail", 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := 0; round < 20; round++ {
				r := newRecorder()
				s := &spawner{fail: func(call int) error {
					if tc.every > 0 && call > 0 && call%tc.every == 0 {
						return errNoThread
					}
					return nil
				}}
				p := pool.New(tc.max, r.factory, pool.WithSpawner(s.spawn))
				var wg sync.WaitGroup
				var mu sync.Mutex
				accepted := map[int64]bool{}
				for g := 0; g < 4; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < 100; i++ {
							id := int64(g*1000 + i)
							err := p.Submit(id)
							if err == nil {
								mu.Lock()
								accepted[id] = true
								mu.Unlock()
								continue
							}
							if !errors.Is(err, pool.ErrShutdown) && !errors.Is(err, pool.ErrNoThread) {
								t.Errorf("submit %d: %v", id, err)
							}
						}
					}()
				}
				cancelled := p.Shutdown(round%2 == 0)
				wg.Wait()
				require.True(t, p.Wait(5*time.Second), "round %d: the pool never ended", round)
				seen := map[int64]bool{}
				for _, id := range append(r.ranSorted(), cancelled...) {
					assert.False(t, seen[id], "task %d seen twice", id)
					seen[id] = true
				}
				assert.Equal(t, accepted, seen, "round %d", round)
				assert.Equal(t, r.started, r.stopped)
				if r.started > 0 {
					assert.Equal(t, 1, r.lasts, "exactly one worker is told it is the last")
				}
			}
		})
	}
}
