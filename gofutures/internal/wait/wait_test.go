package wait_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/gofutures/gofutures/gofutures/internal/wait"
)

func TestClosed(t *testing.T) {
	for _, tc := range []struct {
		name       string
		closed     bool
		closeAfter time.Duration // > 0: closed by another goroutine meanwhile
		timeout    time.Duration
		want       bool
	}{
		{"closed, forever", true, 0, -1, true},
		{"closed, no wait", true, 0, 0, true},
		{"closed, with timeout", true, 0, time.Hour, true},
		{"open, no wait", false, 0, 0, false},
		{"open, times out", false, 0, 10 * time.Millisecond, false},
		{"closed while waiting", false, 10 * time.Millisecond, time.Hour, true},
		{"closed while waiting forever", false, 10 * time.Millisecond, -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			if tc.closed {
				close(done)
			}
			if tc.closeAfter > 0 {
				timer := time.AfterFunc(tc.closeAfter, func() { close(done) })
				defer timer.Stop()
			}
			assert.Equal(t, tc.want, wait.Closed(done, tc.timeout))
		})
	}
}
