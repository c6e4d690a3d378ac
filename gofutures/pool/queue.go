package pool

// queue is a FIFO of task ids on a slice that is reused once drained, so a
// steady stream of submits allocates nothing. Not safe for concurrent use.
type queue struct {
	items []int64
	head  int
}

func (q *queue) len() int { return len(q.items) - q.head }

func (q *queue) push(id int64) { q.items = append(q.items, id) }

// pop removes the oldest id; the queue must not be empty.
func (q *queue) pop() int64 {
	id := q.items[q.head]
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		q.items, q.head = q.items[:n], 0
	}
	return id
}

// drain removes and returns every id, oldest first.
func (q *queue) drain() []int64 {
	ids := append([]int64(nil), q.items[q.head:]...)
	q.items, q.head = q.items[:0], 0
	return ids
}

// pushFront puts id back at the head of the queue (a task taken for a
// worker that could not start).
func (q *queue) pushFront(id int64) {
	if q.head > 0 {
		q.head--
		q.items[q.head] = id
		return
	}
	q.items = append(q.items, 0)
	copy(q.items[1:], q.items)
	q.items[0] = id
}

// remove removes id, searching from the newest, and reports whether it was
// there.
func (q *queue) remove(id int64) bool {
	for i := len(q.items) - 1; i >= q.head; i-- {
		if q.items[i] == id {
			q.items = append(q.items[:i], q.items[i+1:]...)
			if q.head == len(q.items) {
				q.items, q.head = q.items[:0], 0
			}
			return true
		}
	}
	return false
}
