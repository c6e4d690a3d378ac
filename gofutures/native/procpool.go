package native

import (
	"fmt"
	"strings"
	"time"

	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/pybridge"
)

// Process pools are created and fed through the fast path (fastpath.c:
// fast_proc_new, fast_proc_submit), which carries bytes without gopy's
// per-byte conversion; these calls are the rest of their control plane.

// ProcPoolClose asks pool id to finish: workers exit once its queue is empty
// and their tasks are reported. It does not wait.
func ProcPoolClose(id int64) (ok bool, err error) {
	defer panics.Catch(&err)
	if p, found := pybridge.ProcPool(id); found {
		p.Close()
	}
	return true, nil
}

// ProcPoolJoin waits for pool id to finish (results delivered, workers
// exited and reaped) and reports whether it did; it gives up after at most
// twice timeoutMs (see pybridge.JoinProcPool), never if negative.
func ProcPoolJoin(id int64, timeoutMs int64) (done bool, err error) {
	defer panics.Catch(&err)
	return pybridge.JoinProcPool(id, time.Duration(timeoutMs)*time.Millisecond), nil
}

// ProcPoolPids returns the live workers' pids, space separated.
func ProcPoolPids(id int64) (pids string, err error) {
	defer panics.Catch(&err)
	p, ok := pybridge.ProcPool(id)
	if !ok {
		return "", nil
	}
	var b strings.Builder
	for i, pid := range p.Pids() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, pid)
	}
	return b.String(), nil
}

// ProcPoolSetTimeout gives task taskID of pool id, about to be submitted, a
// deadline of timeoutNs nanoseconds from when a worker is sent it.
func ProcPoolSetTimeout(id int64, taskID int64, timeoutNs int64) (ok bool, err error) {
	defer panics.Catch(&err)
	p, found := pybridge.ProcPool(id)
	if found {
		p.SetTaskTimeout(uint64(taskID), time.Duration(timeoutNs))
	}
	return found, nil
}

// ProcPoolTerminate ends task taskID of pool id: taken back if queued, its
// worker killed and replaced if running. It reports whether it found it.
func ProcPoolTerminate(id int64, taskID int64) (ok bool, err error) {
	defer panics.Catch(&err)
	p, found := pybridge.ProcPool(id)
	return found && p.TerminateTask(uint64(taskID)), nil
}
