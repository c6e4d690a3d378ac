package gotask

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gofutures/gofutures/gofutures/gio"
	"github.com/gofutures/gofutures/gofutures/internal/taskstats"
	"github.com/gofutures/gofutures/gofutures/internal/wait"
	"github.com/gofutures/gofutures/gofutures/panics"
)

// ErrShutdown is returned by Submit after Shutdown.
var ErrShutdown = errors.New("cannot schedule new futures after shutdown")

// Task is a Go task of a thread pool: an id Python chose (unique in the
// process) and the operation.
type Task struct {
	ID   int64
	Kind Kind
	Meta []byte
	Body []byte
}

// Completion is what a Sched hands its sink: a task that finished. Once the
// sink has handed its result over, it calls Sched.Delivered. (A task that
// leaves the queue and starts is not reported: Started answers who asks,
// which costs nothing per task.)
type Completion struct {
	Sched  *Sched
	ID     int64
	Result Result
}

type taskState uint8

const (
	queued taskState = iota + 1
	running
	finished // reported to the sink, not yet delivered
)

// Sched runs the Go tasks of one thread pool: each on a goroutine of its
// own, at most max at once (a pool's max_workers keeps its meaning), the
// rest in FIFO order as slots free up. Its contract mirrors the pool's:
//
//   - Submit starts the task at once if a slot is free (and says so), else
//     queues it;
//   - Cancel takes back a task that has not started (false once it has);
//   - Started reports whether a task left the queue;
//   - Shutdown refuses further submits; queued tasks still run unless the
//     caller asks for them back (cancel);
//   - Done is closed once the Sched is shut down and every task has
//     finished and been delivered (Delivered), so a thread pool's join
//     returns with every future complete.
//
// A goroutine that finishes a task takes the next queued one itself: a
// steady queue costs no goroutine start per task. Tasks run with a context
// that is never cancelled: as with the stdlib's thread pool, shutdown and
// interpreter exit wait for running work.
//
// It counts its tasks in the Counters it was given (its thread pool's, so
// stats() includes Go tasks): submits, starts, outcomes (a StatusError
// result is a failure) with their run time, and cancels.
type Sched struct {
	max      int
	sink     func(Completion)
	counters *taskstats.Counters

	mu      sync.Mutex
	running int
	queue   []Task // FIFO from head, with holes: tasks cancelled in place
	head    int
	holes   int // cancelled tasks still in queue[head:]
	state   map[int64]taskState
	closed  bool
	done    chan struct{}
}

// NewSched returns a Sched that runs at most max tasks at once, counts them
// in counters (a Counters of its own if nil) and reports to sink, which must
// not block for long and must not call back into the Sched synchronously (it
// is called without the Sched's lock).
func NewSched(max int, counters *taskstats.Counters, sink func(Completion)) *Sched {
	if max < 1 {
		max = 1
	}
	if counters == nil {
		counters = &taskstats.Counters{}
	}
	return &Sched{max: max, sink: sink, counters: counters, state: map[int64]taskState{}, done: make(chan struct{})}
}

// Submit runs t now if fewer than max tasks run (started is true), or
// queues it.
func (s *Sched) Submit(t Task) (started bool, err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false, ErrShutdown
	}
	s.counters.Submitted(1)
	if s.running < s.max {
		s.running++
		s.state[t.ID] = running
		start := s.counters.Start() // running from here, as its state says
		s.mu.Unlock()
		s.start(t, start)
		return true, nil
	}
	s.state[t.ID] = queued
	s.queue = append(s.queue, t)
	s.mu.Unlock()
	return false, nil
}

func (s *Sched) start(t Task, start int64) {
	current := t.ID
	panics.Go(func() { s.loop(t, start, &current) }, func(r *panics.Recovered) {
		// loop recovers everything it calls; this is the last resort: the
		// task it was running fails with the panic.
		s.sink(Completion{Sched: s, ID: current, Result: Panicked(r)})
	})
}

// loop runs t (counted as running since start), then queued tasks while
// there are any, keeping the id of the one it runs in *current.
func (s *Sched) loop(t Task, start int64, current *int64) {
	for ok := true; ok; {
		*current = t.ID
		res := Do(context.Background(), t.Kind, t.Meta, t.Body)
		t, start, ok = s.finished(t.ID, res, start)
	}
}

// finished counts task id done, delivers its result, and takes the next
// queued task, if any, as running since the returned start.
func (s *Sched) finished(id int64, res Result, start int64) (next Task, nextStart int64, ok bool) {
	outcome := taskstats.Completed
	if res.Status != StatusOK {
		outcome = taskstats.Failed
	}
	end := s.counters.Done(outcome, start)
	s.mu.Lock()
	s.state[id] = finished
	next, ok = s.popLocked()
	if ok {
		s.state[next.ID] = running
		nextStart = s.counters.StartAt(end)
	} else {
		s.running--
	}
	s.mu.Unlock()
	s.sink(Completion{Sched: s, ID: id, Result: res})
	return next, nextStart, ok
}

// popLocked takes the oldest queued task, skipping holes.
func (s *Sched) popLocked() (t Task, ok bool) {
	for !ok && s.head < len(s.queue) {
		t = s.queue[s.head]
		s.queue[s.head] = Task{}
		s.head++
		if ok = s.state[t.ID] == queued; !ok {
			s.holes--
		}
	}
	if s.head == len(s.queue) {
		s.resetQueueLocked()
	}
	return t, ok
}

// dropHolesLocked moves the queued tasks to the front of the queue, in
// order, and forgets the holes.
func (s *Sched) dropHolesLocked() {
	kept := s.queue[:0]
	for _, t := range s.queue[s.head:] {
		if s.state[t.ID] == queued {
			kept = append(kept, t)
		}
	}
	clear(s.queue[len(kept):])
	s.queue, s.head, s.holes = kept, 0, 0
}

func (s *Sched) resetQueueLocked() {
	clear(s.queue[s.head:])
	s.queue, s.head, s.holes = s.queue[:0], 0, 0
}

// Cancel takes task id back if it has not started, and reports false only
// if it has started (it runs or ran). An id the Sched does not know (taken
// back by Shutdown, or delivered) reports true.
func (s *Sched) Cancel(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state[id] {
	case running, finished:
		return false
	case queued:
		// Left in the queue as a hole (popLocked skips it): finding it
		// would cost a scan, and removing it a copy of the queue's tail,
		// per cancel. Once holes are half the queue, one pass drops them
		// all (and the payloads they hold): O(1) a cancel, on average.
		delete(s.state, id)
		s.holes++
		if 2*s.holes >= len(s.queue)-s.head {
			s.dropHolesLocked()
		}
		s.counters.Cancelled(1)
		s.closeDoneLocked()
	}
	return true
}

// Started reports whether task id has left the queue (it runs, or ran and
// its result is not delivered yet). False for a queued task and for an id
// the Sched does not know.
func (s *Sched) Started(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state[id]
	return st == running || st == finished
}

// Shutdown refuses further submits; with cancel it takes every queued task
// back and returns their ids in submit order.
func (s *Sched) Shutdown(cancel bool) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var ids []int64
	if cancel {
		for _, t := range s.queue[s.head:] {
			if s.state[t.ID] == queued {
				ids = append(ids, t.ID)
				delete(s.state, t.ID)
			}
		}
		s.resetQueueLocked()
		s.counters.Cancelled(len(ids))
	}
	s.closeDoneLocked()
	return ids
}

// Delivered forgets finished tasks whose results were handed over.
func (s *Sched) Delivered(ids ...int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if s.state[id] == finished {
			delete(s.state, id)
		}
	}
	s.closeDoneLocked()
}

func (s *Sched) closeDoneLocked() {
	if s.closed && len(s.state) == 0 {
		select {
		case <-s.done:
		default:
			close(s.done)
		}
	}
}

// Done is closed once the Sched is shut down and every task delivered.
func (s *Sched) Done() <-chan struct{} { return s.done }

// Wait waits up to timeout (forever if negative) for Done.
func (s *Sched) Wait(timeout time.Duration) bool { return wait.Closed(s.done, timeout) }

// Queued returns how many tasks wait for a slot.
func (s *Sched) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queuedLocked()
}

func (s *Sched) queuedLocked() int { return len(s.queue) - s.head - s.holes }

// Pending returns how many tasks are queued or running.
func (s *Sched) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running + s.queuedLocked()
}

// Refused is the result of a task that was never run because err (ErrShutdown)
// refused it: RuntimeError in Python.
func Refused(err error) Result { return fail(gio.Errorf(gio.ClassRuntime, "%v", err), nil) }

// Panicked is the result of a task whose handling panicked in Go (the panic
// and its stack: GoPanicError in Python).
func Panicked(r *panics.Recovered) Result { return fail(errorRecord(r), nil) }

func errorRecord(r *panics.Recovered) any {
	return struct {
		Class string `json:"class"`
		Msg   string `json:"msg"`
	}{"panic", r.Error()}
}
