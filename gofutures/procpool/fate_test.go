package procpool_test

import (
	"encoding/json"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gofutures/gofutures/gofutures/procpool"
)

// launchFor says how a fate test's pool starts its workers.
type launchFor func(t *testing.T, cfg procpool.Config) *procpool.Pool

var fateLaunchers = map[string]launchFor{
	"exec": newPool,
	// An adopted zygote would become the last worker (LaunchFinal) unless
	// the pool may replace workers: these pools must keep it.
	"zygote": func(t *testing.T, cfg procpool.Config) *procpool.Pool {
		cfg.Launcher = adoptFakeZygote(t)
		p, err := procpool.New(cfg)
		require.NoError(t, err)
		return p
	},
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func decodeFacts(t *testing.T, payload []byte) procpool.BrokenFacts {
	t.Helper()
	var f procpool.BrokenFacts
	require.NoError(t, json.Unmarshal(payload, &f))
	return f
}

// One task that misbehaves among many good ones: only it ends, with its own
// event; every other task returns; the pool goes on with as many workers.
func TestOneTaskEndsAlone(t *testing.T) {
	const good = 300
	const bad = uint64(good / 2)
	cases := []struct {
		name    string
		cfg     procpool.Config
		command string
		perTask time.Duration // SetTaskTimeout for the bad task, if > 0
		check   func(t *testing.T, ev procpool.Event)
	}{
		{
			// Long enough for every echo on a loaded machine.
			name: "default deadline", cfg: procpool.Config{TaskTimeout: 2 * time.Second},
			command: "sleep:600000",
			check: func(t *testing.T, ev procpool.Event) {
				require.Equal(t, procpool.EventTimeout, ev.Kind)
				var tf procpool.TimeoutFacts
				require.NoError(t, json.Unmarshal(ev.Payload, &tf))
				assert.InDelta(t, 2.0, tf.Timeout, 1e-9)
				assert.Positive(t, tf.Pid)
			},
		},
		{
			// Replaceable: per-task deadlines alone do not keep an adopted
			// zygote from becoming the last worker.
			name: "per-task deadline", cfg: procpool.Config{Replaceable: true}, perTask: 200 * time.Millisecond,
			command: "sleep:600000",
			check: func(t *testing.T, ev procpool.Event) {
				require.Equal(t, procpool.EventTimeout, ev.Kind)
				var tf procpool.TimeoutFacts
				require.NoError(t, json.Unmarshal(ev.Payload, &tf))
				assert.InDelta(t, 0.2, tf.Timeout, 1e-9)
			},
		},
		{
			name: "per-task deadline overrides the default", cfg: procpool.Config{TaskTimeout: time.Hour},
			perTask: 100 * time.Millisecond, command: "sleep:600000",
			check: func(t *testing.T, ev procpool.Event) {
				require.Equal(t, procpool.EventTimeout, ev.Kind)
			},
		},
		{
			name: "exit under fail_task", cfg: procpool.Config{FailTaskOnDeath: true}, command: "exit:3",
			check: func(t *testing.T, ev procpool.Event) {
				require.Equal(t, procpool.EventDied, ev.Kind)
				f := decodeFacts(t, ev.Payload)
				assert.Equal(t, procpool.CauseDiedRunning, f.Cause)
				assert.Equal(t, 3, f.Code)
				assert.Zero(t, f.Signal)
				assert.Equal(t, "exited with code 3", f.Status)
				assert.Positive(t, f.Pid)
			},
		},
		{
			name: "SIGKILL under fail_task", cfg: procpool.Config{FailTaskOnDeath: true}, command: "kill",
			check: func(t *testing.T, ev procpool.Event) {
				require.Equal(t, procpool.EventDied, ev.Kind)
				f := decodeFacts(t, ev.Payload)
				assert.Equal(t, int(syscall.SIGKILL), f.Signal)
				assert.Contains(t, f.Status, "SIGKILL")
			},
		},
	}
	for launcher, start := range fateLaunchers {
		for _, tc := range cases {
			t.Run(launcher+"/"+tc.name, func(t *testing.T) {
				cfg := tc.cfg
				cfg.Workers, cfg.Depth = 2, 1
				p := start(t, cfg)
				for i := uint64(1); i <= good; i++ {
					cmd := "echo:" + strconv.FormatUint(i, 10)
					if i == bad {
						cmd = tc.command
						if tc.perTask > 0 {
							p.SetTaskTimeout(i, tc.perTask)
						}
					}
					require.NoError(t, p.Submit(i, []byte(cmd)))
				}
				got, broken := collect(t, p, good)
				require.Nil(t, broken, "the pool must not break")
				for i := uint64(1); i <= good; i++ {
					if i == bad {
						tc.check(t, got[i])
						continue
					}
					require.Equal(t, procpool.EventResult, got[i].Kind, "task %d", i)
					assert.Equal(t, strconv.FormatUint(i, 10), string(got[i].Payload))
				}
				// The pool goes on, with a replacement worker.
				require.NoError(t, p.Submit(good+1, []byte("echo:after")))
				after, broken := collect(t, p, 1)
				require.Nil(t, broken)
				assert.Equal(t, "after", string(after[good+1].Payload))
				waitFor(t, "two workers", func() bool { return len(p.Pids()) == 2 })
				pids := p.Pids()
				finish(t, p)
				for _, pid := range pids {
					assert.False(t, alive(pid), "worker %d reaped", pid)
				}
			})
		}
	}
}

// Without FailTaskOnDeath a death still breaks the pool (the stdlib's
// contract), while a deadline never does.
func TestDeathBreaksUnlessFailTask(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 2, Depth: 1, TaskTimeout: time.Hour})
	require.NoError(t, p.Submit(1, []byte("exit:3")))
	_, broken := collect(t, p, 1)
	require.NotNil(t, broken)
	assert.Equal(t, 3, decodeFacts(t, broken.Payload).Code)
	finish(t, p)
}

func TestTerminateTask(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 1, Depth: 1})
	require.NoError(t, p.Submit(1, []byte("sleep:600000")))
	require.NoError(t, p.Submit(2, []byte("echo:queued")))
	waitFor(t, "task 1 sent", func() bool { return p.Queued() == 1 })
	pids := p.Pids()
	require.Len(t, pids, 1)

	assert.True(t, p.TerminateTask(2), "a queued task is taken back")
	assert.False(t, p.TerminateTask(2), "only once")
	assert.True(t, p.TerminateTask(1), "a running task: its worker is killed")
	got, broken := collect(t, p, 1)
	require.Nil(t, broken, "terminating a task never breaks the pool")
	assert.Equal(t, procpool.EventTerminated, got[1].Kind)
	assert.False(t, p.TerminateTask(1), "reported already")
	assert.False(t, p.TerminateTask(99), "unknown")

	require.NoError(t, p.Submit(3, []byte("pid")))
	got, broken = collect(t, p, 1)
	require.Nil(t, broken)
	require.Equal(t, procpool.EventResult, got[3].Kind)
	assert.NotEqual(t, strconv.Itoa(pids[0]), string(got[3].Payload), "a replacement runs it")
	assert.False(t, alive(pids[0]), "the killed worker was reaped")
	finish(t, p)
}

// With Depth 2 a killed worker may hold a second task: it fails as a death
// (EventDied), not as a timeout, and the pool still does not break.
func TestKilledWorkersOtherTaskFailsAsDied(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 1, Depth: 2})
	p.SetTaskTimeout(1, 100*time.Millisecond)
	require.NoError(t, p.Submit(1, []byte("sleep:600000")))
	require.NoError(t, p.Submit(2, []byte("echo:x")))
	got, broken := collect(t, p, 2)
	require.Nil(t, broken)
	assert.Equal(t, procpool.EventTimeout, got[1].Kind)
	assert.Equal(t, procpool.EventDied, got[2].Kind)
	assert.Equal(t, int(syscall.SIGKILL), decodeFacts(t, got[2].Payload).Signal)
	finish(t, p)
}

// A deadline that passes just as the result arrives ends the task once:
// with its result or its timeout, never both, and the pool goes on.
func TestDeadlineRacingTheResult(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 2, Depth: 1, TaskTimeout: 20 * time.Millisecond})
	const n = 200
	for i := uint64(1); i <= n; i++ {
		require.NoError(t, p.Submit(i, []byte("sleep:"+strconv.Itoa(int(i%3)*10))))
	}
	got, broken := collect(t, p, n)
	require.Nil(t, broken)
	for i := uint64(1); i <= n; i++ {
		assert.Contains(t, []procpool.EventKind{procpool.EventResult, procpool.EventTimeout}, got[i].Kind)
	}
	finish(t, p)
}

// Under FailTaskOnDeath an idle worker that dies is replaced; workers that
// keep dying idle break the pool after a few in a row instead of being
// restarted for ever.
func TestIdleDeathsReplaceThenBreak(t *testing.T) {
	p := newPool(t, procpool.Config{Workers: 1, Depth: 1, FailTaskOnDeath: true})
	require.NoError(t, p.Submit(1, []byte("echo:start")))
	_, broken := collect(t, p, 1)
	require.Nil(t, broken)
	var seen []int
	for len(p.Broken()) == 0 {
		require.Less(t, len(seen), 10, "the pool should have broken")
		var pid int
		waitFor(t, "a live worker", func() bool {
			pids := p.Pids()
			if len(pids) == 1 && (len(seen) == 0 || pids[0] != seen[len(seen)-1]) {
				pid = pids[0]
				return true
			}
			return p.Broken() != ""
		})
		if p.Broken() != "" {
			break
		}
		seen = append(seen, pid)
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		waitFor(t, "the worker replaced or the pool broken", func() bool {
			pids := p.Pids()
			return p.Broken() != "" || (len(pids) == 1 && pids[0] != pid)
		})
	}
	assert.Len(t, seen, 3, "replaced twice, broken on the third death")
	assert.Contains(t, p.Broken(), "SIGKILL")
	finish(t, p)
}
