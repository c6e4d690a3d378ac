// Package pool is the scheduling core of ThreadPoolExecutor: a FIFO queue of
// task ids served by workers that start lazily, up to a maximum.
//
// The pool knows nothing of Python. A Worker runs tasks by id, on a thread
// or goroutine that a Spawner starts (by default a goroutine; the Python
// bridge starts a C thread per worker, see package cthread). Contracts
// mirror concurrent.futures.ThreadPoolExecutor:
//
//   - An idle worker is reused before a new one is started (a submit that
//     finds no idle worker starts one, until Max workers exist).
//   - A worker that Submit starts is started with a task in hand (the
//     oldest queued one): the task is that worker's from then on, so
//     Shutdown(cancel) does not take it back, as CPython's Thread.start()
//     returns only once the new thread runs. Starting a worker can fail (a
//     Spawner error, such as no thread left): the task goes back to the
//     head of the queue if some worker is live, and otherwise Submit takes
//     it back and returns ErrNoThread.
//   - Submit starts a worker itself when the pool has none, or when no
//     worker is starting; otherwise the workers that are starting start
//     more as they finish starting (up to maxStarting at once), so a burst
//     of submits does not pay for every thread it needs. Those take the
//     queue's head once they run, like idle workers: a task is not held up
//     by a thread that is still being made while another worker is free.
//   - Shutdown stops new submits; queued tasks still run unless the caller
//     asked for them back (cancel). Workers exit when the queue is empty.
//   - A worker whose Start, or whose first Run, fails to start breaks the
//     pool: queued tasks are handed to Fail with ErrBroken, later submits
//     return ErrBroken.
//   - A panic in a Worker method is recovered: a task's panic goes to Fail,
//     a panic in Start breaks the pool like a failed Start.
//
// Costs: Submit takes one mutex and, when a worker is idle, wakes the most
// recently idled one (LIFO: its thread is the warmest) through its Parker; a
// busy worker takes its next task without sleeping. A submit that starts a
// worker also calls the Spawner (with the pybridge spawner one
// pthread_create, 15-100 us here), after releasing the mutex.
package pool

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofutures/gofutures/gofutures/internal/taskstats"
	"github.com/gofutures/gofutures/gofutures/internal/wait"
	"github.com/gofutures/gofutures/gofutures/panics"
)

// ErrShutdown is returned by Submit after Shutdown.
var ErrShutdown = errors.New("cannot schedule new futures after shutdown")

// ErrBroken is returned by Submit, and passed to Fail for queued tasks, once
// a worker failed to start.
var ErrBroken = errors.New("a worker failed to start, the pool is not usable anymore")

// ErrNoThread is returned by Submit when no worker could be started and none
// is live to run the task: the task was not queued. Its message is CPython's
// for a failed Thread.start(). Errors returned for it wrap the Spawner's.
var ErrNoThread = errors.New("can't start new thread")

type noThreadError struct{ cause error }

func (e noThreadError) Error() string   { return ErrNoThread.Error() }
func (e noThreadError) Unwrap() []error { return []error{ErrNoThread, e.cause} }

// Spawner runs run on a new thread (or goroutine) of its own, and reports an
// error if it could not start one; run then never runs. It is called without
// the pool's mutex, by Submit's caller or by a worker that is starting, and
// must not call run itself. The default starts a goroutine.
type Spawner func(run func()) error

func goSpawner(run func()) error {
	panics.Go(run, nil) // run recovers what a task or the pool may raise
	return nil
}

// Option configures a Pool.
type Option func(*Pool)

// WithSpawner makes the pool start its workers with s.
func WithSpawner(s Spawner) Option { return func(p *Pool) { p.spawn = s } }

// WithReturningWorkers says that the pool's workers add 1 to Returning()
// when a task ends, before anything that may delay their call to next (the
// Python bridge: in C, before it releases the GIL), and call next after
// every task. A submit that finds no idle worker then counts on such a
// returning worker instead of starting another, as the stdlib's submit
// counts on a worker that released its idle semaphore after a task: a
// program that submits the next task as soon as a result arrives is served
// by the worker that produced it, and no second worker starts (nor runs the
// initializer).
func WithReturningWorkers() Option { return func(p *Pool) { p.returningWorkers = true } }

// Worker runs tasks on one worker goroutine. All methods of one Worker are
// called on the same goroutine, in the order Start, then Run or Fail any
// number of times, then Stop (which is called even when Start failed).
type Worker interface {
	// Start prepares the worker before it takes a task.
	Start() error
	// Run executes task id and then, while next yields more, those tasks
	// too: a burst, so that a worker holding something costly to take (the
	// GIL) keeps it while the queue is non-empty. next never blocks.
	//
	// A worker may finish starting in its first Run (the Python bridge runs
	// the initializer there, under the GIL it takes anyway). If that fails,
	// Run returns an error without running id: the pool breaks, and id
	// fails with the queued tasks.
	Run(id int64, next func() (int64, bool)) error
	// Fail reports that the task will not run: err is ErrBroken or a
	// *panics.Recovered from this worker.
	Fail(id int64, err error)
	// Stop releases the worker. last is true for the final worker of a
	// pool that is shut down: no other worker is left and none will start.
	Stop(last bool)
}

// Parker blocks an idle worker. A Worker that also implements
// interface{ NewParker() Parker } chooses how it sleeps (the Python bridge
// blocks in C, which avoids handing Go's scheduler a locked thread to wake);
// other workers sleep on a channel.
type Parker interface {
	// Park blocks until Unpark is called (an earlier Unpark counts once).
	Park()
	// Unpark wakes Park; it never blocks.
	Unpark()
}

type idler struct{ parker Parker }

func parkerFor(w Worker) Parker {
	if pw, ok := w.(interface{ NewParker() Parker }); ok {
		return pw.NewParker()
	}
	return chanParker(make(chan struct{}, 1))
}

type chanParker chan struct{}

func (c chanParker) Park() { <-c }

func (c chanParker) Unpark() {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Factory makes the Worker for the index-th worker started by a pool (0, 1, ...).
type Factory func(index int) Worker

// Pool is a FIFO task queue with up to Max lazily started workers.
// Its zero value is not usable: use New.
type Pool struct {
	max       int
	newWorker Factory
	spawn     Spawner

	// mu guards everything below; the Spawner is called without it. A
	// worker is reserved (pending) under mu with its first task taken off
	// the queue, spawned without mu, then counted live or, if the spawn
	// failed, forgotten and its task put back. No worker exits, and the
	// pool is not done, while a spawn is pending: a task put back always
	// finds a worker, or the Submit that reserved it takes it back.
	mu       sync.Mutex
	queue    queue
	started  int      // workers that began: the next worker's index
	live     int      // workers whose thread runs, not yet exiting
	pending  int      // workers reserved whose Spawner call has not returned
	starting int      // pending workers and live ones not done with Start
	free     int      // starting workers without a task in hand: each will take one
	stopping int      // workers exiting or inside Stop
	idle     []*idler // parked workers, most recently parked last
	wakes    int      // workers unparked for a task, not yet back in next
	closed   bool
	broken   bool
	spawned  sync.Cond     // broadcast when pending drops to 0
	done     chan struct{} // closed once closed && nothing is live, pending or stopping

	// returning counts workers that ended a task, have not yet asked for
	// the next (Returning) and no Submit counted on yet; those a Submit
	// counted on are counted in wakes. Only with WithReturningWorkers.
	returning        atomic.Int64
	returningWorkers bool

	panicNext atomic.Bool  // fault injection (faults.go): the next task panics in Go
	stallNext atomic.Int64 // fault injection (faults.go): nanoseconds to wait in a burst

	counters taskstats.Counters // stats.go
}

// New returns a pool of at most max workers (max >= 1) made by newWorker.
func New(max int, newWorker Factory, opts ...Option) *Pool {
	if max < 1 {
		panic("pool: max workers must be at least 1")
	}
	p := &Pool{max: max, newWorker: newWorker, spawn: goSpawner, done: make(chan struct{})}
	p.spawned.L = &p.mu
	for _, o := range opts {
		o(p)
	}
	return p
}

// Returning is the counter that workers of a pool made WithReturningWorkers
// add 1 to when a task ends. It lives as long as the pool.
func (p *Pool) Returning() *atomic.Int64 { return &p.returning }

// Submit queues task id. It never blocks on a running task. If id needs a
// new worker and none can be started while none is live, id is not queued
// and the error wraps ErrNoThread.
func (p *Pool) Submit(id int64) error {
	var buf [1]*idler
	var firsts [1]spawn
	p.mu.Lock()
	if err := p.admitLocked(); err != nil {
		p.mu.Unlock()
		return err
	}
	p.queue.push(id)
	p.counters.Submitted(1)
	woken, spawns := p.wakeLocked(1, buf[:0], firsts[:0])
	p.mu.Unlock()
	unpark(woken)
	if len(spawns) == 0 {
		return nil
	}
	own := [1]int64{id}
	return p.spawnAll(spawns, own[:])
}

// admitLocked returns the error Submit must return, if any. First it waits
// while the pool has no live worker and may not reserve another: were the
// pending spawns all to fail, a task queued now would be left with no
// worker and no Submit to take it back. (Only concurrent submits to a pool
// that has no worker yet wait, for at most the pending spawns.)
func (p *Pool) admitLocked() error {
	for {
		if err := p.refuseLocked(); err != nil {
			return err
		}
		if p.live > 0 || p.pending < p.max {
			return nil
		}
		p.spawned.Wait()
	}
}

func (p *Pool) refuseLocked() error {
	switch {
	case p.broken:
		return ErrBroken
	case p.closed:
		return ErrShutdown
	}
	return nil
}

// maxStarting bounds the workers starting at once. A burst of submits on an
// empty pool would otherwise start a worker per task before any of them ran
// (they start on other OS threads, which a busy submitter starves), though
// a few workers would have drained the queue. Each worker that finishes
// starting starts more while queued tasks are left uncovered, so a pool
// that needs many workers (blocking tasks) still grows quickly.
const maxStarting = 4

// wakeLocked finds workers for the n tasks just queued: idle workers first,
// then new ones. It appends the idle workers it took to woken, for the
// caller to unpark once it has released p.mu (an unpark is a system call,
// a futex wake, and a woken worker's first act is to take p.mu), and the
// workers it reserved, each with its first task, to spawns, for the caller
// to spawn (spawnAll).
//
// A pool without a live worker always reserves one if it may (a pending
// spawn of another Submit may fail). Otherwise a submit reserves workers
// only when none is starting: starting workers start more themselves.
func (p *Pool) wakeLocked(n int, woken []*idler, spawns []spawn) ([]*idler, []spawn) {
	for ; n > 0 && len(p.idle) > 0; n-- {
		w := p.idle[len(p.idle)-1]
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
		p.wakes++
		woken = append(woken, w)
	}
	for ; n > 0 && p.claimReturningLocked(); n-- {
	}
	if n > 0 && (p.live == 0 || p.starting == 0) {
		spawns = p.reserveLocked(spawns, p.live == 0, true, 0)
	}
	return woken, spawns
}

// claimReturningLocked counts on a returning worker (WithReturningWorkers)
// for a task just queued, if one is not counted on yet: it will take the
// task when it asks for its next, as a woken worker would.
func (p *Pool) claimReturningLocked() bool {
	if !p.takeReturning() {
		return false
	}
	p.wakes++
	return true
}

// returnedLocked is a returning worker asking for its next task: it takes
// back the count it added, or, if every returning worker was counted on,
// it is one of those (returning workers are interchangeable: whichever
// asks first takes the queued task).
func (p *Pool) returnedLocked() {
	if p.returningWorkers && !p.takeReturning() {
		p.wakes--
	}
}

// takeReturning takes 1 off p.returning if it is positive (workers add to
// it without p.mu), and reports whether it did.
func (p *Pool) takeReturning() bool {
	for {
		r := p.returning.Load()
		if r <= 0 {
			return false
		}
		if p.returning.CompareAndSwap(r, r-1) {
			return true
		}
	}
}

// spawn is a reserved worker: with a task in hand (pinned), or one that will
// take the queue's head.
type spawn struct {
	first  int64
	pinned bool
}

// reserveLocked reserves workers for queued tasks that no woken or free
// starting worker will take (nor the caller's own reserved ones), up to max
// workers and maxStarting starting at once (one at least when force), and
// appends them to spawns: pinned, each with the oldest such task, or free.
func (p *Pool) reserveLocked(spawns []spawn, force, pin bool, reserved int) []spawn {
	for !p.broken && p.live+p.pending < p.max && p.queue.len() > p.wakes+p.free+reserved &&
		(p.starting < maxStarting || (force && len(spawns) == 0)) {
		s := spawn{pinned: pin}
		if pin {
			s.first = p.queue.pop()
		} else {
			p.free++
		}
		spawns = append(spawns, s)
		p.pending++
		p.starting++
	}
	return spawns
}

// spawnAll starts the reserved workers. A task whose worker could not be
// started goes back to the head of the queue, in order. If then no worker
// is live, the caller's own tasks (own) are taken back out of the queue and
// the error wraps ErrNoThread: no one would run them.
func (p *Pool) spawnAll(spawns []spawn, own []int64) error {
	var buf [maxStarting]error
	errs := buf[:0]
	for _, s := range spawns {
		errs = append(errs, p.spawnOne(s))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var failed error
	for i := len(spawns) - 1; i >= 0; i-- {
		p.pending--
		if errs[i] == nil {
			p.live++
			continue
		}
		p.starting--
		if spawns[i].pinned {
			p.queue.pushFront(spawns[i].first)
		} else {
			p.free--
		}
		failed = errs[i]
	}
	if p.pending == 0 {
		p.spawnsSettledLocked()
	}
	if failed == nil || p.live > 0 {
		return nil
	}
	for _, id := range own {
		p.queue.remove(id)
	}
	p.counters.Submitted(-len(own))
	return noThreadError{failed}
}

// spawnOne calls the Spawner for a reserved worker.
func (p *Pool) spawnOne(s spawn) (err error) {
	if r := panics.Try(func() { err = p.spawn(func() { p.work(s) }) }); r != nil {
		err = r
	}
	return err
}

// spawnsSettledLocked runs when no spawn is pending any more: workers that
// waited for that to exit (the pool is shut down) or to fail the last tasks
// (it is broken) may go on.
func (p *Pool) spawnsSettledLocked() {
	p.spawned.Broadcast()
	if p.closed {
		p.wakeToExitLocked()
		p.closeDoneLocked()
	}
}

// wakeToExitLocked unparks one idle worker of a shut down pool, which
// checks whether it should exit; a worker that exits wakes the next
// (next), so every idle worker leaves in turn, as the stdlib's workers
// pass its shutdown sentinel on. Waking them all at once made them contend
// for the GIL, the pool's mutex and Go's Ps together: 100 idle workers
// took 7-13 ms to leave, against 4 ms for the stdlib's.
func (p *Pool) wakeToExitLocked() {
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.wakes++
		w.parker.Unpark()
	}
}

// unpark wakes idle workers taken off p.idle (Park counts an earlier Unpark,
// so waking after the unlock loses nothing).
func unpark(woken []*idler) {
	for _, w := range woken {
		w.parker.Unpark()
	}
}

// Shutdown refuses further submits and lets workers exit once the queue is
// empty. With cancel it removes the queued tasks and returns their ids, in
// submit order, for the caller to cancel. Shutdown is idempotent and does not
// wait: see Wait.
func (p *Pool) Shutdown(cancel bool) []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var cancelled []int64
	if cancel {
		cancelled = p.queue.drain()
		p.counters.Cancelled(len(cancelled))
	}
	if !p.closed {
		p.closed = true
		p.wakeToExitLocked()
		p.closeDoneLocked()
	}
	return cancelled
}

// Wait waits up to timeout (forever if negative) for every worker to stop
// after Shutdown, and reports whether they all did.
func (p *Pool) Wait(timeout time.Duration) bool { return wait.Closed(p.done, timeout) }

// Done is closed when the pool is shut down and all its workers stopped.
func (p *Pool) Done() <-chan struct{} { return p.done }

func (p *Pool) closeDoneLocked() {
	if p.closed && p.live == 0 && p.pending == 0 && p.stopping == 0 {
		select {
		case <-p.done:
		default:
			close(p.done)
		}
	}
}

// next blocks for the next task; ok is false when the worker should stop,
// and then it already counts as exiting (exitLocked) and last says whether
// it is the pool's last worker.
func (p *Pool) next(me *idler) (id int64, ok, last bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.queue.len() == 0 {
		if p.closed && p.pending == 0 {
			p.wakeToExitLocked() // the next idle one exits after this one
			return 0, false, p.exitLocked()
		}
		p.idle = append(p.idle, me)
		p.mu.Unlock()
		me.parker.Park() // whoever unparks us took us off p.idle
		p.mu.Lock()
		p.wakes--
	}
	return p.queue.pop(), true, false
}

// exitLocked counts the calling worker as exiting and reports whether it is
// the last: the pool is shut down and no other worker is live or pending.
func (p *Pool) exitLocked() (last bool) {
	p.live--
	p.stopping++
	return p.closed && p.live == 0 && p.pending == 0
}

// work is a worker's life: start, run its first task if it has one, serve
// the queue, stop.
func (p *Pool) work(s spawn) {
	p.mu.Lock()
	index := p.started
	p.started++
	p.mu.Unlock()
	w := p.newWorker(index)
	var startErr error
	if r := panics.Try(func() { startErr = w.Start() }); r != nil {
		startErr = r
	}
	p.mu.Lock()
	p.starting--
	reserved := 0
	if !s.pinned {
		p.free--
		reserved = 1 // this worker takes the next task
	}
	var spawns []spawn
	if startErr == nil {
		spawns = p.reserveLocked(nil, false, false, reserved) // more may be needed
	}
	p.mu.Unlock()
	if len(spawns) > 0 {
		_ = p.spawnAll(spawns, nil) // this worker is live: it runs what is put back
	}
	var last bool
	var first []int64
	if s.pinned {
		first = []int64{s.first}
	}
	if startErr != nil {
		last = p.failQueued(w, first...)
	} else {
		me := &idler{parker: parkerFor(w)}
		id, ok := s.first, s.pinned
		if !ok {
			id, ok, last = p.next(me)
		}
		for ok {
			if p.run(w, id) {
				last = p.failQueued(w, id)
				break
			}
			id, ok, last = p.next(me)
		}
	}
	panics.Try(func() { w.Stop(last) })
	p.mu.Lock()
	p.stopping--
	p.closeDoneLocked()
	p.mu.Unlock()
}

// run gives w a burst that starts with task id. A panic fails the task that
// was current when it happened; the burst ends there. It reports whether the
// worker failed to start (id did not run).
func (p *Pool) run(w Worker, id int64) (startFailed bool) {
	current := id
	next := func() (int64, bool) {
		id, ok := p.tryNext()
		if ok {
			current = id
			p.maybeInjectStall()
			p.maybeInjectPanic()
		}
		return id, ok
	}
	var err error
	r := panics.Try(func() {
		p.maybeInjectPanic()
		err = w.Run(id, next)
	})
	if r != nil {
		p.counters.Failed(1)
		panics.Try(func() { w.Fail(current, r) })
	}
	return err != nil
}

// tryNext takes the next task if one is queued; the worker calling it has
// just ended a task (returnedLocked).
func (p *Pool) tryNext() (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.returnedLocked()
	if p.queue.len() == 0 {
		return 0, false
	}
	return p.queue.pop(), true
}

// failQueued breaks the pool and fails first (tasks taken but not run) and
// every queued task on w, including those that pending spawns put back
// when they fail, then counts w as exiting (see next).
func (p *Pool) failQueued(w Worker, first ...int64) (last bool) {
	ids := first
	p.mu.Lock()
	p.broken = true
	for {
		ids = append(ids, p.queue.drain()...)
		if p.pending == 0 {
			break
		}
		p.spawned.Wait()
	}
	last = p.exitLocked()
	p.mu.Unlock()
	p.counters.Failed(len(ids))
	for _, id := range ids {
		panics.Try(func() { w.Fail(id, ErrBroken) })
	}
	return last
}
