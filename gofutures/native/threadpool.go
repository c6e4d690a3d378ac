package native

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/pybridge"
)

// ThreadPoolShutdown refuses new tasks; with cancel it returns the queued
// task ids, space separated, for Python to cancel. It does not wait.
// The pool's Go tasks (gofutures.io, gofutures.http) are shut down alike;
// their cancelled ids follow the workers' queue's.
func ThreadPoolShutdown(id int64, cancel bool) (cancelled string, err error) {
	defer panics.Catch(&err)
	var ids []int64
	if p, ok := pybridge.ThreadPool(id); ok {
		ids = p.Shutdown(cancel)
	}
	if s, ok := pybridge.GoSched(id); ok {
		ids = append(ids, s.Shutdown(cancel)...)
	}
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
// of a shut down pool to stop and its Go tasks to be delivered, and reports
// whether they did (it may wait up to twice timeoutMs). Python waits in
// short slices so that Ctrl-C stays responsive.
func ThreadPoolJoin(id int64, timeoutMs int64) (done bool, err error) {
	defer panics.Catch(&err)
	timeout := time.Duration(timeoutMs) * time.Millisecond
	if p, ok := pybridge.ThreadPool(id); ok && !p.Wait(timeout) {
		return false, nil
	}
	if s, ok := pybridge.GoSched(id); ok && !s.Wait(timeout) {
		return false, nil
	}
	return true, nil
}

// GoTaskPumpStop makes the Go tasks' completion pump deliver what it holds
// and exit; it waits up to timeoutMs (forever if negative) and reports
// whether it did. The thread pools' exit hook calls it after joining them,
// before the interpreter finalizes.
func GoTaskPumpStop(timeoutMs int64) (done bool, err error) {
	defer panics.Catch(&err)
	return pybridge.StopGoPump(time.Duration(timeoutMs) * time.Millisecond), nil
}
