// Package wait waits for a channel to be closed, with a timeout: how every
// pool of gofutures reports that it finished (pool.Pool.Wait,
// procpool.Pool.Wait).
package wait

import "time"

// Closed waits up to timeout for done to be closed and reports whether it
// was. A negative timeout waits forever; zero only looks. Cost: one timer
// when it has to wait with a timeout.
func Closed(done <-chan struct{}, timeout time.Duration) bool {
	if timeout < 0 {
		<-done
		return true
	}
	if timeout == 0 {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
