package procpool

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/gofutures/gofutures/gofutures/wire"
)

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
			s.checkMemory(proc) // before its next task is taken (memory.go)
			p.mu.Lock()
			_, known := s.inflight[f.ID]
			delete(s.inflight, f.ID)
			if known {
				s.resultLocked(f.ID)
			}
			var next []task
			if known {
				s.doneLocked(f.ID, kind)
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
				_ = s.sendBatch(conn, next, &sendBuf) // a failure shows as a read error
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
		expected := s.exiting && len(s.inflight) == 0 && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)) ||
			s.forcedEndLocked(err)
		p.cond.Broadcast()
		p.mu.Unlock()
		if expected {
			return
		}
		proc.Kill()
		var known *BrokenFacts
		facts := func() BrokenFacts { // learnt once: it may wait for the exit status
			if known == nil {
				f := failure(fmt.Sprintf("the connection to worker pid %d failed: %v", proc.Pid(), err))
				if errors.Is(err, io.EOF) || isConnReset(err) {
					st := s.exitStatus(proc)
					s.deferToKnownStatus(st)
					f = died(CauseDiedRunning, proc, st)
				}
				known = &f
			}
			return *known
		}
		if s.endTasks(proc, facts) {
			return // killed on purpose, or FailTaskOnDeath: the slot replaces it
		}
		p.breakPool(facts())
		return
	}
}

// isConnReset reports whether err is the end of a worker's connection by
// its death (the kernel resets a socket closed with unread data).
func isConnReset(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
