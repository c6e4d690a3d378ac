package procpool_test

import (
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gofutures/gofutures/gofutures/procpool"
)

// adoptFakeZygote starts the test binary as a zygote and adopts it, as
// Python's first pool adopts the fork of the program it made.
func adoptFakeZygote(t *testing.T) *procpool.ZygoteLauncher {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmdR, cmdW, err := os.Pipe()
	require.NoError(t, err)
	repR, repW, err := os.Pipe()
	require.NoError(t, err)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "GOFUTURES_FAKE_ZYGOTE=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{cmdR, repW}
	require.NoError(t, cmd.Start())
	cmdR.Close()
	repW.Close()
	// The launcher owns the descriptors and the process from here on (it
	// waits for it); the *os.File wrappers must not close them.
	cmdFd, err := dupFd(cmdW)
	require.NoError(t, err)
	repFd, err := dupFd(repR)
	require.NoError(t, err)
	z, err := procpool.AdoptZygote(cmd.Process.Pid, cmdFd, repFd)
	require.NoError(t, err)
	require.True(t, z.Acquire())
	return z
}

func dupFd(f *os.File) (int, error) {
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	return fd, err
}

// When the zygote has become a worker and dies first, the worker it forked
// loses its status with it; the pool must report the zygote-worker's own,
// known one, every time (here both workers' initializers exit with code 7,
// as Python's os._exit(3) did in the report).
func TestZygoteWorkerStatusWinsOverALostOne(t *testing.T) {
	for i := range 10 {
		z := adoptFakeZygote(t)
		p, err := procpool.New(procpool.Config{Workers: 2, InitPayload: []byte("die-init"), Launcher: z})
		require.NoError(t, err)
		require.NoError(t, p.Submit(1, []byte("echo:x")))
		_, broken := collect(t, p, 1)
		require.NotNil(t, broken, "run %d", i)
		assert.Contains(t, string(broken.Payload), "exited with code 7", "run %d", i)
		assert.NotContains(t, string(broken.Payload), "unknown", "run %d", i)
		finish(t, p)
	}
}

// A panic in the goroutine reading the zygote's replies ends the zygote and
// breaks the pool with the Go stack: it does not abort the process.
func TestPanicReadingZygoteRepliesBreaksThePool(t *testing.T) {
	procpool.PanicOnceAt("zygote-replies")
	defer procpool.PanicOnceAt("")
	z := adoptFakeZygote(t)
	p, err := procpool.New(procpool.Config{Workers: 2, Launcher: z})
	require.NoError(t, err)
	require.NoError(t, p.Submit(1, []byte("echo:x")))
	_, broken := collect(t, p, 1)
	require.NotNil(t, broken)
	assert.Contains(t, string(broken.Payload), "go panic: injected panic at zygote-replies")
	finish(t, p)
}
