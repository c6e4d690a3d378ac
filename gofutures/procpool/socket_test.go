package procpool_test

import (
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gofutures/gofutures/gofutures/procpool"
)

// addressRecorder is an exec launcher that records the socket addresses it
// is given and can lie about the pid of what it started.
type addressRecorder struct {
	procpool.ExecLauncher
	pidOffset int
	mu        sync.Mutex
	addresses []string
}

type offsetProc struct {
	procpool.Proc
	offset int
}

func (p offsetProc) Pid() int { return p.Proc.Pid() + p.offset }

func (r *addressRecorder) Launch(token uint64, socket string) (procpool.Proc, error) {
	r.mu.Lock()
	r.addresses = append(r.addresses, socket)
	r.mu.Unlock()
	proc, err := r.ExecLauncher.Launch(token, socket)
	if err != nil || r.pidOffset == 0 {
		return proc, err
	}
	return offsetProc{proc, r.pidOffset}, nil
}

func fakeLauncher(t *testing.T) procpool.ExecLauncher {
	exe, err := os.Executable()
	require.NoError(t, err)
	return procpool.ExecLauncher{Argv: []string{exe}, Env: append(os.Environ(), "GOFUTURES_FAKE_WORKER=1")}
}

// The pool's socket is in the abstract namespace: no TMPDIR needed (here a
// missing one), no file created.
func TestPoolSocketIsAbstract(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()+"/missing")
	rec := &addressRecorder{ExecLauncher: fakeLauncher(t)}
	p, err := procpool.New(procpool.Config{Workers: 2, Launcher: rec})
	require.NoError(t, err)
	for i := 1; i <= 4; i++ {
		require.NoError(t, p.Submit(uint64(i), []byte("echo:x")))
	}
	got, broken := collect(t, p, 4)
	require.Nil(t, broken)
	require.Len(t, got, 4)
	finish(t, p)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.addresses, 2)
	for _, a := range rec.addresses {
		assert.True(t, strings.HasPrefix(a, "@gofutures-"), a)
		assert.Equal(t, rec.addresses[0], a, "one socket per pool")
	}
}

// A connection that presents a worker's token must come from the process
// started for it (SO_PEERCRED): here the launcher says another pid.
func TestConnectionFromAnotherPidIsRefused(t *testing.T) {
	rec := &addressRecorder{ExecLauncher: fakeLauncher(t), pidOffset: 1_000_000}
	p, err := procpool.New(procpool.Config{Workers: 1, Launcher: rec})
	require.NoError(t, err)
	require.NoError(t, p.Submit(1, []byte("echo:x")))
	got, broken := collect(t, p, 1)
	require.NotNil(t, broken, "the pool broke (%d results)", len(got))
	assert.Contains(t, string(broken.Payload), "the process that connected with worker pid")
	finish(t, p)
}
