package native

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/pool"
	"github.com/gofutures/gofutures/gofutures/pybridge"
)

// threadPools maps the ids handed to Python to live pools. A pool leaves the
// map when its last worker has stopped after shutdown.
var threadPools = struct {
	sync.Mutex
	next int64
	m    map[int64]*pool.Pool
}{m: map[int64]*pool.Pool{}}

func lookupThreadPool(id int64) (*pool.Pool, error) {
	threadPools.Lock()
	defer threadPools.Unlock()
	p, ok := threadPools.m[id]
	if !ok {
		return nil, fmt.Errorf("invalid: no thread pool %d", id)
	}
	return p, nil
}

// kindError prefixes pool errors with the kind Python maps to an exception.
func kindError(err error) error {
	switch {
	case errors.Is(err, pool.ErrShutdown):
		return fmt.Errorf("shutdown: %w", err)
	case errors.Is(err, pool.ErrBroken):
		return fmt.Errorf("broken: %w", err)
	}
	return err
}

// ThreadPoolNew starts a pool of at most maxWorkers workers and returns its id.
func ThreadPoolNew(maxWorkers int64) (id int64, err error) {
	defer panics.Catch(&err)
	if maxWorkers < 1 {
		return 0, errors.New("invalid: max_workers must be greater than 0")
	}
	threadPools.Lock()
	threadPools.next++
	id = threadPools.next
	p := pool.New(int(maxWorkers), pybridge.NewFactory(id))
	threadPools.m[id] = p
	threadPools.Unlock()
	go func() {
		<-p.Done()
		threadPools.Lock()
		delete(threadPools.m, id)
		threadPools.Unlock()
	}()
	return id, nil
}

// ThreadPoolSubmit queues task taskID on pool id.
func ThreadPoolSubmit(id, taskID int64) (ok bool, err error) {
	defer panics.Catch(&err)
	p, err := lookupThreadPool(id)
	if err != nil {
		return false, err
	}
	return true, kindError(p.Submit(taskID))
}

// ThreadPoolSubmitRange queues the n tasks first, first+1, ... in order, as
// one call: the map fast path.
func ThreadPoolSubmitRange(id, first, n int64) (ok bool, err error) {
	defer panics.Catch(&err)
	p, err := lookupThreadPool(id)
	if err != nil {
		return false, err
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = first + int64(i)
	}
	return true, kindError(p.SubmitMany(ids))
}

// ThreadPoolShutdown refuses new tasks; with cancel it returns the queued
// task ids, space separated, for Python to cancel. It does not wait.
func ThreadPoolShutdown(id int64, cancel bool) (cancelled string, err error) {
	defer panics.Catch(&err)
	p, err := lookupThreadPool(id)
	if err != nil {
		return "", nil // already gone: shut down and drained
	}
	ids := p.Shutdown(cancel)
	var b strings.Builder
	for i, tid := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(tid, 10))
	}
	return b.String(), nil
}

// ThreadPoolJoin waits up to timeoutMs (forever if negative) for the workers
// of a shut down pool to stop, and reports whether they did. Python waits in
// short slices so that Ctrl-C stays responsive.
func ThreadPoolJoin(id int64, timeoutMs int64) (done bool, err error) {
	defer panics.Catch(&err)
	p, err := lookupThreadPool(id)
	if err != nil {
		return true, nil
	}
	return p.Wait(time.Duration(timeoutMs) * time.Millisecond), nil
}

// ThreadPoolStats returns "workers idle queued" for tests and debugging.
func ThreadPoolStats(id int64) (stats string, err error) {
	defer panics.Catch(&err)
	p, err := lookupThreadPool(id)
	if err != nil {
		return "", err
	}
	s := p.Stats()
	return fmt.Sprintf("%d %d %d", s.Workers, s.Idle, s.Queued), nil
}

// ThreadPoolPanicNextTask makes the next task of pool id panic inside Go:
// fault injection, so tests can check that a Go panic in a worker becomes a
// Python exception on that task's future.
func ThreadPoolPanicNextTask(id int64) (ok bool, err error) {
	defer panics.Catch(&err)
	p, err := lookupThreadPool(id)
	if err != nil {
		return false, err
	}
	p.PanicNextTask()
	return true, nil
}
