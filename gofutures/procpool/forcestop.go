package procpool

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// Force stop: Python 3.14's ProcessPoolExecutor.terminate_workers() and
// kill_workers() (the caller has already shut the pool down, cancelling the
// tasks still cancellable), and the end of shutdown(timeout=...).
//
// ForceStop signals every live worker and lets each death decide: a worker
// that dies with a task in flight, or while tasks still wait in the queue,
// breaks the pool (its death's facts say which signal ended it), so that
// every unreported task fails; one that dies idle with nothing queued ends
// as if it had been sent EXIT. A worker that survives the signal (a
// SIGTERM handler) goes on as in a closing pool. No new worker starts.

// forcedQueueDetail is why the pool broke when a forced stop ended its
// workers while tasks still waited in the queue (a worker replaced after its
// quota, say, whose successor will not start).
const forcedQueueDetail = "the pool's workers were stopped by force (terminate_workers() or kill_workers()) " +
	"while tasks still waited for a worker; they will not run"

// ForceStop closes the pool and sends sig to every live worker, and to
// every worker that connects later. Idempotent; it does not wait (see Wait).
// SIGKILL goes through Proc.Kill.
func (p *Pool) ForceStop(sig syscall.Signal) {
	p.mu.Lock()
	p.closing = true
	if !p.forcing {
		p.forcing, p.forceSignal = true, sig
	}
	var procs []Proc
	for _, s := range p.slots {
		if s.proc != nil {
			procs = append(procs, s.proc)
		}
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	for _, proc := range procs {
		signalProc(proc, sig)
	}
}

// forcedEndLocked reports whether the end of a worker's connection (err) is
// the expected outcome of a forced stop: nothing in flight, nothing queued.
// pool.mu must be held.
func (s *slot) forcedEndLocked(err error) bool {
	p := s.pool
	return p.forcing && len(s.inflight) == 0 && len(p.queued) == 0 && isEnd(err)
}

// forcedStopLocked reports, for a slot about to start its next worker,
// whether a forced stop forbids it, and whether tasks would then be left
// with no worker to run them (the pool must break). pool.mu must be held.
func (s *slot) forcedStopLocked() (stop, stranded bool) {
	p := s.pool
	if !p.forcing {
		return false, false
	}
	return true, p.broken == "" && len(p.queued) > 0
}

// signaler is a Proc that can be sent any signal (both launchers' are).
type signaler interface {
	Signal(sig syscall.Signal)
}

// signalProc sends sig to proc: SIGKILL (and any signal to a Proc that can
// only be killed) through Kill.
func signalProc(proc Proc, sig syscall.Signal) {
	if sg, ok := proc.(signaler); ok && sig != syscall.SIGKILL {
		sg.Signal(sig)
		return
	}
	proc.Kill()
}

// Signal implements signaler: only until the worker has been reaped (its
// pid may be another process's after that).
func (p *zygoteProc) Signal(sig syscall.Signal) {
	p.killUnlessEnded(func() { _ = syscall.Kill(p.pid, sig) })
}

// Signal implements signaler: only until the worker has been reaped.
func (p *execProc) Signal(sig syscall.Signal) {
	p.killUnlessEnded(func() { _ = p.cmd.Process.Signal(sig) })
}

// isEnd reports whether err is the end of a worker's connection: closed by
// the worker (its exit), by this side, or reset by its death.
func isEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isConnReset(err)
}
