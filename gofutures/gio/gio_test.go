package gio_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gofutures/gofutures/gofutures/gio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func bs(args ...string) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = []byte(a)
	}
	return out
}

func classOf(t *testing.T, err error) *gio.Error {
	t.Helper()
	ge, ok := err.(*gio.Error)
	require.True(t, ok, "want *gio.Error, got %T %v", err, err)
	return ge
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name       string
		spec       gio.RunSpec
		input      []byte
		wantCode   int
		wantOut    string
		wantErr    string
		wantErrno  syscall.Errno
		wantClass  gio.Class
		wantFile   string
		maxSeconds float64
	}{
		{name: "echo", spec: gio.RunSpec{Argv: bs("echo", "hi")}, wantOut: "hi\n"},
		{name: "stderr", spec: gio.RunSpec{Argv: bs("sh", "-c", "echo oops >&2; exit 3")}, wantCode: 3, wantErr: "oops\n"},
		{name: "signal", spec: gio.RunSpec{Argv: bs("sh", "-c", "kill -TERM $$")}, wantCode: -15},
		{name: "input", spec: gio.RunSpec{Argv: bs("cat"), Input: true}, input: []byte("abc"), wantOut: "abc"},
		{name: "input not read", spec: gio.RunSpec{Argv: bs("true"), Input: true}, input: make([]byte, 1<<20)},
		{name: "empty env", spec: gio.RunSpec{Argv: bs("/usr/bin/env"), HasEnv: true}, wantOut: ""},
		{name: "env", spec: gio.RunSpec{Argv: bs("/usr/bin/env"), HasEnv: true, Env: bs("A=1")}, wantOut: "A=1\n"},
		{name: "cwd", spec: gio.RunSpec{Argv: bs("pwd"), Cwd: []byte(dir)}, wantOut: dir + "\n"},
		{name: "not found", spec: gio.RunSpec{Argv: bs("no-such-program-gofutures")},
			wantClass: gio.ClassOS, wantErrno: syscall.ENOENT, wantFile: "no-such-program-gofutures"},
		{name: "not found with slash", spec: gio.RunSpec{Argv: bs(dir + "/nope")},
			wantClass: gio.ClassOS, wantErrno: syscall.ENOENT, wantFile: dir + "/nope"},
		{name: "bad cwd", spec: gio.RunSpec{Argv: bs("pwd"), Cwd: []byte(dir + "/missing")},
			wantClass: gio.ClassOS, wantErrno: syscall.ENOENT, wantFile: dir + "/missing"},
		{name: "not executable", spec: gio.RunSpec{Argv: bs(dir)},
			wantClass: gio.ClassOS, wantErrno: syscall.EACCES, wantFile: dir},
		{name: "timeout", spec: gio.RunSpec{Argv: bs("sh", "-c", "echo early; exec sleep 10"), HasTimeout: true, Timeout: 0.3},
			wantClass: gio.ClassExpired, wantOut: "early\n", wantCode: -9, maxSeconds: 5},
		{name: "empty argv", spec: gio.RunSpec{}, wantClass: gio.ClassValue},
		{name: "NUL in an arg", spec: gio.RunSpec{Argv: bs("echo", "a\x00")}, wantClass: gio.ClassValue},
		{name: "NUL in cwd", spec: gio.RunSpec{Argv: bs("pwd"), Cwd: []byte(dir + "\x00")}, wantClass: gio.ClassValue},
		{name: "NUL in env", spec: gio.RunSpec{Argv: bs("true"), HasEnv: true, Env: bs("A=\x00")}, wantClass: gio.ClassValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			res, err := gio.Run(context.Background(), tc.spec, tc.input)
			if tc.maxSeconds > 0 {
				assert.Less(t, time.Since(start).Seconds(), tc.maxSeconds)
			}
			if tc.wantClass != "" {
				ge := classOf(t, err)
				assert.Equal(t, tc.wantClass, ge.Class)
				assert.Equal(t, int(tc.wantErrno), ge.Errno)
				assert.Equal(t, tc.wantFile, ge.Filename)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.wantCode, res.Code)
			assert.Equal(t, tc.wantOut, string(res.Stdout.Bytes()))
			assert.Equal(t, tc.wantErr, string(res.Stderr.Bytes()))
		})
	}
}

func TestRunCancelKillsTheChild(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	res, err := gio.Run(ctx, gio.RunSpec{Argv: bs("sleep", "10")}, nil)
	assert.Equal(t, gio.ClassCanceled, classOf(t, err).Class)
	assert.Equal(t, -9, res.Code)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestRunGrandchildHoldingPipesAfterTimeout(t *testing.T) {
	// The grandchild keeps stdout open: Run stops reading once the child is
	// killed, as subprocess.run does on POSIX.
	start := time.Now()
	res, err := gio.Run(context.Background(), gio.RunSpec{
		Argv: bs("sh", "-c", "echo start; sleep 5 & exec sleep 10"), HasTimeout: true, Timeout: 0.2,
	}, nil)
	assert.Equal(t, gio.ClassExpired, classOf(t, err).Class)
	assert.Less(t, time.Since(start), 700*time.Millisecond)
	assert.Equal(t, "start\n", string(res.Stdout.Bytes()))
}

func TestRunWaitForPipesHonoursTimeoutAndCancel(t *testing.T) {
	// The child exits at once; a grandchild holds a pipe for 5 s: stdout
	// (it writes nothing more), or stdin (it reads nothing, and the input
	// does not fit in the pipe). subprocess.run waits for the pipes until
	// the timeout, then raises TimeoutExpired with the output so far.
	holdOut := bs("sh", "-c", "sleep 5 & echo started")
	holdIn := bs("sh", "-c", "exec 3<&0; sleep 5 <&3 >/dev/null 2>&1 & echo started")
	big := make([]byte, 1<<20)
	for _, tc := range []struct {
		name      string
		spec      gio.RunSpec
		input     []byte
		cancel    bool
		wantClass gio.Class
		wantEnded bool // stdout and stderr had reached their end
	}{
		{name: "stdout, timeout", spec: gio.RunSpec{Argv: holdOut, HasTimeout: true, Timeout: 0.3}, wantClass: gio.ClassExpired},
		{name: "stdout, cancel", spec: gio.RunSpec{Argv: holdOut}, cancel: true, wantClass: gio.ClassCanceled},
		{name: "stdin, timeout", spec: gio.RunSpec{Argv: holdIn, Input: true, HasTimeout: true, Timeout: 0.3},
			input: big, wantClass: gio.ClassExpired, wantEnded: true},
		{name: "stdin, cancel", spec: gio.RunSpec{Argv: holdIn, Input: true}, input: big, cancel: true,
			wantClass: gio.ClassCanceled, wantEnded: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				time.AfterFunc(300*time.Millisecond, cancel)
			}
			start := time.Now()
			res, err := gio.Run(ctx, tc.spec, tc.input)
			assert.Less(t, time.Since(start), 2*time.Second)
			assert.Equal(t, tc.wantClass, classOf(t, err).Class)
			assert.Equal(t, "started\n", string(res.Stdout.Bytes()))
			assert.Equal(t, tc.wantEnded, res.StdoutEnded)
			assert.Equal(t, tc.wantEnded, res.StderrEnded)
		})
	}
}

func TestRunTimeoutAfterThePipesEnded(t *testing.T) {
	// subprocess.run stops reading once stdout and stderr have ended and the
	// input was taken, then waits for the child with what is left of the
	// timeout: its TimeoutExpired holds no output, and that time.
	for _, tc := range []struct {
		name     string
		script   string
		input    []byte
		wantEnds bool
	}{
		{name: "both closed", script: "echo out; exec >&- 2>&-; sleep 5", wantEnds: true},
		{name: "both closed, input taken", script: "cat >/dev/null; exec >&- 2>&-; sleep 5", input: []byte("in"), wantEnds: true},
		{name: "stderr open", script: "exec >&-; sleep 5"},
		{name: "input not taken", script: "exec >&- 2>&-; sleep 5", input: make([]byte, 1<<20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := gio.RunSpec{Argv: bs("sh", "-c", tc.script), Input: tc.input != nil, HasTimeout: true, Timeout: 0.5}
			res, err := gio.Run(context.Background(), spec, tc.input)
			assert.Equal(t, gio.ClassExpired, classOf(t, err).Class)
			assert.Equal(t, tc.wantEnds, res.PipesEnded)
			if tc.wantEnds {
				assert.Greater(t, res.Remaining, time.Duration(0))
				assert.Less(t, res.Remaining, 500*time.Millisecond)
			} else {
				assert.Zero(t, res.Remaining)
			}
		})
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	ctx := context.Background()
	require.NoError(t, gio.WriteFile(ctx, path, []byte("hello")))
	data, err := gio.ReadFile(ctx, path)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(data.Bytes()))

	for _, tc := range []struct {
		name  string
		call  func() error
		errno syscall.Errno
		file  string
	}{
		{"read missing", func() error { _, err := gio.ReadFile(ctx, path+"x"); return err }, syscall.ENOENT, path + "x"},
		{"read directory", func() error { _, err := gio.ReadFile(ctx, dir); return err }, syscall.EISDIR, dir},
		{"write into missing dir", func() error { return gio.WriteFile(ctx, dir+"/a/b", nil) }, syscall.ENOENT, dir + "/a/b"},
		{"write to a full device", func() error { return gio.WriteFile(ctx, "/dev/full", []byte("x")) }, syscall.ENOSPC, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ge := classOf(t, tc.call())
			assert.Equal(t, gio.ClassOS, ge.Class)
			assert.Equal(t, int(tc.errno), ge.Errno)
			assert.Equal(t, tc.file, ge.Filename)
			assert.Equal(t, "No such file or directory", gio.OSError(syscall.ENOENT, "").Msg)
		})
	}
	_, err = os.Stat(path)
	require.NoError(t, err)

	_, err = gio.ReadFile(ctx, path+"\x00")
	assert.Equal(t, &gio.Error{Class: gio.ClassValue, Msg: "embedded null byte"}, err)
	err = gio.WriteFile(ctx, path+"\x00", nil)
	assert.Equal(t, &gio.Error{Class: gio.ClassValue, Msg: "embedded null byte"}, err)
}

func TestSeconds(t *testing.T) {
	for _, tc := range []struct {
		seconds float64
		want    time.Duration
		ok      bool
	}{
		{1.5, 1500 * time.Millisecond, true},
		{1e-10, 1, true}, // rounded up, as CPython rounds a timeout
		{-1e-10, 0, true},
		{0, 0, true},
		{9.2e9, 9.2e18, true},
		{9.3e9, 0, false}, // past math.MaxInt64 ns
		{-9.3e9, 0, false},
		{math.Inf(1), 0, false},
		{math.Inf(-1), 0, false},
		{math.NaN(), 0, false},
	} {
		d, ok := gio.Seconds(tc.seconds)
		assert.Equal(t, tc.ok, ok, "%v", tc.seconds)
		assert.Equal(t, tc.want, d, "%v", tc.seconds)
	}
}

func TestSleep(t *testing.T) {
	start := time.Now()
	require.NoError(t, gio.Sleep(context.Background(), 50*time.Millisecond))
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Equal(t, gio.ClassCanceled, classOf(t, gio.Sleep(ctx, time.Hour)).Class)
	require.NoError(t, gio.Sleep(context.Background(), -time.Second))
}
