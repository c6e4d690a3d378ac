package procpool_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gofutures/gofutures/gofutures/procpool"
)

// A panic in any goroutine of the pool breaks the pool with the Go stack in
// the reason, fails every task, and lets the pool finish: it never aborts
// the process (this test binary would die). The zygote's reply reader
// ("zygote-replies") recovers the same way; it needs a zygote and is
// exercised from Python.
func TestPanicInAnyGoroutineBreaksThePool(t *testing.T) {
	for _, tc := range []struct {
		site  string
		quota int // max tasks per child: "reap" and "prestart" need replacements
		// every task's deadline: "deadline" needs one to pass
		timeout time.Duration
	}{
		{site: "spawner"},
		{site: "accept"},
		{site: "greet"},
		{site: "slot"},
		{site: "reader"},
		{site: "exec-wait"},
		{site: "prestart", quota: 1},
		{site: "reap", quota: 1},
		{site: "deadline", timeout: time.Millisecond},
	} {
		t.Run(tc.site, func(t *testing.T) {
			procpool.PanicOnceAt(tc.site)
			defer procpool.PanicOnceAt("")
			p := newPool(t, procpool.Config{Workers: 1, MaxTasksPerChild: tc.quota, TaskTimeout: tc.timeout})
			const n = 20
			for i := 1; i <= n; i++ {
				if err := p.Submit(uint64(i), []byte("sleep:5")); err != nil {
					require.ErrorIs(t, err, procpool.ErrBroken)
					break
				}
			}
			got, broken := collect(t, p, n)
			require.NotNil(t, broken, "the pool broke (%d results)", len(got))
			reason := string(broken.Payload)
			assert.Contains(t, reason, "go panic: injected panic at "+tc.site)
			assert.Contains(t, reason, "goroutine", "the reason carries the Go stack")
			finish(t, p)
		})
	}
}
