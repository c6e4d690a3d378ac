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
func ThreadPoolShutdown(id int64, cancel bool) (cancelled string, err error) {
	defer panics.Catch(&err)
	p, ok := pybridge.ThreadPool(id)
	if !ok {
		return "", nil // already shut down and drained
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
	p, ok := pybridge.ThreadPool(id)
	if !ok {
		return true, nil
	}
	return p.Wait(time.Duration(timeoutMs) * time.Millisecond), nil
}
