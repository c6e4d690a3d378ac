package procpool

import "sync"

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventResult: task ID returned; Payload is the pickled result.
	EventResult EventKind = 1
	// EventError: task ID raised; Payload is the pickled exception.
	EventError EventKind = 2
	// EventBroken: the pool broke; Payload is the reason (UTF-8). Every task
	// not yet reported by a Result or Error fails with it.
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
