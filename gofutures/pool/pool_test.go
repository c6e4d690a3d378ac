package pool_test

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Worker factory that records what every worker did.
type recorder struct {
	mu       sync.Mutex
	ran      []int64
	failed   map[int64]error
	started  int
	stopped  int
	lasts    int
	startErr func(index int) error
	// runStartErr fails a worker's first Run (a late start, as in pybridge).
	runStartErr func(index int) error
	run         func(id int64)
	// returning, if set, is the pool's Returning(): a worker adds 1 after
	// each task, then calls returned (the task's result becomes visible, as
	// the Python bridge releases the GIL only after adding), and waits
	// returnDelay before it asks for the next.
	returning   *atomic.Int64
	returned    func(id int64)
	returnDelay time.Duration
}

func newRecorder() *recorder { return &recorder{failed: map[int64]error{}} }

func (r *recorder) factory(index int) pool.Worker { return &fakeWorker{r: r, index: index} }

func (r *recorder) ranSorted() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]int64(nil), r.ran...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

type fakeWorker struct {
	r     *recorder
	index int
}

func (w *fakeWorker) Start() error {
	w.r.mu.Lock()
	w.r.started++
	w.r.mu.Unlock()
	if w.r.startErr != nil {
		return w.r.startErr(w.index)
	}
	return nil
}

func (w *fakeWorker) Run(id int64, next func() (int64, bool)) error {
	if w.r.runStartErr != nil {
		if err := w.r.runStartErr(w.index); err != nil {
			return err
		}
	}
	for ok := true; ok; id, ok = next() {
		if w.r.run != nil {
			w.r.run(id)
		}
		w.r.mu.Lock()
		w.r.ran = append(w.r.ran, id)
		w.r.mu.Unlock()
		if w.r.returning != nil {
			w.r.returning.Add(1)
			if w.r.returned != nil {
				w.r.returned(id)
			}
			time.Sleep(w.r.returnDelay)
		}
	}
	return nil
}

func (w *fakeWorker) Fail(id int64, err error) {
	w.r.mu.Lock()
	w.r.failed[id] = err
	w.r.mu.Unlock()
}

func (w *fakeWorker) Stop(last bool) {
	w.r.mu.Lock()
	w.r.stopped++
	if last {
		w.r.lasts++
	}
	w.r.mu.Unlock()
}

func ids(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

func TestRunsEveryTask(t *testing.T) {
	for _, tc := range []struct {
		workers, tasks int
		many           bool
	}{
		{1, 1, false}, {1, 100, false}, {4, 1000, false}, {32, 5000, false}, {4, 1000, true},
	} {
		t.Run(fmt.Sprintf("workers=%d tasks=%d many=%v", tc.workers, tc.tasks, tc.many), func(t *testing.T) {
			r := newRecorder()
			p := pool.New(tc.workers, r.factory)
			if tc.many {
				require.NoError(t, p.SubmitMany(ids(tc.tasks)))
			} else {
				for _, id := range ids(tc.tasks) {
					require.NoError(t, p.Submit(id))
				}
			}
			assert.Empty(t, p.Shutdown(false))
			require.True(t, p.Wait(10*time.Second))
			assert.Equal(t, ids(tc.tasks), r.ranSorted())
			assert.LessOrEqual(t, r.started, tc.workers)
			assert.Equal(t, r.started, r.stopped)
			assert.Equal(t, 1, r.lasts, "exactly one worker is told it is the last")
		})
	}
}

func TestSingleWorkerIsFIFO(t *testing.T) {
	r := newRecorder()
	p := pool.New(1, r.factory)
	for _, id := range ids(500) {
		require.NoError(t, p.Submit(id))
	}
	p.Shutdown(false)
	require.True(t, p.Wait(-1))
	assert.Equal(t, ids(500), r.ran)
}

func TestIdleWorkerIsReusedBeforeStartingAnother(t *testing.T) {
	r := newRecorder()
	p := pool.New(8, r.factory)
	for _, id := range ids(20) {
		require.NoError(t, p.Submit(id))
		require.Eventually(t, func() bool { s := p.Stats(); return s.Queued == 0 && s.Idle == s.Workers }, 5*time.Second, time.Millisecond)
	}
	p.Shutdown(false)
	require.True(t, p.Wait(5*time.Second))
	assert.Equal(t, 1, r.started, "sequential submits are served by one worker")
}

func TestShutdownStopsEveryIdleWorker(t *testing.T) {
	// Shutdown wakes one idle worker and each that exits wakes the next:
	// none may be left parked.
	for _, workers := range []int{1, 2, 64} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			r := newRecorder()
			var all sync.WaitGroup
			all.Add(workers)
			r.run = func(int64) { all.Done(); all.Wait() } // every worker holds a task at once
			p := pool.New(workers, r.factory)
			for _, id := range ids(workers) {
				require.NoError(t, p.Submit(id))
			}
			require.Eventually(t, func() bool { s := p.Stats(); return s.Workers == workers && s.Idle == workers },
				5*time.Second, time.Millisecond)
			p.Shutdown(false)
			require.True(t, p.Wait(10*time.Second))
			assert.Equal(t, workers, r.started)
			assert.Equal(t, workers, r.stopped)
			assert.Equal(t, 1, r.lasts)
		})
	}
}

func TestSubmitCountsOnAWorkerReturningFromATask(t *testing.T) {
	// A program that submits the next task as soon as a result arrives
	// finds the worker that produced it on its way back, not idle yet: the
	// stdlib's submit counts on it (its idle semaphore) and starts no
	// second worker.
	r := newRecorder()
	p := pool.New(8, r.factory, pool.WithReturningWorkers())
	r.returning, r.returnDelay = p.Returning(), 2*time.Millisecond
	done := make(chan int64, 1)
	r.returned = func(id int64) { done <- id }
	for _, id := range ids(20) {
		require.NoError(t, p.Submit(id))
		require.Equal(t, id, <-done)
	}
	p.Shutdown(false)
	require.True(t, p.Wait(5*time.Second))
	assert.Equal(t, 1, r.started, "one worker serves tasks submitted one after another")
	assert.Equal(t, ids(20), r.ran)
}

func TestReturningWorkersUnderConcurrentSubmits(t *testing.T) {
	// Counting on returning workers must neither lose a task nor leave one
	// waiting while workers may start: every task runs, at most max workers
	// start, and shutdown ends them all.
	for _, tc := range []struct{ workers, submitters, each int }{{1, 4, 200}, {4, 8, 250}, {16, 4, 500}} {
		t.Run(fmt.Sprintf("workers=%d", tc.workers), func(t *testing.T) {
			r := newRecorder()
			p := pool.New(tc.workers, r.factory, pool.WithReturningWorkers())
			r.returning, r.returnDelay = p.Returning(), 50*time.Microsecond
			var wg sync.WaitGroup
			for s := range tc.submitters {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range tc.each {
						assert.NoError(t, p.Submit(int64(s*tc.each+i+1)))
					}
				}()
			}
			wg.Wait()
			p.Shutdown(false)
			require.True(t, p.Wait(10*time.Second))
			assert.Equal(t, ids(tc.submitters*tc.each), r.ranSorted())
			assert.LessOrEqual(t, r.started, tc.workers)
			assert.Equal(t, r.started, r.stopped)
			assert.Equal(t, int64(0), p.Returning().Load(), "every returning worker took back its count")
		})
	}
}

func TestSubmitAfterShutdown(t *testing.T) {
	r := newRecorder()
	p := pool.New(2, r.factory)
	p.Shutdown(false)
	assert.ErrorIs(t, p.Submit(1), pool.ErrShutdown)
	assert.ErrorIs(t, p.SubmitMany(ids(3)), pool.ErrShutdown)
	assert.True(t, p.Wait(0), "a pool that never started a worker is done at once")
	p.Shutdown(true) // idempotent
}

func TestShutdownCancelReturnsQueuedInOrder(t *testing.T) {
	r := newRecorder()
	release := make(chan struct{})
	running := make(chan struct{})
	r.run = func(id int64) {
		if id == 1 {
			close(running)
			<-release
		}
	}
	p := pool.New(1, r.factory)
	require.NoError(t, p.SubmitMany(ids(10)))
	<-running
	cancelled := p.Shutdown(true)
	assert.Equal(t, ids(10)[1:], cancelled)
	assert.False(t, p.Wait(10*time.Millisecond), "the running task holds the pool")
	close(release)
	require.True(t, p.Wait(5*time.Second))
	assert.Equal(t, []int64{1}, r.ran)
}

func TestShutdownWithoutCancelRunsQueued(t *testing.T) {
	r := newRecorder()
	gate := make(chan struct{})
	r.run = func(int64) { <-gate }
	p := pool.New(2, r.factory)
	require.NoError(t, p.SubmitMany(ids(50)))
	assert.Empty(t, p.Shutdown(false))
	close(gate)
	require.True(t, p.Wait(5*time.Second))
	assert.Equal(t, ids(50), r.ranSorted())
}

func TestConcurrentSubmitAndShutdown(t *testing.T) {
	for round := 0; round < 20; round++ {
		r := newRecorder()
		p := pool.New(4, r.factory)
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted := map[int64]bool{}
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					id := int64(g*1000 + i)
					if p.Submit(id) == nil {
						mu.Lock()
						accepted[id] = true
						mu.Unlock()
					}
				}
			}(g)
		}
		cancelled := p.Shutdown(round%2 == 0)
		wg.Wait()
		require.True(t, p.Wait(5*time.Second))
		// Every accepted task either ran or was handed back: nothing is lost.
		seen := map[int64]bool{}
		for _, id := range append(r.ranSorted(), cancelled...) {
			assert.False(t, seen[id], "task %d seen twice", id)
			seen[id] = true
		}
		assert.Equal(t, accepted, seen)
	}
}

func TestFailedStartBreaksPool(t *testing.T) {
	r := newRecorder()
	r.startErr = func(int) error { return errors.New("initializer raised") }
	p := pool.New(1, r.factory)
	require.NoError(t, p.SubmitMany(ids(5)))
	require.Eventually(t, func() bool { return p.Stats().Broken }, 5*time.Second, time.Millisecond)
	assert.ErrorIs(t, p.Submit(99), pool.ErrBroken)
	p.Shutdown(false)
	require.True(t, p.Wait(5*time.Second))
	assert.Empty(t, r.ran)
	require.Len(t, r.failed, 5, "every queued task fails, none is lost")
	for _, err := range r.failed {
		assert.ErrorIs(t, err, pool.ErrBroken)
	}
}

func TestFailedLateStartBreaksPoolAndFailsItsTask(t *testing.T) {
	r := newRecorder()
	r.runStartErr = func(int) error { return errors.New("initializer raised in first Run") }
	p := pool.New(1, r.factory)
	require.NoError(t, p.SubmitMany(ids(4)))
	require.Eventually(t, func() bool { return p.Stats().Broken }, 5*time.Second, time.Millisecond)
	p.Shutdown(false)
	require.True(t, p.Wait(5*time.Second))
	assert.Empty(t, r.ran)
	require.Len(t, r.failed, 4, "the task the worker took fails too")
}

func TestPanicInStartBreaksPool(t *testing.T) {
	r := newRecorder()
	r.startErr = func(int) error { panic("start exploded") }
	p := pool.New(1, r.factory)
	require.NoError(t, p.SubmitMany(ids(2)))
	p.Shutdown(false)
	require.True(t, p.Wait(5*time.Second))
	assert.Len(t, r.failed, 2)
	assert.True(t, p.Stats().Broken)
}

func TestPanicInRunFailsOnlyThatTask(t *testing.T) {
	r := newRecorder()
	r.run = func(id int64) {
		if id == 3 {
			panic(fmt.Sprintf("task %d exploded", id))
		}
	}
	p := pool.New(1, r.factory)
	require.NoError(t, p.SubmitMany(ids(5)))
	p.Shutdown(false)
	require.True(t, p.Wait(5*time.Second))
	assert.Equal(t, []int64{1, 2, 4, 5}, r.ran)
	var rec *panics.Recovered
	require.ErrorAs(t, r.failed[3], &rec)
	assert.Contains(t, rec.Error(), "task 3 exploded")
	assert.Contains(t, string(rec.Stack), "pool_test.go")
}

func TestPanicNextTaskInjection(t *testing.T) {
	r := newRecorder()
	p := pool.New(1, r.factory)
	p.PanicNextTask()
	require.NoError(t, p.SubmitMany(ids(2)))
	p.Shutdown(false)
	require.True(t, p.Wait(5*time.Second))
	assert.Equal(t, []int64{2}, r.ran)
	assert.Contains(t, r.failed[1].Error(), "injected fault")
}

func TestStallBetweenTasksInjection(t *testing.T) {
	const stall = 50 * time.Millisecond
	r := newRecorder()
	var mu sync.Mutex
	var started []time.Time
	r.run = func(int64) {
		mu.Lock()
		started = append(started, time.Now())
		mu.Unlock()
	}
	p := pool.New(1, r.factory)
	p.StallBetweenTasks(stall)
	require.NoError(t, p.SubmitMany(ids(3))) // one worker: a burst of 3
	p.Shutdown(false)
	require.True(t, p.Wait(5*time.Second))
	assert.Equal(t, []int64{1, 2, 3}, r.ran)
	require.Len(t, started, 3)
	assert.GreaterOrEqual(t, started[1].Sub(started[0]), stall, "the burst's second task waited")
}

func TestNewRejectsZeroWorkers(t *testing.T) {
	assert.Panics(t, func() { pool.New(0, newRecorder().factory) })
}

func ExamplePool() {
	var mu sync.Mutex
	total := int64(0)
	p := pool.New(4, func(int) pool.Worker { return adder{&mu, &total} })
	_ = p.SubmitMany([]int64{1, 2, 3, 4})
	p.Shutdown(false)
	p.Wait(-1)
	fmt.Println(total)
	// Output: 10
}

type adder struct {
	mu    *sync.Mutex
	total *int64
}

func (a adder) Start() error { return nil }
func (a adder) Run(id int64, next func() (int64, bool)) error {
	for ok := true; ok; id, ok = next() {
		a.mu.Lock()
		*a.total += id
		a.mu.Unlock()
	}
	return nil
}
func (a adder) Fail(int64, error) {}
func (a adder) Stop(bool)         {}
