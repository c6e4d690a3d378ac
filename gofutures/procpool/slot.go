package procpool

import (
	"net"
	"sync"
	"time"

	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/wire"
)

// slot is one worker position of the pool. Its goroutine starts a worker,
// feeds it, and starts a replacement when the worker reaches its task quota.
type slot struct {
	pool  *Pool
	index int

	// Guarded by pool.mu.
	proc     Proc
	inflight map[uint64]struct{}
	sent     int  // tasks sent to the current worker
	dead     bool // the current worker's connection ended
	exiting  bool // EXIT was sent: the end of the connection is expected
	// overMemory: the worker passed Config.MaxWorkerMemory; it gets no
	// more tasks and is replaced (memory.go).
	overMemory bool

	sendMu sync.Mutex // serializes writes to the worker's connection

	exitMu sync.Mutex
	exits  map[Proc]ExitStatus // cached by waitExit

	// reaping counts retired workers still being waited for in the
	// background; the slot ends only when they are reaped.
	reaping sync.WaitGroup

	// nexts are the replacement workers being started, in the order they
	// will take over, while the current one runs its last task
	// (max_tasks_per_child). Guarded by pool.mu.
	nexts []chan started

	// Guarded by pool.mu (stats.go): workers that took over the slot, and
	// when each task in flight was handed to the current one.
	workers int
	starts  []taskStart
	fate    slotFate // per-task deadlines and kills (fate.go); guarded by pool.mu
}

// replacementsAhead is how many replacement workers a slot starts ahead
// while tasks wait: starting one (fork, initializer, handshake) takes 4-6 ms
// here, far longer than a short task, so with one at a time the slot spends
// most of its time waiting for it.
const replacementsAhead = 2

// started is the outcome of slot.start.
type started struct {
	proc   Proc
	conn   net.Conn
	reader *wire.Reader
	err    error
}

func (s *slot) run() {
	p := s.pool
	if r := panics.Try(func() {
		hook("slot")
		for s.generation() {
		}
	}); r != nil {
		p.internalError("running a worker")(r)
	}
	if r := panics.Try(s.dropReplacement); r != nil {
		p.internalError("stopping replacement workers")(r)
	}
	s.reaping.Wait()
	if r := panics.Try(p.slotDone); r != nil {
		p.internalError("tearing the pool down")(r)
	}
}

// dropReplacement stops the replacement workers started for generations
// that will not come (the pool broke or closed).
func (s *slot) dropReplacement() {
	p := s.pool
	p.mu.Lock()
	nexts := s.nexts
	s.nexts = nil
	p.mu.Unlock()
	for _, next := range nexts {
		s.discard(<-next)
	}
}

// discard stops a started worker that will get no task.
func (s *slot) discard(st started) {
	if st.err == nil && st.proc != nil {
		st.conn.Close()
		st.proc.Kill()
		s.reap(st.proc)
		s.forget(st.proc)
	}
}

// generation runs one worker process from start to exit. It reports whether
// the slot should start another (the worker retired after its quota).
func (s *slot) generation() bool {
	p := s.pool
	p.mu.Lock()
	stop := p.broken != "" || (p.closing && len(p.queue) == 0)
	forced, stranded := s.forcedStopLocked()
	stop = stop || forced
	var next chan started
	if len(s.nexts) > 0 {
		next = s.nexts[0]
		s.nexts[0] = nil
		s.nexts = s.nexts[1:]
	}
	p.mu.Unlock()
	var st started
	if next != nil {
		st = <-next
	} else if !stop {
		st.proc, st.conn, st.reader, st.err = s.start()
	}
	if stop {
		s.discard(st) // a replacement nobody needs
		if stranded {
			p.breakPool(failure(forcedQueueDetail))
		}
		return false
	}
	if st.err != nil {
		p.breakPool(factsOf(st.err))
		return false
	}
	proc, conn, reader := st.proc, st.conn, st.reader
	p.mu.Lock()
	s.proc, s.inflight, s.sent, s.dead, s.exiting = proc, map[uint64]struct{}{}, 0, false, false
	s.workerStartedLocked()
	s.overMemory = false
	broken := p.broken != ""
	forcing, sig := p.forcing, p.forceSignal
	p.mu.Unlock()
	if broken { // broke while this worker was starting
		proc.Kill()
	} else if forcing { // force-stopped while this worker was starting
		signalProc(proc, sig)
	}
	readerDone := make(chan struct{})
	panics.Go(func() {
		defer close(readerDone)
		hook("reader")
		s.read(conn, reader, proc)
	}, func(r *panics.Recovered) {
		// The feeder waits for the reader to notice a death: end it.
		p.mu.Lock()
		s.dead = true
		p.mu.Unlock()
		proc.Kill()
		p.internalError("reading a worker's results")(r)
	})
	retire := s.feed(conn)
	p.mu.Lock()
	exiting := s.exiting
	p.mu.Unlock()
	if exiting { // EXIT sent: the worker ends the connection itself
		select {
		case <-readerDone:
		case <-time.After(exitAfterExitFrame):
			proc.Kill()
		}
	}
	conn.Close()
	<-readerDone
	p.mu.Lock()
	s.proc = nil
	if s.endGenerationLocked() {
		// Its tasks were reported one by one (fate.go): replace it.
		retire, exiting = true, false
	}
	p.mu.Unlock()
	if retire && exiting {
		// A worker that reached its quota closed its connection and is
		// exiting; its replacement need not wait for the exit (the kernel's
		// teardown of its memory), only the slot's own end does.
		s.reaping.Add(1)
		panics.Go(func() {
			defer s.reaping.Done()
			hook("reap")
			s.reap(proc)
			s.forget(proc)
		}, p.internalError("waiting for a retired worker"))
		return retire
	}
	s.reap(proc)
	s.forget(proc)
	return retire
}

// prestartLocked starts the replacement of a worker that was just given its
// last task, so that it is ready (forked, initialized) when that task ends,
// and while more tasks wait than slots could take, the one after it too
// (replacementsAhead). A replacement takes tasks only after the worker
// before it has sent its last result, so at most Workers workers ever run
// tasks. pool.mu must be held.
func (s *slot) prestartLocked() {
	p := s.pool
	quota := p.cfg.MaxTasksPerChild
	if quota == 0 || s.sent < quota || p.broken != "" || p.closing {
		return
	}
	want := 1
	if len(p.queued) > len(p.slots) {
		want = replacementsAhead
	}
	for len(s.nexts) < want {
		ch := make(chan started, 1)
		s.nexts = append(s.nexts, ch)
		go func() { // recovers itself: ch must get a value whatever happens
			var st started
			if r := panics.Try(func() {
				hook("prestart")
				st.proc, st.conn, st.reader, st.err = s.start()
			}); r != nil {
				st.err = r
			}
			ch <- st
		}()
	}
}
