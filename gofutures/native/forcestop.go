package native

import (
	"syscall"

	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/pybridge"
)

// Force stop of a process pool (gofutures._forcestop): terminate_workers(),
// kill_workers() and shutdown(timeout=...).

// ProcPoolForceStop closes pool id and sends signal sig (SIGTERM or
// SIGKILL) to each of its live workers; it does not wait. A pool already
// finished is left alone.
func ProcPoolForceStop(id int64, sig int64) (ok bool, err error) {
	defer panics.Catch(&err)
	if sig != int64(syscall.SIGTERM) && sig != int64(syscall.SIGKILL) {
		return false, nil
	}
	if p, found := pybridge.ProcPool(id); found {
		p.ForceStop(syscall.Signal(sig))
	}
	return true, nil
}

// ProcPoolBreak breaks pool id on purpose: its workers are killed (SIGKILL)
// and every task not yet reported fails with reason. It does not wait.
func ProcPoolBreak(id int64, reason string) (ok bool, err error) {
	defer panics.Catch(&err)
	if p, found := pybridge.ProcPool(id); found {
		p.Kill(reason)
	}
	return true, nil
}
