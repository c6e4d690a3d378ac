package procpool

import (
	"time"

	"github.com/gofutures/gofutures/gofutures/panics"
)

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
		_ = panics.Try(func() { // its own goroutine: nothing else recovers
			p.mu.Lock()
			defer p.mu.Unlock()
			p.cond.Broadcast()
		})
	})
	defer wake.Stop()
	deadline := time.Now().Add(lostStatusGrace)
	p.mu.Lock()
	for p.broken == "" && time.Now().Before(deadline) {
		p.cond.Wait()
	}
	p.mu.Unlock()
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
	s.rememberExitLocked(proc, st)
	return st
}

// rememberExitLocked caches proc's status; exitMu must be held.
func (s *slot) rememberExitLocked(proc Proc, st ExitStatus) {
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

// exitStatus is the status of a worker whose connection ended unasked.
func (s *slot) exitStatus(proc Proc) ExitStatus { return s.waitExit(proc, deathStatusWait) }

// reap waits for a worker that should be exiting: no zombie is left.
func (s *slot) reap(proc Proc) { s.waitExit(proc, reapWait) }
