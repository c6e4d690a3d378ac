package procpool

import (
	"encoding/json"
	"time"

	"github.com/gofutures/gofutures/gofutures/panics"
)

// Per-task fates: the pool may end ONE task without breaking: it kills the
// worker running it (SIGKILL), reports that task alone, and the slot starts
// a replacement worker through its usual path (slot.generation), as it does
// for a worker that reached its quota. Three things end a task so:
//
//   - its deadline (Config.TaskTimeout, or SetTaskTimeout for one task):
//     an EventTimeout. The deadline runs from when the task is sent to a
//     worker; with Depth 1 (ProcessPoolExecutor) that is when it starts.
//   - TerminateTask: an EventTerminated.
//   - with Config.FailTaskOnDeath, the death of its worker (a segfault,
//     os._exit, a SIGKILL from outside): an EventDied, whose payload is the
//     BrokenFacts the pool would have broken with.
//
// A worker the pool killed on purpose is never reported as a death, whatever
// the policy. Other tasks in flight on it (Depth > 1 only) fail with
// EventDied. A worker that dies idle under FailTaskOnDeath is replaced;
// after maxIdleDeaths such deaths in a row with no result between them, the
// pool breaks instead (so a worker that cannot stay alive is not restarted
// for ever). A replacement that fails to start (dies before it is ready,
// its initializer fails) breaks the pool at once, as the first workers do.

// Per-task event kinds (see EventKind).
const (
	// EventTimeout: task ID passed its deadline and its worker was killed;
	// Payload is TimeoutFacts (JSON).
	EventTimeout EventKind = 4
	// EventTerminated: task ID was ended by TerminateTask (its worker
	// killed); Payload is empty.
	EventTerminated EventKind = 5
	// EventDied: the worker running task ID died (FailTaskOnDeath, or it was
	// killed for another task); Payload is BrokenFacts (JSON).
	EventDied EventKind = 6
)

// maxIdleDeaths is how many workers in a row may die idle (no result
// between them) under FailTaskOnDeath before the pool breaks.
const maxIdleDeaths = 3

// TimeoutFacts is the payload of EventTimeout.
type TimeoutFacts struct {
	Pid     int     `json:"pid"`
	Timeout float64 `json:"timeout"` // seconds
}

// fate is why the pool killed a worker on purpose.
type fate uint8

const (
	fateTimeout fate = iota + 1
	fateTerminated
)

// slotFate is a slot's share of per-task fates. Guarded by pool.mu.
type slotFate struct {
	timers     map[uint64]*time.Timer   // deadlines of tasks in flight
	deadlines  map[uint64]time.Duration // their length
	killed     map[uint64]fate          // tasks whose worker the pool killed, and why
	killing    bool                     // the pool killed the current worker on purpose
	replace    bool                     // the worker's end was reported per task: start another
	idleDeaths int                      // idle deaths in a row (FailTaskOnDeath)
}

// SetTaskTimeout sets task id's deadline, overriding Config.TaskTimeout;
// call it before Submit. A task cancelled or dropped forgets it.
func (p *Pool) SetTaskTimeout(id uint64, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken != "" || p.closing {
		return // Submit will refuse the task
	}
	if p.timeouts == nil {
		p.timeouts = map[uint64]time.Duration{}
	}
	p.timeouts[id] = d
}

// TerminateTask ends task id: one still queued is taken back (it never
// runs and no event reports it); one in flight has its worker killed and
// replaced, and an EventTerminated reports it. It reports whether the task
// was found in either state (false: unknown, or already reported).
func (p *Pool) TerminateTask(id uint64) bool {
	p.mu.Lock()
	if _, ok := p.queued[id]; ok {
		delete(p.queued, id)
		delete(p.timeouts, id)
		p.counters.Cancelled(1)
		p.mu.Unlock()
		return true
	}
	for _, s := range p.slots {
		if _, ok := s.inflight[id]; ok && s.proc != nil {
			proc := s.proc
			p.mu.Unlock()
			return s.kill(proc, id, fateTerminated)
		}
	}
	p.mu.Unlock()
	return false
}

// armLocked starts task id's deadline as it is sent to the slot's worker;
// pool.mu must be held.
func (s *slot) armLocked(id uint64) {
	p := s.pool
	d, ok := p.timeouts[id]
	if ok {
		delete(p.timeouts, id)
	} else {
		d = p.cfg.TaskTimeout
		if d <= 0 {
			return
		}
	}
	if s.fate.timers == nil {
		s.fate.timers = map[uint64]*time.Timer{}
		s.fate.deadlines = map[uint64]time.Duration{}
	}
	proc := s.proc
	s.fate.deadlines[id] = d
	s.fate.timers[id] = time.AfterFunc(d, func() {
		if r := panics.Try(func() {
			hook("deadline")
			s.kill(proc, id, fateTimeout)
		}); r != nil {
			p.internalError("ending a task past its deadline")(r)
		}
	})
}

// disarmLocked forgets task id's deadline (it was reported); pool.mu must
// be held.
func (s *slot) disarmLocked(id uint64) {
	if t, ok := s.fate.timers[id]; ok {
		t.Stop()
		delete(s.fate.timers, id)
		delete(s.fate.deadlines, id)
	}
	delete(s.fate.killed, id)
}

// kill kills proc, the worker running task id, for fate f, unless the task
// was reported meanwhile or the worker is gone; it reports whether it did.
func (s *slot) kill(proc Proc, id uint64, f fate) bool {
	p := s.pool
	p.mu.Lock()
	_, running := s.inflight[id]
	if !running || s.proc != proc || s.dead || p.broken != "" {
		p.mu.Unlock()
		return false
	}
	if s.fate.killed == nil {
		s.fate.killed = map[uint64]fate{}
	}
	s.fate.killed[id] = f
	s.fate.killing = true
	p.mu.Unlock()
	proc.Kill()
	return true
}

// endTasks is called by the reader when its worker's connection ended
// unasked (facts: what the pool would break with). It reports the tasks in
// flight one by one and has the slot replace the worker, and returns true,
// when the pool killed the worker on purpose, or under FailTaskOnDeath for
// a death; otherwise it returns false (the pool breaks).
func (s *slot) endTasks(proc Proc, facts func() BrokenFacts) bool {
	p := s.pool
	p.mu.Lock()
	killing := s.fate.killing
	p.mu.Unlock()
	if !killing && !p.cfg.FailTaskOnDeath {
		return false
	}
	died := facts()
	if !killing && died.Cause != CauseDiedRunning {
		return false // not a death (a protocol failure): break
	}
	var events []Event
	p.mu.Lock()
	for id := range s.inflight {
		ev := Event{ID: id}
		switch s.fate.killed[id] {
		case fateTimeout:
			ev.Kind = EventTimeout
			ev.Payload, _ = json.Marshal(TimeoutFacts{Pid: proc.Pid(), Timeout: s.fate.deadlines[id].Seconds()})
		case fateTerminated:
			ev.Kind = EventTerminated
		default:
			ev.Kind, ev.Payload = EventDied, []byte(died.encode())
		}
		events = append(events, ev)
		s.disarmLocked(id)
		s.endedLocked(id, ev.Kind)
	}
	clear(s.inflight)
	idle := len(events) == 0 && !killing
	if idle {
		s.fate.idleDeaths++
	}
	tooMany := s.fate.idleDeaths >= maxIdleDeaths
	s.fate.killing = false
	s.fate.replace = !tooMany
	p.cond.Broadcast()
	p.mu.Unlock()
	if tooMany {
		p.breakPool(died)
		return true
	}
	for _, ev := range events {
		p.events.push(ev)
	}
	return true
}

// resultLocked notes that the worker reported task id; pool.mu must be held.
func (s *slot) resultLocked(id uint64) {
	s.disarmLocked(id)
	s.fate.idleDeaths = 0
}

// endGenerationLocked stops the deadlines left (the worker is gone) and
// reports whether the slot should start a replacement; pool.mu must be held.
func (s *slot) endGenerationLocked() bool {
	for id, t := range s.fate.timers {
		t.Stop()
		delete(s.fate.timers, id)
	}
	clear(s.fate.deadlines)
	clear(s.fate.killed)
	s.fate.killing = false
	replace := s.fate.replace && s.pool.broken == ""
	s.fate.replace = false
	return replace
}
