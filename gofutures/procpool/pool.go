package procpool

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofutures/gofutures/gofutures/internal/taskstats"
	"github.com/gofutures/gofutures/gofutures/internal/wait"
	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/wire"
)

// ErrShutdown is returned by Submit after Close.
var ErrShutdown = errors.New("cannot schedule new futures after shutdown")

// ErrBroken is wrapped by Submit's error once the pool is broken.
var ErrBroken = errors.New("the process pool is not usable anymore")

// Config describes a pool.
type Config struct {
	Workers          int      // number of worker processes (>= 1)
	MaxTasksPerChild int      // tasks a worker runs before it is replaced; 0: no limit
	Depth            int      // tasks in flight per worker; 0: 2
	InitPayload      []byte   // sent to every worker in INIT
	InitFds          []int    // sent to every worker with INIT, after its stdout and stderr; the caller owns them
	Launcher         Launcher // how workers start
	MaxPayload       int      // largest frame accepted from a worker; 0: wire.DefaultMaxPayload
	// StartTimeout is how long a launched worker has to connect and say
	// HELLO; 0: 60 s (defaultStartTimeout). INIT and the initializer have
	// no time limit, as in the stdlib.
	StartTimeout time.Duration

	// Alloc, if set, provides the buffers of result payloads (Event.Payload);
	// Release, if set, is given every task payload once it has been written
	// to a worker. Together they let the caller recycle large buffers.
	Alloc   func(n int) []byte
	Release func([]byte)

	// Per-task fates (see fate.go). TaskTimeout: every task's deadline from
	// when a worker is sent it (0: none; SetTaskTimeout overrides it per
	// task). FailTaskOnDeath: a worker's death fails only its tasks
	// (EventDied) and the worker is replaced, instead of breaking the pool.
	// Replaceable: workers may be replaced at any time, so the launcher is
	// never spent on the last worker (FinalLauncher); TaskTimeout and
	// FailTaskOnDeath imply it.
	TaskTimeout     time.Duration
	FailTaskOnDeath bool
	Replaceable     bool
	// MaxWorkerMemory: a worker whose resident set passes this many bytes
	// after a task is replaced, as at its task quota (memory.go); 0: no limit.
	MaxWorkerMemory int64
}

type task struct {
	id      uint64
	payload []byte
	// pieces, if set, are the payload in parts that the caller lent
	// (SubmitPieces); done is called once they are written or dropped.
	pieces [][]byte
	done   func()
}

// Pool is a supervised pool of worker processes. Use New.
type Pool struct {
	cfg      Config
	listener *net.UnixListener
	socket   string
	events   *eventQueue
	launches chan launchRequest

	mu    sync.Mutex
	cond  sync.Cond
	queue []task
	// queued holds the ids in queue that may still be sent; Cancel removes
	// an id, and a task whose id is gone is dropped when it reaches the front.
	queued  map[uint64]struct{}
	closing bool   // Close called: exit once the queue is empty and nothing is in flight
	broken  string // once broken, why: encoded BrokenFacts
	// brokenCh is closed when the pool breaks: a worker still starting
	// stops waiting for its connection.
	brokenCh chan struct{}
	slots    []*slot
	hellos   map[uint64]chan net.Conn
	running  int // slot goroutines still running
	hungry   int // slot feeders waiting for a task they could send now
	// timeouts are the deadlines SetTaskTimeout gave tasks not yet sent.
	timeouts map[uint64]time.Duration

	finished       chan struct{} // closed when every slot, the launcher and the acceptor are done
	launcherClosed chan struct{} // closed when the spawner has closed the launcher

	counters taskstats.Counters // stats.go
	// Guarded by mu: ForceStop was called (forcestop.go), and the signal it sent.
	forcing     bool
	forceSignal syscall.Signal
}

// New starts the pool: its socket, its launcher and Workers worker processes
// (started in the background; tasks queue until they are ready).
func New(cfg Config) (*Pool, error) {
	if cfg.Workers < 1 {
		return nil, errors.New("max_workers must be greater than 0")
	}
	if cfg.Depth <= 0 {
		cfg.Depth = 2
	}
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = wire.DefaultMaxPayload
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = defaultStartTimeout
	}
	if cfg.TaskTimeout > 0 || cfg.FailTaskOnDeath {
		cfg.Replaceable = true
	}
	ln, address, err := listen()
	if err != nil {
		return nil, err
	}
	p := &Pool{
		cfg:      cfg,
		listener: ln,
		socket:   address,
		events:   newEventQueue(),
		launches: make(chan launchRequest),
		hellos:   map[uint64]chan net.Conn{},
		queued:   map[uint64]struct{}{},
		finished: make(chan struct{}),
		brokenCh: make(chan struct{}),

		launcherClosed: make(chan struct{}),
	}
	p.cond.L = &p.mu
	// Every field is set before the first goroutine starts: any of them may
	// break the pool at once, which reads the slots.
	p.running = cfg.Workers
	for i := 0; i < cfg.Workers; i++ {
		p.slots = append(p.slots, &slot{pool: p, index: i})
	}
	go p.spawner() // recovers itself: it must close launcherClosed whatever happens
	panics.Go(p.accept, p.internalError("accepting workers' connections"))
	for _, s := range p.slots {
		go s.run() // recovers itself: it must call slotDone whatever happens
	}
	return p, nil
}

// internalError returns what a goroutine of the pool does with a panic it
// recovered: break the pool, the Go stack in the reason, so that every
// future still waiting fails with it (a Go panic must never abort Python).
func (p *Pool) internalError(where string) func(*panics.Recovered) {
	return func(r *panics.Recovered) {
		// Called outside any recover: a panic breaking the pool is dropped
		// (nothing is left to report it to), not left to end the process.
		_ = panics.Try(func() {
			p.breakPool(failure("internal error in the process pool supervisor (" + where + "): " + r.Error()))
		})
	}
}

// panicHook, when set (tests only, see export_test.go), is called by each
// goroutine of the package at the start of its work with the goroutine's
// name, so that a test can make any of them panic.
var panicHook atomic.Pointer[func(site string)]

func hook(site string) {
	if h := panicHook.Load(); h != nil {
		(*h)(site)
	}
}

// Submit queues a task. payload is kept, not copied.
func (p *Pool) Submit(id uint64, payload []byte) error {
	return p.submit(task{id: id, payload: payload})
}

// SubmitPieces queues a task whose payload is the concatenation of pieces,
// written to the worker as they are (no copy). The pool calls done exactly
// once, when the pieces are written or dropped (cancelled, pool broken);
// until then the caller must keep them unchanged. If SubmitPieces returns
// an error, done is not called.
func (p *Pool) SubmitPieces(id uint64, pieces [][]byte, done func()) error {
	return p.submit(task{id: id, pieces: pieces, done: done})
}

func (p *Pool) submit(t task) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken != "" {
		return &BrokenError{Facts: p.broken}
	}
	if p.closing {
		return ErrShutdown
	}
	p.queue = append(p.queue, t)
	p.queued[t.id] = struct{}{}
	p.counters.Submitted(1)
	if p.hungry > 0 {
		// Busy slots are fed by their readers as results arrive: waking
		// every slot on each submit cost several goroutine switches a task.
		p.cond.Broadcast()
	}
	return nil
}

// Cancel takes task id back if no worker has been sent it yet, and reports
// whether it did; the task then never runs and no event reports it. Cost:
// one map lookup under the pool's lock.
func (p *Pool) Cancel(id uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.queued[id]; !ok {
		return false
	}
	delete(p.queued, id)
	p.counters.Cancelled(1)
	delete(p.timeouts, id)
	return true
}

// Close asks the pool to finish: workers exit once the queue is empty and
// their in-flight tasks are reported. Idempotent; does not wait (see Wait).
func (p *Pool) Close() {
	p.mu.Lock()
	p.closing = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Kill breaks the pool on purpose (reason is the Detail of the Broken
// event's CauseFailure facts) and kills its workers.
func (p *Pool) Kill(reason string) { p.breakPool(failure(reason)) }

// NextEvents blocks until events are available and returns them all (a
// batch), reusing buf; ok is false once the pool has finished and every
// event was taken.
func (p *Pool) NextEvents(buf []Event) ([]Event, bool) { return p.events.take(buf) }

// Wait waits up to timeout (forever if negative) for the pool to finish:
// every worker exited and was reaped, the zygote stopped, the socket closed.
func (p *Pool) Wait(timeout time.Duration) bool { return wait.Closed(p.finished, timeout) }

// Pids returns the pids of the live workers.
func (p *Pool) Pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	for _, s := range p.slots {
		if s.proc != nil {
			pids = append(pids, s.proc.Pid())
		}
	}
	return pids
}

// breakPool marks the pool broken (the first facts win), drops the queue,
// reports one Broken event and kills every worker.
func (p *Pool) breakPool(facts BrokenFacts) {
	reason := facts.encode()
	p.mu.Lock()
	if p.broken != "" {
		p.mu.Unlock()
		return
	}
	p.broken = reason
	close(p.brokenCh)
	dropped := p.queue
	p.queue = nil
	p.countBrokenLocked()
	clear(p.queued)
	clear(p.timeouts)
	var procs []Proc
	for _, s := range p.slots {
		if s.proc != nil {
			procs = append(procs, s.proc)
		}
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	p.events.push(Event{Kind: EventBroken, Payload: []byte(reason)})
	for _, t := range dropped {
		p.release(t)
	}
	for _, proc := range procs {
		proc.Kill()
	}
}

// release hands a task's payload back once written or dropped: a payload
// to Config.Release for reuse, lent pieces to their done function.
func (p *Pool) release(t task) {
	if t.done != nil {
		t.done()
		return
	}
	if p.cfg.Release != nil && t.payload != nil {
		p.cfg.Release(t.payload)
	}
}

// slotDone is called by each slot goroutine as it ends; the last one tears
// the pool down.
func (p *Pool) slotDone() {
	p.mu.Lock()
	p.running--
	last := p.running == 0
	p.mu.Unlock()
	if !last {
		return
	}
	// Deferred, so that a panic in one step does not leave Join waiting.
	defer close(p.finished)
	defer p.events.close()
	defer p.listener.Close()
	close(p.launches)
	<-p.launcherClosed // a zygote of the pool's own has exited and been reaped
}

type launchRequest struct {
	token uint64
	reply chan launchReply
}

type launchReply struct {
	proc Proc
	err  error
}

// spawner starts every process of the pool from one goroutine locked to one
// OS thread: PR_SET_PDEATHSIG fires when the *thread* that forked a child
// exits, so that thread must live as long as the pool. It closes the
// launcher when the pool is done, then lets its thread exit.
func (p *Pool) spawner() {
	runtime.LockOSThread()
	defer close(p.launcherClosed)
	launched := 0
	for req := range p.launches {
		launched++
		launch := p.cfg.Launcher.Launch
		// Without a task quota or memory limit no worker is ever replaced (a dead one breaks
		// the pool), so the last first-generation worker is the last launch.
		if fl, ok := p.cfg.Launcher.(FinalLauncher); ok && p.cfg.MaxTasksPerChild == 0 && p.cfg.MaxWorkerMemory == 0 && !p.cfg.Replaceable && launched == p.cfg.Workers {
			launch = fl.LaunchFinal
		}
		var reply launchReply
		if r := panics.Try(func() {
			hook("spawner")
			reply.proc, reply.err = launch(req.token, p.socket)
		}); r != nil {
			reply.err = r
		}
		req.reply <- reply
	}
	if r := panics.Try(func() { _ = p.cfg.Launcher.Close() }); r != nil {
		p.internalError("closing the launcher")(r)
	}
}

func (p *Pool) launch(token uint64) (Proc, error) {
	reply := make(chan launchReply, 1)
	p.launches <- launchRequest{token, reply}
	r := <-reply
	return r.proc, r.err
}

// accept hands each connecting worker to the slot waiting for its token.
func (p *Pool) accept() {
	hook("accept")
	for {
		conn, err := p.listener.AcceptUnix()
		if err != nil {
			return
		}
		panics.Go(func() { p.greet(conn) }, func(r *panics.Recovered) {
			// Break first: closing the connection lets the worker exit,
			// and its exit must not be reported as the cause instead.
			p.internalError("greeting a worker")(r)
			conn.Close()
		})
	}
}

func (p *Pool) greet(conn *net.UnixConn) {
	hook("greet")
	if _, uid, err := peerCred(conn); err != nil || uid != uint32(os.Getuid()) {
		conn.Close() // another user's process: not a worker of ours
		return
	}
	// Large socket buffers: a 1 MiB payload crosses in one or two wake-ups
	// instead of one per default-sized buffer (about 200 KiB).
	_ = conn.SetReadBuffer(socketBuffer)
	_ = conn.SetWriteBuffer(socketBuffer)
	_ = conn.SetReadDeadline(time.Now().Add(p.cfg.StartTimeout))
	// Read unbuffered: the connection goes to a slot, which reads the rest.
	var hdr [wire.HeaderSize]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		conn.Close()
		return
	}
	kind, token, n := wire.ParseHeader(hdr[:])
	if kind != wire.KindHello || n > 64 { // a pid is a few digits
		conn.Close()
		return
	}
	if _, err := io.ReadFull(conn, make([]byte, n)); err != nil {
		conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	p.mu.Lock()
	ch, ok := p.hellos[token]
	delete(p.hellos, token)
	p.mu.Unlock()
	if !ok {
		conn.Close()
		return
	}
	ch <- conn
}

// listen opens the pool's listening socket: a Unix socket in Linux's
// abstract namespace, named "@gofutures-<pid>-<128 random bits>" (the "@"
// stands for the leading NUL byte, in Go's net package as in the address
// workers are given).
//
// Why abstract, and not a socket file or socket pairs: a socket file needs
// a directory (TMPDIR, which may be missing, unwritable, or so long that the
// path passes the 108 bytes of sun_path: "bind: invalid argument"), and
// stays there for good when the program is killed with SIGKILL. An abstract
// socket has no file: nothing is created, nothing is left, and it goes away
// with its last descriptor, however the program ends. Socket pairs would
// need no name either, but a worker forked by a zygote would have to get its
// end through the zygote, whose command channel is a pipe (no SCM_RIGHTS)
// shared by every pool; an address goes through the existing line protocol.
//
// An abstract socket has no file permissions: any process of the same
// network namespace can connect. What keeps the pool's workers its own: the
// name is unguessable, a worker must present the single-use random token it
// was started with (HELLO), and the kernel's peer credentials (SO_PEERCRED)
// must show this process's uid (greet) and the pid of the process the
// launcher started for that token (slot.start).
func listen() (*net.UnixListener, string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, "", err
	}
	address := fmt.Sprintf("@gofutures-%d-%x", os.Getpid(), b)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: address, Net: "unix"})
	if err != nil {
		return nil, "", fmt.Errorf("listening for workers on an abstract Unix socket: %w", err)
	}
	return ln, address, nil
}

// peerCred returns the pid and uid of the process at the other end of conn,
// as the kernel recorded them when it connected.
func peerCred(conn *net.UnixConn) (pid int, uid uint32, err error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, 0, err
	}
	if credErr != nil {
		return 0, 0, credErr
	}
	return int(cred.Pid), cred.Uid, nil
}

// socketBuffer is the send and receive buffer size of worker sockets.
const socketBuffer = 4 << 20

func newToken() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) | 1
}
