package procpool

import "sync/atomic"

// Test-only API, compiled into the tests only: fault injection and what
// the tests in package procpool_test observe of a pool.

// Queued returns how many tasks wait for a worker (cancelled ones excluded).
func (p *Pool) Queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queued)
}

// Broken returns why the pool broke (the Broken event's payload: JSON
// BrokenFacts), or "".
func (p *Pool) Broken() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.broken
}

// PanicOnceAt makes the next goroutine of the package that reaches site
// (see hook) panic, once; PanicOnceAt("") removes the hook.
func PanicOnceAt(site string) {
	if site == "" {
		panicHook.Store(nil)
		return
	}
	var fired atomic.Bool
	h := func(at string) {
		if at == site && fired.CompareAndSwap(false, true) {
			panic("injected panic at " + site)
		}
	}
	panicHook.Store(&h)
}
