package procpool

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
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
		return false
	}
	if st.err != nil {
		p.breakPool(factsOf(st.err))
		return false
	}
	proc, conn, reader := st.proc, st.conn, st.reader
	p.mu.Lock()
	s.proc, s.inflight, s.sent, s.dead, s.exiting = proc, map[uint64]struct{}{}, 0, false, false
	broken := p.broken != ""
	p.mu.Unlock()
	if broken { // broke while this worker was starting
		proc.Kill()
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
		case <-time.After(5 * time.Second):
			proc.Kill()
		}
	}
	conn.Close()
	<-readerDone
	p.mu.Lock()
	s.proc = nil
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

// start launches a worker and performs HELLO, INIT, READY.
func (s *slot) start() (Proc, net.Conn, *wire.Reader, error) {
	p := s.pool
	token := newToken()
	hello := make(chan net.Conn, 1)
	p.mu.Lock()
	p.hellos[token] = hello
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.hellos, token)
		p.mu.Unlock()
	}()
	proc, err := p.launch(token)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("could not start a worker process: %v", err)
	}
	fail := func(format string, args ...any) (Proc, net.Conn, *wire.Reader, error) {
		proc.Kill()
		s.reap(proc)
		return nil, nil, nil, fmt.Errorf(format, args...)
	}
	var conn net.Conn
	select {
	case conn = <-hello:
	case st := <-proc.Exited():
		s.exitMu.Lock()
		s.rememberExit(proc, st)
		s.exitMu.Unlock()
		s.deferToKnownStatus(st)
		return nil, nil, nil, &factsError{died(CauseDiedStarting, proc, st)}
	case <-time.After(p.cfg.StartTimeout):
		return fail("a worker process did not connect within %s", p.cfg.StartTimeout)
	case <-p.brokenCh:
		return fail("the pool broke while a worker was starting")
	}
	if uc, ok := conn.(*net.UnixConn); ok {
		// The token was right; the process must be the one started for it.
		if pid, _, err := peerCred(uc); err != nil || pid != proc.Pid() {
			conn.Close()
			return fail("the process that connected with worker pid %d's token is pid %d (%v)", proc.Pid(), pid, err)
		}
	}
	if err := sendInit(conn, p.cfg.InitPayload, p.cfg.InitFds); err != nil {
		conn.Close()
		return fail("could not initialize a worker process: %v", err)
	}
	reader := wire.NewReader(conn, p.cfg.MaxPayload)
	if p.cfg.Alloc != nil {
		reader.SetAlloc(p.cfg.Alloc)
	}
	f, err := reader.Next()
	switch {
	case err != nil:
		conn.Close()
		st := s.exitStatus(proc)
		s.deferToKnownStatus(st)
		// A worker that died (an initializer's os._exit included); one whose
		// initializer raised follows.
		return nil, nil, nil, &factsError{died(CauseDiedInitializing, proc, st)}
	case f.Kind == wire.KindInitFailed:
		conn.Close()
		proc.Kill()
		s.reap(proc)
		return nil, nil, nil, &factsError{BrokenFacts{Cause: CauseInitializerRaised, Pid: proc.Pid(), Detail: lastLine(string(f.Payload))}}
	case f.Kind != wire.KindReady:
		conn.Close()
		return fail("a worker process sent %s instead of READY", f.Kind)
	}
	return proc, conn, reader, nil
}

// sendInit sends INIT with this process's current stdout and stderr attached
// to its header (SCM_RIGHTS), then fds: the worker writes where the program
// writes now, even after a redirect made after the zygote was forked, and
// gets the descriptors its initializer's arguments need (pipes of a
// multiprocessing Queue, the shared memory of a Value).
func sendInit(conn net.Conn, payload []byte, fds []int) error {
	hdr := wire.AppendHeader(nil, wire.KindInit, 0, len(payload))
	if uc, ok := conn.(*net.UnixConn); ok {
		rights := syscall.UnixRights(append([]int{1, 2}, fds...)...)
		if _, _, err := uc.WriteMsgUnix(hdr, rights, nil); err != nil {
			return err
		}
	} else if _, err := conn.Write(hdr); err != nil {
		return err
	}
	_, err := conn.Write(payload)
	return err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// feed sends queued tasks to the worker, keeping up to Depth in flight, and
// ends the worker when it reached its quota (returns true: replace it), when
// the pool is closing and idle, or when the pool broke or the worker died.
func (s *slot) feed(conn net.Conn) bool {
	p := s.pool
	quota := p.cfg.MaxTasksPerChild
	var batch []task
	var buf []byte
	for {
		p.mu.Lock()
		for {
			if p.broken != "" || s.dead {
				p.mu.Unlock()
				return false
			}
			quotaLeft := quota == 0 || s.sent < quota
			if quotaLeft && len(p.queue) > 0 && len(s.inflight) < p.cfg.Depth {
				break
			}
			if len(s.inflight) == 0 && (!quotaLeft || (p.closing && len(p.queue) == 0)) {
				s.exiting = true
				p.mu.Unlock()
				_ = wire.WriteFrame(conn, wire.KindExit, 0, nil)
				return !quotaLeft
			}
			hungry := quotaLeft && len(s.inflight) < p.cfg.Depth
			if hungry {
				p.hungry++
			}
			p.cond.Wait()
			if hungry {
				p.hungry--
			}
		}
		batch = s.takeLocked(batch[:0])
		p.mu.Unlock()
		if err := s.sendLocked(conn, batch, &buf); err != nil {
			// The reader sees the broken connection and reports the death.
			p.mu.Lock()
			for !s.dead && p.broken == "" {
				p.cond.Wait()
			}
			p.mu.Unlock()
			return false
		}
	}
}

// takeLocked moves the tasks this worker may take now from the pool's queue
// to its in-flight set, appending them to batch; pool.mu must be held.
func (s *slot) takeLocked(batch []task) []task {
	p := s.pool
	quota := p.cfg.MaxTasksPerChild
	if s.exiting || s.dead || p.broken != "" {
		return batch
	}
	for len(p.queue) > 0 && len(s.inflight) < p.cfg.Depth && (quota == 0 || s.sent < quota) {
		t := p.queue[0]
		p.queue[0] = task{}
		p.queue = p.queue[1:]
		if _, ok := p.queued[t.id]; !ok {
			p.release(t) // cancelled while queued
			continue
		}
		delete(p.queued, t.id)
		s.inflight[t.id] = struct{}{}
		s.sent++
		batch = append(batch, t)
	}
	s.prestartLocked()
	return batch
}

// sendLocked sends a batch under the slot's send lock: the feed loop and
// the reader (which sends the next task as soon as a result arrives, saving
// a goroutine wake-up per task) both send.
func (s *slot) sendLocked(conn net.Conn, batch []task, buf *[]byte) error {
	if len(batch) == 0 {
		return nil
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.send(conn, batch, buf)
}

// send writes a batch: small frames coalesced into one write, large
// payloads and lent pieces written without copying. Every task of the batch
// is released, written or not.
func (s *slot) send(conn net.Conn, batch []task, buf *[]byte) error {
	const coalesce = 64 << 10
	b := (*buf)[:0]
	var err error
	for _, t := range batch {
		if err != nil {
			s.pool.release(t)
			continue
		}
		if t.pieces == nil && len(t.payload) < coalesce {
			b = wire.AppendFrame(b, wire.KindTask, t.id, t.payload)
			s.pool.release(t)
			continue
		}
		if len(b) > 0 {
			_, err = conn.Write(b)
			b = b[:0]
		}
		if err == nil {
			err = writeTask(conn, t)
		}
		s.pool.release(t)
	}
	*buf = b
	if err == nil && len(b) > 0 {
		_, err = conn.Write(b)
	}
	return err
}

// writeTask writes one large task frame: its payload, or its lent pieces
// (header and pieces in one writev).
func writeTask(conn net.Conn, t task) error {
	if t.pieces == nil {
		return wire.WriteFrame(conn, wire.KindTask, t.id, t.payload)
	}
	n := 0
	for _, piece := range t.pieces {
		n += len(piece)
	}
	bufs := make(net.Buffers, 0, len(t.pieces)+1)
	bufs = append(bufs, wire.AppendHeader(nil, wire.KindTask, t.id, n))
	bufs = append(bufs, t.pieces...)
	_, err := bufs.WriteTo(conn)
	return err
}

// read reports the worker's results until its connection ends; an end that
// was not asked for (no EXIT sent) is a death and breaks the pool.
func (s *slot) read(conn net.Conn, reader *wire.Reader, proc Proc) {
	p := s.pool
	var nextBuf []task
	var sendBuf []byte
	for {
		f, err := reader.Next()
		if err == nil && (f.Kind == wire.KindResult || f.Kind == wire.KindError) {
			kind := EventResult
			if f.Kind == wire.KindError {
				kind = EventError
			}
			p.mu.Lock()
			_, known := s.inflight[f.ID]
			delete(s.inflight, f.ID)
			var next []task
			if known {
				next = s.takeLocked(nextBuf[:0])
			}
			if len(s.inflight) < p.cfg.Depth {
				// Not refilled: the feeder may have to wait for work, retire
				// the worker or end it. A refilled slot needs nobody.
				p.cond.Broadcast()
			}
			p.mu.Unlock()
			if known {
				// The worker is free: send its next task before anything else.
				_ = s.sendLocked(conn, next, &sendBuf) // a failure shows as a read error
				clear(next)
				nextBuf = next
				p.events.push(Event{Kind: kind, ID: f.ID, Payload: f.Payload})
				continue
			}
			err = fmt.Errorf("a worker process reported task %d, which it was not given", f.ID)
		} else if err == nil {
			err = fmt.Errorf("a worker process sent an unexpected %s frame", f.Kind)
		}
		p.mu.Lock()
		s.dead = true
		expected := s.exiting && len(s.inflight) == 0 && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed))
		p.cond.Broadcast()
		p.mu.Unlock()
		if expected {
			return
		}
		proc.Kill()
		var facts BrokenFacts
		if errors.Is(err, io.EOF) || isConnReset(err) {
			st := s.exitStatus(proc)
			s.deferToKnownStatus(st)
			facts = died(CauseDiedRunning, proc, st)
		} else {
			facts = failure(fmt.Sprintf("the connection to worker pid %d failed: %v", proc.Pid(), err))
		}
		p.breakPool(facts)
		return
	}
}

// lostStatusGrace is how long a slot whose worker's status was lost with
// its zygote leaves the pool to the slot of that zygote (see
// deferToKnownStatus). That slot learns its status at the same moment.
const lostStatusGrace = 2 * time.Second

// deferToKnownStatus gives way, when st was lost because the worker's zygote
// had become another worker of this pool and died first, to that worker's
// slot: it knows its worker's real status (say "exited with code 3", from an
// initializer's os._exit(3) that all workers ran), which should be the
// reason the pool broke, not this unknown one. It returns once the pool
// broke or after lostStatusGrace.
func (s *slot) deferToKnownStatus(st ExitStatus) {
	if st.LostWith == 0 {
		return
	}
	p := s.pool
	wake := time.AfterFunc(lostStatusGrace, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer wake.Stop()
	deadline := time.Now().Add(lostStatusGrace)
	p.mu.Lock()
	for p.broken == "" && time.Now().Before(deadline) {
		p.cond.Wait()
	}
	p.mu.Unlock()
}

// isConnReset reports whether err is the end of a worker's connection by
// its death (the kernel resets a socket closed with unread data).
func isConnReset(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// waitExit waits up to timeout for proc's exit status, then kills it and
// waits for that: no zombie is left. The status is cached, so any number of
// callers (in sequence) get it.
func (s *slot) waitExit(proc Proc, timeout time.Duration) ExitStatus {
	s.exitMu.Lock()
	defer s.exitMu.Unlock()
	if st, ok := s.exits[proc]; ok {
		return st
	}
	var st ExitStatus
	select {
	case st = <-proc.Exited():
	case <-time.After(timeout):
		proc.Kill()
		st = <-proc.Exited()
	}
	s.rememberExit(proc, st)
	return st
}

// rememberExit caches proc's status; exitMu must be held.
func (s *slot) rememberExit(proc Proc, st ExitStatus) {
	if s.exits == nil {
		s.exits = map[Proc]ExitStatus{}
	}
	s.exits[proc] = st
}

// forget drops proc's cached status once nothing will ask for it again.
func (s *slot) forget(proc Proc) {
	s.exitMu.Lock()
	delete(s.exits, proc)
	s.exitMu.Unlock()
}

func (s *slot) exitStatus(proc Proc) ExitStatus { return s.waitExit(proc, 2*time.Second) }

func (s *slot) reap(proc Proc) { s.waitExit(proc, 5*time.Second) }
