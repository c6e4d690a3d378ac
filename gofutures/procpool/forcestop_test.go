package procpool_test

import (
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gofutures/gofutures/gofutures/procpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// drain takes every remaining event so the pool can finish.
func drain(p *procpool.Pool) {
	go func() {
		for {
			if _, ok := p.NextEvents(nil); !ok {
				return
			}
		}
	}()
}

// waitInFlight waits until no task waits in the queue (workers have them).
func waitInFlight(t *testing.T, p *procpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.Queued() > 0 {
		require.True(t, time.Now().Before(deadline), "tasks never reached the workers")
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the worker reads the frame
}

func TestForceStopWithTasksRunningBreaksThePool(t *testing.T) {
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		want string
	}{
		{"terminate", syscall.SIGTERM, "terminated by signal 15 (SIGTERM)"},
		{"kill", syscall.SIGKILL, "terminated by signal 9 (SIGKILL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t, procpool.Config{Workers: 2, Depth: 1})
			for i := 1; i <= 2; i++ {
				require.NoError(t, p.Submit(uint64(i), []byte("sleep:3600000")))
			}
			waitInFlight(t, p)
			require.NoError(t, p.Submit(3, []byte("echo:queued"))) // no worker will take it
			pids := p.Pids()
			require.Len(t, pids, 2)
			p.ForceStop(tc.sig)
			_, broken := collect(t, p, 3)
			require.NotNil(t, broken, "the running tasks fail")
			assert.Contains(t, string(broken.Payload), tc.want)
			drain(p)
			require.True(t, p.Wait(30*time.Second), "pool finished")
			for _, pid := range pids {
				assert.False(t, alive(pid), "worker %d reaped", pid)
			}
			assert.ErrorIs(t, p.Submit(4, []byte("echo:late")), procpool.ErrBroken)
		})
	}
}

func TestForceStopOfAnIdlePoolDoesNotBreakIt(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			p := newPool(t, procpool.Config{Workers: 2})
			perPid := tasksPerPid(t, p, 4)
			p.ForceStop(sig)
			p.ForceStop(sig) // twice is fine
			drain(p)
			require.True(t, p.Wait(30*time.Second), "pool finished")
			assert.Empty(t, p.Broken(), "nothing was lost")
			for pid := range perPid {
				n, _ := strconv.Atoi(pid)
				assert.False(t, alive(n))
			}
			assert.ErrorIs(t, p.Submit(9, []byte("echo:late")), procpool.ErrShutdown)
			assert.Empty(t, childrenOf(os.Getpid()))
		})
	}
}

func TestForceStopBeforeWorkersStarted(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 2})
	p.ForceStop(syscall.SIGTERM)
	drain(p)
	require.True(t, p.Wait(30*time.Second), "pool finished")
	assert.Empty(t, p.Broken())
	assert.Empty(t, childrenOf(os.Getpid()))
}

func TestForceStopWithAQuotaStrandsNoTask(t *testing.T) {
	// The worker retires at its quota as the stop comes: its successor will
	// not start, so the task left in the queue must fail, not wait forever.
	p := newPool(t, procpool.Config{Workers: 1, Depth: 1, MaxTasksPerChild: 1})
	require.NoError(t, p.Submit(1, []byte("sleep:300")))
	waitInFlight(t, p)
	require.NoError(t, p.Submit(2, []byte("echo:queued")))
	p.ForceStop(syscall.Signal(0)) // a signal that ends nobody: only the stop
	got, broken := collect(t, p, 2)
	require.NotNil(t, broken, "the queued task fails")
	assert.Contains(t, string(broken.Payload), "stopped by force")
	assert.Equal(t, procpool.EventResult, got[1].Kind, "the running task finished")
	drain(p)
	require.True(t, p.Wait(30*time.Second), "pool finished")
	assert.Empty(t, childrenOf(os.Getpid()))
}

func TestMaxWorkerMemoryReplacesWorkers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		limit    int64
		wantPids int
	}{
		{"every worker over the limit", 1, 6},
		{"far under the limit", 1 << 40, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t, procpool.Config{Workers: 1, Depth: 1, MaxWorkerMemory: tc.limit})
			perPid := tasksPerPid(t, p, 6) // no task lost or failed
			assert.Len(t, perPid, tc.wantPids)
			finish(t, p)
			assert.Empty(t, childrenOf(os.Getpid()))
		})
	}
}
