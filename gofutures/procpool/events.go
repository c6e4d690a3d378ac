package procpool

import (
	"encoding/json"
	"errors"
	"sync"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventResult: task ID returned; Payload is the pickled result.
	EventResult EventKind = 1
	// EventError: task ID raised; Payload is the pickled exception.
	EventError EventKind = 2
	// EventBroken: the pool broke; Payload is why, as BrokenFacts (JSON).
	// Every task not yet reported by a Result or Error fails with it.
	EventBroken EventKind = 3
)

// Event is one completion (or the pool breaking) reported by NextEvents.
type Event struct {
	Kind    EventKind
	ID      uint64
	Payload []byte
}

// eventQueue is an unbounded FIFO of events that a consumer takes in
// batches: producers never block, and one wake-up of the consumer delivers
// everything that accumulated meanwhile.
type eventQueue struct {
	mu     sync.Mutex
	items  []Event
	closed bool
	ready  chan struct{} // holds a token while items is non-empty or closed
}

func newEventQueue() *eventQueue { return &eventQueue{ready: make(chan struct{}, 1)} }

func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	q.items = append(q.items, ev)
	q.mu.Unlock()
	q.notify()
}

// close lets take return false once the queue is drained.
func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.notify()
}

func (q *eventQueue) notify() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take blocks until events are available and returns all of them, reusing
// buf's storage; ok is false when the queue is closed and empty.
func (q *eventQueue) take(buf []Event) (events []Event, ok bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			events = append(buf[:0], q.items...)
			clear(q.items)
			q.items = q.items[:0]
			q.mu.Unlock()
			return events, true
		}
		if q.closed {
			q.mu.Unlock()
			return nil, false
		}
		q.mu.Unlock()
		<-q.ready
	}
}

// Cause says why a pool broke; BrokenFacts.Cause.
type Cause uint8

const (
	// CauseFailure: the supervisor failed (a worker could not be started or
	// talked to, an internal error); Detail says what happened.
	CauseFailure Cause = 0
	// CauseDiedStarting: worker Pid ended before it connected.
	CauseDiedStarting Cause = 1
	// CauseDiedInitializing: worker Pid ended during its initialization.
	CauseDiedInitializing Cause = 2
	// CauseDiedRunning: worker Pid ended while it had tasks.
	CauseDiedRunning Cause = 3
	// CauseInitializerRaised: the initializer raised in worker Pid; Detail is
	// the last line of its traceback.
	CauseInitializerRaised Cause = 4
)

// BrokenFacts are why a pool broke, as facts: the Broken event's payload
// (JSON) and Submit's BrokenError carry them, and the caller words them
// (gofutures.process composes the stdlib's sentences from them).
type BrokenFacts struct {
	Cause Cause `json:"cause"`
	Pid   int   `json:"pid,omitempty"`
	// How the worker ended, for the Died causes: its exit code or signal,
	// and Status, that in words (ExitStatus.String).
	Code   int    `json:"code,omitempty"`
	Signal int    `json:"signal,omitempty"`
	Status string `json:"status,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// died is the facts of worker proc's death, cause one of the Died causes.
func died(cause Cause, proc Proc, st ExitStatus) BrokenFacts {
	return BrokenFacts{Cause: cause, Pid: proc.Pid(), Code: st.Code, Signal: int(st.Signal), Status: st.String()}
}

// failure is the facts of a pool broken by something other than a worker's
// death or initializer.
func failure(detail string) BrokenFacts { return BrokenFacts{Cause: CauseFailure, Detail: detail} }

// encode returns the facts as the Broken event's payload.
func (f BrokenFacts) encode() string {
	b, err := json.Marshal(f)
	if err != nil { // cannot happen: plain fields
		return `{"cause":0,"detail":"the pool broke"}`
	}
	return string(b)
}

// BrokenError is Submit's error once the pool broke: errors.Is(err,
// ErrBroken) holds, and Facts is the Broken event's payload.
type BrokenError struct{ Facts string }

func (e *BrokenError) Error() string        { return ErrBroken.Error() + ": " + e.Facts }
func (e *BrokenError) Is(target error) bool { return target == ErrBroken }

// factsError is an error of slot.start that broke the pool with these facts.
type factsError struct{ facts BrokenFacts }

func (e *factsError) Error() string { return e.facts.encode() }

// factsOf returns the facts an error carries, or a failure described by its
// text.
func factsOf(err error) BrokenFacts {
	var fe *factsError
	if errors.As(err, &fe) {
		return fe.facts
	}
	return failure(err.Error())
}
