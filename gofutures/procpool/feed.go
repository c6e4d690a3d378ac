package procpool

import (
	"net"

	"github.com/gofutures/gofutures/gofutures/wire"
)

// feed sends queued tasks to the worker, keeping up to Depth in flight, and
// ends the worker when it reached its quota (returns true: replace it), when
// the pool is closing and idle, or when the pool broke or the worker died.
func (s *slot) feed(conn net.Conn) bool {
	p := s.pool
	var batch []task
	var buf []byte
	for {
		p.mu.Lock()
		for {
			if p.broken != "" || s.dead {
				p.mu.Unlock()
				return false
			}
			quotaLeft := s.quotaLeftLocked()
			// A worker being killed (fate.go) gets nothing more.
			if quotaLeft && len(p.queue) > 0 && len(s.inflight) < p.cfg.Depth && !s.fate.killing {
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
		if err := s.sendBatch(conn, batch, &buf); err != nil {
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
	if s.exiting || s.dead || p.broken != "" || s.fate.killing {
		return batch
	}
	for len(p.queue) > 0 && len(s.inflight) < p.cfg.Depth && s.quotaLeftLocked() {
		t := p.queue[0]
		p.queue[0] = task{}
		p.queue = p.queue[1:]
		if _, ok := p.queued[t.id]; !ok {
			p.release(t) // cancelled while queued
			continue
		}
		delete(p.queued, t.id)
		s.inflight[t.id] = struct{}{}
		s.sentLocked(t.id)
		s.armLocked(t.id)
		s.sent++
		batch = append(batch, t)
	}
	s.prestartLocked()
	return batch
}

// sendBatch sends a batch under the slot's send lock (sendMu): the feed
// loop and the reader (which sends the next task as soon as a result
// arrives, saving a goroutine wake-up per task) both send. The caller must
// not hold pool.mu: a write may block until the worker reads.
func (s *slot) sendBatch(conn net.Conn, batch []task, buf *[]byte) error {
	if len(batch) == 0 {
		return nil
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.writeBatchLocked(conn, batch, buf)
}

// writeBatchLocked writes a batch: small frames coalesced into one write,
// large payloads and lent pieces written without copying. Every task of the
// batch is released, written or not. sendMu must be held.
func (s *slot) writeBatchLocked(conn net.Conn, batch []task, buf *[]byte) error {
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
