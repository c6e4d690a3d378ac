package pool

// Test-only API: methods the tests in package pool_test use to drive and
// observe a pool. They are compiled into the tests only.

// SubmitMany queues ids in order, as one Submit each but under one lock.
// On an ErrNoThread error none of ids is queued.
func (p *Pool) SubmitMany(ids []int64) error {
	p.mu.Lock()
	if err := p.admitLocked(); err != nil {
		p.mu.Unlock()
		return err
	}
	for _, id := range ids {
		p.queue.push(id)
	}
	p.counters.Submitted(len(ids))
	woken, spawns := p.wakeLocked(len(ids), nil, nil)
	p.mu.Unlock()
	unpark(woken)
	if len(spawns) == 0 {
		return nil
	}
	return p.spawnAll(spawns, ids)
}

// Stats is a snapshot of a pool's counters.
type Stats struct {
	Workers, Idle, Queued int
	Closed, Broken        bool
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Workers: p.live, Idle: len(p.idle), Queued: p.queue.len(), Closed: p.closed, Broken: p.broken}
}
