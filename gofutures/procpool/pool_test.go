package procpool_test

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gofutures/gofutures/gofutures/procpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv("GOFUTURES_FAKE_WORKER") == "1" {
		fakeWorker()
		return
	}
	if os.Getenv("GOFUTURES_FAKE_ZYGOTE") == "1" {
		fakeZygote()
		return
	}
	goleak.VerifyTestMain(m)
}

func newPool(t *testing.T, cfg procpool.Config) *procpool.Pool {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cfg.Launcher = &procpool.ExecLauncher{Argv: []string{exe}, Env: append(os.Environ(), "GOFUTURES_FAKE_WORKER=1")}
	p, err := procpool.New(cfg)
	require.NoError(t, err)
	return p
}

// collect takes events until every id in want is reported or the pool breaks.
func collect(t *testing.T, p *procpool.Pool, n int) (map[uint64]procpool.Event, *procpool.Event) {
	t.Helper()
	got := map[uint64]procpool.Event{}
	var buf []procpool.Event
	deadline := time.After(30 * time.Second)
	for len(got) < n {
		ch := make(chan []procpool.Event, 1)
		go func() {
			evs, _ := p.NextEvents(buf)
			ch <- append([]procpool.Event(nil), evs...)
		}()
		select {
		case evs := <-ch:
			for _, ev := range evs {
				if ev.Kind == procpool.EventBroken {
					ev := ev
					return got, &ev
				}
				got[ev.ID] = ev
			}
		case <-deadline:
			t.Fatalf("timed out with %d of %d events", len(got), n)
		}
	}
	return got, nil
}

func finish(t *testing.T, p *procpool.Pool) {
	t.Helper()
	p.Close()
	// Drain the remaining events so the queue can close.
	go func() {
		for {
			if _, ok := p.NextEvents(nil); !ok {
				return
			}
		}
	}()
	require.True(t, p.Wait(20*time.Second), "pool finished")
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestEchoManyTasks(t *testing.T) {
	for _, tc := range []struct{ workers, depth, tasks int }{{1, 1, 10}, {2, 2, 500}, {3, 4, 2000}} {
		t.Run(fmt.Sprintf("w%d-d%d-n%d", tc.workers, tc.depth, tc.tasks), func(t *testing.T) {
			p := newPool(t, procpool.Config{Workers: tc.workers, Depth: tc.depth})
			for i := 1; i <= tc.tasks; i++ {
				require.NoError(t, p.Submit(uint64(i), []byte("echo:"+strconv.Itoa(i))))
			}
			got, broken := collect(t, p, tc.tasks)
			require.Nil(t, broken)
			for i := 1; i <= tc.tasks; i++ {
				assert.Equal(t, procpool.EventResult, got[uint64(i)].Kind)
				assert.Equal(t, strconv.Itoa(i), string(got[uint64(i)].Payload))
			}
			pids := p.Pids()
			finish(t, p)
			for _, pid := range pids {
				assert.False(t, alive(pid), "worker %d reaped", pid)
			}
		})
	}
}

func TestErrorsAreReportedPerTask(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 2})
	require.NoError(t, p.Submit(1, []byte("error:boom")))
	require.NoError(t, p.Submit(2, []byte("echo:fine")))
	got, broken := collect(t, p, 2)
	require.Nil(t, broken)
	assert.Equal(t, procpool.EventError, got[1].Kind)
	assert.Equal(t, "boom", string(got[1].Payload))
	assert.Equal(t, procpool.EventResult, got[2].Kind)
	finish(t, p)
}

// tasksPerPid runs n "pid" tasks and counts how many each worker ran.
func tasksPerPid(t *testing.T, p *procpool.Pool, n int) map[string]int {
	t.Helper()
	for i := 1; i <= n; i++ {
		require.NoError(t, p.Submit(uint64(i), []byte("pid")))
	}
	got, broken := collect(t, p, n)
	require.Nil(t, broken)
	perPid := map[string]int{}
	for _, ev := range got {
		perPid[string(ev.Payload)]++
	}
	return perPid
}

func TestMaxTasksPerChildReplacesWorkers(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 2, MaxTasksPerChild: 3})
	perPid := tasksPerPid(t, p, 30)
	for pid, n := range perPid {
		assert.LessOrEqual(t, n, 3, "worker %s ran more than its quota", pid)
	}
	assert.GreaterOrEqual(t, len(perPid), 10)
	finish(t, p)
	for pid := range perPid {
		n, _ := strconv.Atoi(pid)
		assert.False(t, alive(n))
	}
	// Replacements started ahead and never used are reaped too.
	assert.Empty(t, childrenOf(os.Getpid()))
}

func TestMaxTasksPerChildOneTaskEach(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 2, MaxTasksPerChild: 1})
	assert.Len(t, tasksPerPid(t, p, 12), 12, "a fresh worker for every task")
	finish(t, p)
	assert.Empty(t, childrenOf(os.Getpid()))
}

// childrenOf lists the pids whose parent is pid (Linux /proc).
func childrenOf(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

func TestLargePayloads(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 1})
	big := make([]byte, 32<<20)
	require.NoError(t, p.Submit(1, append([]byte("echo:"), big...)))
	require.NoError(t, p.Submit(2, []byte("big:"+strconv.Itoa(48<<20))))
	got, broken := collect(t, p, 2)
	require.Nil(t, broken)
	assert.Len(t, got[1].Payload, 32<<20)
	assert.Len(t, got[2].Payload, 48<<20)
	finish(t, p)
}

func TestWorkerDeathBreaksPool(t *testing.T) {
	for _, tc := range []struct {
		name, cmd, want string
	}{
		{"exit code", "exit:3", "exited with code 3"},
		{"sigkill", "kill", "terminated by signal 9 (SIGKILL"},
		{"garbage on the pipe", "garbage", "invalid frame kind"},
		{"result for unknown task", "unknown-id", "which it was not given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t, procpool.Config{Workers: 2})
			require.NoError(t, p.Submit(1, []byte("sleep:2000")))
			require.NoError(t, p.Submit(2, []byte(tc.cmd)))
			for i := 3; i <= 10; i++ {
				require.NoError(t, p.Submit(uint64(i), []byte("sleep:10")))
			}
			_, broken := collect(t, p, 10)
			require.NotNil(t, broken, "the pool broke")
			assert.Contains(t, string(broken.Payload), tc.want)
			assert.ErrorIs(t, p.Submit(99, []byte("echo:x")), procpool.ErrBroken)
			assert.Contains(t, p.Broken(), tc.want)
			finish(t, p)
		})
	}
}

func TestOversizedFrameFromWorkerBreaksPool(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 1, MaxPayload: 1024})
	require.NoError(t, p.Submit(1, []byte("big:4096")))
	_, broken := collect(t, p, 1)
	require.NotNil(t, broken)
	assert.Contains(t, string(broken.Payload), "too large")
	finish(t, p)
}

func TestInitializerFailureBreaksPool(t *testing.T) {
	for _, tc := range []struct{ init, want string }{
		{"fail-init", "ValueError: bad init"},
		{"die-init", "exited with code 7"},
	} {
		t.Run(tc.init, func(t *testing.T) {
			p := newPool(t, procpool.Config{Workers: 2, InitPayload: []byte(tc.init)})
			require.NoError(t, p.Submit(1, []byte("echo:x")))
			_, broken := collect(t, p, 1)
			require.NotNil(t, broken)
			assert.Contains(t, string(broken.Payload), tc.want)
			finish(t, p)
		})
	}
}

func TestCloseRunsQueuedTasksThenStops(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 2})
	for i := 1; i <= 20; i++ {
		require.NoError(t, p.Submit(uint64(i), []byte("sleep:5")))
	}
	p.Close()
	assert.ErrorIs(t, p.Submit(100, nil), procpool.ErrShutdown)
	got, broken := collect(t, p, 20)
	require.Nil(t, broken)
	ids := make([]int, 0, len(got))
	for id := range got {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	assert.Len(t, ids, 20)
	finish(t, p)
}

func TestCloseIdlePool(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 3})
	finish(t, p)
}

func TestCancelTakesBackOnlyUnsentTasks(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 1, Depth: 1})
	require.NoError(t, p.Submit(1, []byte("sleep:300")))
	for i := uint64(2); i <= 5; i++ {
		require.NoError(t, p.Submit(i, []byte("echo:"+strconv.Itoa(int(i)))))
	}
	// Task 1 is sent once the worker is ready; the others wait behind it.
	require.Eventually(t, func() bool { return p.Queued() == 4 }, 10*time.Second, time.Millisecond)
	assert.False(t, p.Cancel(1), "a task sent to a worker")
	assert.True(t, p.Cancel(3))
	assert.True(t, p.Cancel(5))
	assert.False(t, p.Cancel(5), "a second cancel finds nothing")
	assert.False(t, p.Cancel(99), "an unknown id")
	got, broken := collect(t, p, 3)
	require.Nil(t, broken)
	assert.ElementsMatch(t, []uint64{1, 2, 4}, keys(got))
	assert.False(t, p.Cancel(2), "a finished task")
	finish(t, p)
}

func keys(m map[uint64]procpool.Event) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSubmitPiecesWritesThemAsOnePayloadAndReleasesOnce(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 1, Depth: 1})
	var mu sync.Mutex
	done := map[uint64]int{}
	release := func(id uint64) func() {
		return func() { mu.Lock(); done[id]++; mu.Unlock() }
	}
	big := bytes.Repeat([]byte{'z'}, 100<<10)
	require.NoError(t, p.Submit(1, []byte("sleep:200")))
	require.NoError(t, p.SubmitPieces(2, [][]byte{[]byte("echo:"), big, []byte("!")}, release(2)))
	require.NoError(t, p.SubmitPieces(3, [][]byte{[]byte("echo:x")}, release(3)))
	require.Eventually(t, func() bool { return p.Queued() == 2 }, 10*time.Second, time.Millisecond)
	assert.True(t, p.Cancel(3))
	got, broken := collect(t, p, 2)
	require.Nil(t, broken)
	assert.Equal(t, string(big)+"!", string(got[2].Payload))
	finish(t, p)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[uint64]int{2: 1, 3: 1}, done, "written and cancelled: released once each")
}

func TestBrokenPoolReleasesQueuedPieces(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 1, Depth: 1})
	var released atomic.Int32
	require.NoError(t, p.Submit(1, []byte("sleep:300")))
	require.NoError(t, p.Submit(2, []byte("kill")))
	for i := uint64(3); i <= 5; i++ {
		require.NoError(t, p.SubmitPieces(i, [][]byte{[]byte("echo:q")}, func() { released.Add(1) }))
	}
	_, broken := collect(t, p, 5)
	require.NotNil(t, broken)
	finish(t, p)
	assert.Equal(t, int32(3), released.Load())
}

// finalRecorder is an exec launcher that records which launches the pool
// marked as its last.
type finalRecorder struct {
	procpool.ExecLauncher
	mu    sync.Mutex
	kinds []string
}

func (r *finalRecorder) record(kind string) {
	r.mu.Lock()
	r.kinds = append(r.kinds, kind)
	r.mu.Unlock()
}

func (r *finalRecorder) Launch(token uint64, socket string) (procpool.Proc, error) {
	r.record("launch")
	return r.ExecLauncher.Launch(token, socket)
}

func (r *finalRecorder) LaunchFinal(token uint64, socket string) (procpool.Proc, error) {
	r.record("final")
	return r.ExecLauncher.Launch(token, socket)
}

func TestOnlyTheLastLaunchOfAPoolWithoutQuotaIsFinal(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	tests := []struct {
		name  string
		quota int
		tasks int
		want  []string
	}{
		{"no quota", 0, 6, []string{"launch", "launch", "final"}},
		{"quota: workers get replaced", 2, 6, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &finalRecorder{ExecLauncher: procpool.ExecLauncher{
				Argv: []string{exe}, Env: append(os.Environ(), "GOFUTURES_FAKE_WORKER=1"),
			}}
			p, err := procpool.New(procpool.Config{Workers: 3, MaxTasksPerChild: tt.quota, Launcher: rec})
			require.NoError(t, err)
			for i := 1; i <= tt.tasks; i++ {
				require.NoError(t, p.Submit(uint64(i), []byte("echo:x")))
			}
			got, broken := collect(t, p, tt.tasks)
			require.Nil(t, broken)
			require.Len(t, got, tt.tasks)
			finish(t, p)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if tt.want != nil {
				assert.Equal(t, tt.want, rec.kinds)
			} else {
				assert.NotContains(t, rec.kinds, "final")
				assert.Greater(t, len(rec.kinds), 3, "replacements were launched")
			}
		})
	}
}
