package gio

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofutures/gofutures/gofutures/panics"
)

// RunSpec is a subprocess to run, as subprocess.run(args, input=, timeout=,
// cwd=, env=, capture_output=True) takes it. Strings are file system bytes
// (base64 in JSON).
type RunSpec struct {
	Argv [][]byte `json:"argv"`
	// Env is the child's environment, "KEY=value". With !HasEnv the child
	// gets os.Environ(), which in a program that embeds Go (a Python
	// extension) is the environment as it was when Go started: gofutures.io
	// always sends the one os.environ holds now.
	Env     [][]byte `json:"env"`
	HasEnv  bool     `json:"has_env"` // Env applies (even empty)
	Cwd     []byte   `json:"cwd"`     // empty: inherit
	Input   bool     `json:"input"`   // input= was given: the body is stdin, else stdin is inherited
	Timeout float64  `json:"timeout"` // seconds; HasTimeout says whether it applies
	// HasTimeout: timeout= was given (0 and negative time out at once, as
	// in subprocess).
	HasTimeout bool `json:"has_timeout"`
}

// RunResult is a finished subprocess: its return code as subprocess gives it
// (-N for a child killed by signal N) and everything it wrote.
type RunResult struct {
	Code   int
	Stdout Output
	Stderr Output
	// StdoutEnded and StderrEnded say, after a timeout, whether the pipe
	// had reached its end by then (subprocess.TimeoutExpired then holds b""
	// for an empty output, else None).
	StdoutEnded, StderrEnded bool
	// PipesEnded says, after a timeout, that the child had closed its
	// stdout and stderr and taken its input before it, Remaining before the
	// timeout: subprocess.run then stops reading and waits for the child
	// for the Remaining time, and its TimeoutExpired holds no output and
	// Remaining as the timeout.
	PipesEnded bool
	Remaining  time.Duration
}

// Run runs a subprocess to completion, capturing its output. Failures are
// *Error: ClassValue for no argv, a NUL in a string or a timeout out of
// range, ClassOS for a program or directory that cannot be used (errno and
// the file name, as subprocess raises), ClassExpired when the timeout
// passed, while the child runs or a grandchild holds its pipes (the child
// is killed; RunResult holds the output so far), and ClassCanceled when
// ctx was cancelled (the child is killed after up to SigintWait, as
// subprocess.run kills it on KeyboardInterrupt). After either, Run reads
// the pipes no more.
func Run(ctx context.Context, spec RunSpec, input []byte) (RunResult, error) {
	var res RunResult
	if len(spec.Argv) == 0 {
		return res, Errorf(ClassValue, "args must not be empty")
	}
	timeout, ok := Seconds(spec.Timeout)
	if !ok {
		return res, Errorf(ClassValue, "timeout out of range: %v", spec.Timeout)
	}
	argv, cwd := strs(spec.Argv), string(spec.Cwd)
	env := strs(spec.Env)
	if err := checkNUL(append(append([]string{cwd}, argv...), env...)...); err != nil {
		return res, err
	}
	if !spec.HasEnv {
		env = os.Environ()
	} else if env == nil {
		env = []string{} // exec.Cmd would inherit for nil
	}
	// As subprocess's child: the directory first (its errors name it),
	// then the program.
	if cwd != "" {
		if fi, err := os.Stat(cwd); err != nil {
			return res, FromError(nil, err)
		} else if !fi.IsDir() {
			return res, OSError(syscall.ENOTDIR, cwd)
		} else if err := syscall.Access(cwd, 1); err != nil { // X_OK: chdir needs search permission
			if errno, ok := err.(syscall.Errno); ok {
				return res, OSError(errno, cwd)
			}
		}
	}
	path, err := lookPath(argv[0], env, spec.HasEnv, cwd)
	if err != nil {
		return res, err
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Env: env, Dir: cwd}
	outR, outW, err := os.Pipe()
	if err != nil {
		return res, FromError(nil, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return res, FromError(nil, err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	var inR, inW *os.File
	if spec.Input {
		if inR, inW, err = os.Pipe(); err != nil {
			outR.Close()
			outW.Close()
			errR.Close()
			errW.Close()
			return res, FromError(nil, err)
		}
		cmd.Stdin = inR
	} else {
		cmd.Stdin = os.Stdin
	}
	startErr := cmd.Start()
	outW.Close() // the child's ends: only the child (and its children) hold them now
	errW.Close()
	if inR != nil {
		inR.Close()
	}
	if startErr != nil {
		outR.Close()
		errR.Close()
		if inW != nil {
			inW.Close()
		}
		return res, startError(startErr, argv[0])
	}
	// The pipes: stdout and stderr read to their end, the input written
	// (or refused: a child may exit without reading, and its EPIPE is not
	// an error, as subprocess ignores BrokenPipeError).
	var pipes sync.WaitGroup
	var stdout, stderr Output
	var stdoutEnded, stderrEnded atomic.Bool
	// A panic in one of Run's goroutines is recovered (it would abort the
	// interpreter) and fails the run; each goroutine signals its end anyway.
	var panicked atomic.Pointer[panics.Recovered]
	keep := func(r *panics.Recovered) { panicked.CompareAndSwap(nil, r) }
	pipes.Add(2)
	panics.Go(func() {
		out := &growingPipe{f: outR}
		defer out.Done()
		drain(&pipes, out, &stdout, &stdoutEnded)
	}, keep)
	panics.Go(func() { drain(&pipes, errR, &stderr, &stderrEnded) }, keep)
	if inW != nil {
		pipes.Add(1)
		panics.Go(func() {
			defer pipes.Done()
			_, _ = inW.Write(input)
			inW.Close()
		}, keep)
	}

	exited := make(chan struct{})
	var waitErr error
	panics.Go(func() {
		defer close(exited)
		waitErr = cmd.Wait()
	}, keep)
	var timer <-chan time.Time
	var deadline time.Time
	if spec.HasTimeout {
		deadline = time.Now().Add(timeout)
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	pipesDone := make(chan struct{})
	var pipesEnded time.Time // written before pipesDone is closed
	panics.Go(func() {
		defer close(pipesDone)
		pipes.Wait()
		pipesEnded = time.Now()
	}, keep)
	fail := await(ctx, exited, timer)
	if fail == nil {
		// As subprocess: a grandchild holding the pipes is waited for, until
		// the timeout (TimeoutExpired with the output so far) or Ctrl-C.
		fail = await(ctx, pipesDone, timer)
	}
	if fail != nil {
		if fail.Class == ClassCanceled {
			// As Popen.communicate on KeyboardInterrupt: the child, which
			// a terminal's Ctrl-C reached too, has a moment to run its
			// SIGINT cleanup and exit before it is killed.
			grace := time.NewTimer(SigintWait)
			select {
			case <-exited:
			case <-grace.C:
			case <-timer:
			}
			grace.Stop()
		}
		res.StdoutEnded, res.StderrEnded = stdoutEnded.Load(), stderrEnded.Load()
		if fail.Class == ClassExpired {
			select {
			case <-pipesDone:
				if pipesEnded.Before(deadline) {
					res.PipesEnded, res.Remaining = true, deadline.Sub(pipesEnded)
				}
			default:
			}
		}
		_ = cmd.Process.Kill() // ErrProcessDone if it had exited
		<-exited
		// subprocess.run on POSIX reads no more once it has killed the
		// child: a grandchild may hold the pipes for as long as it lives.
		stopPipes(outR, errR, inW)
	}
	<-pipesDone
	outR.Close()
	errR.Close()
	res.Stdout, res.Stderr = stdout, stderr
	res.Code = exitCode(cmd.ProcessState, waitErr)
	if r := panicked.Load(); r != nil {
		return res, &Error{Class: ClassPanic, Msg: r.Error()}
	}
	if fail != nil {
		return res, fail
	}
	return res, nil
}

// SigintWait is how long Run gives a child to exit after ctx is cancelled
// (Ctrl-C) before killing it: subprocess's Popen._sigint_wait_secs.
const SigintWait = 250 * time.Millisecond

// await waits until done is closed, timer fires or ctx is done, and returns
// the failure that ended the wait (nil for done).
func await(ctx context.Context, done <-chan struct{}, timer <-chan time.Time) *Error {
	select {
	case <-done:
		return nil
	case <-timer:
		return &Error{Class: ClassExpired, Msg: "timed out"}
	case <-ctx.Done():
		return Errorf(ClassCanceled, "%v", ctx.Err())
	}
}

// stopPipes makes the goroutines reading out and errs and writing in (nil:
// none) return at once: a pending read or write fails with a deadline error.
func stopPipes(out, errs, in *os.File) {
	now := time.Now()
	_ = out.SetReadDeadline(now)
	_ = errs.SetReadDeadline(now)
	if in != nil {
		_ = in.SetWriteDeadline(now) // fails harmlessly if the writer closed it
	}
}

func strs(bs [][]byte) []string {
	if bs == nil {
		return nil
	}
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// drain reads r into into until its end, which it then records in ended.
// A read error ends the output too (not recorded as its end).
func drain(wg *sync.WaitGroup, r io.Reader, into *Output, ended *atomic.Bool) {
	defer wg.Done()
	if _, err := into.ReadFrom(r); err == nil {
		ended.Store(true)
	}
}

func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		if errors.Is(err, syscall.ECHILD) {
			// SIGCHLD ignored: the kernel reaped the child, its status is
			// gone; subprocess reports 0 then (Popen._try_wait).
			return 0
		}
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -int(ws.Signal())
	}
	return ps.ExitCode()
}

// startError is the error subprocess raises for a program that cannot be
// started: OSError with the errno, and the program as the file name.
func startError(err error, program string) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return OSError(errno, program)
	}
	return FromError(nil, err)
}

// lookPath finds the program as subprocess does on POSIX: a name with a
// slash is used as it is (relative to cwd); any other is searched in the
// PATH of the child's environment (os.get_exec_path), else os.defpath.
func lookPath(name string, env []string, hasEnv bool, cwd string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil // exec.Cmd evaluates a relative path in Dir, as the child does
	}
	pathVar, found := "", false
	if hasEnv {
		for _, kv := range env {
			if k, v, ok := strings.Cut(kv, "="); ok && k == "PATH" {
				pathVar, found = v, true
			}
		}
	} else {
		pathVar, found = os.LookupEnv("PATH")
	}
	if !found {
		pathVar = "/bin:/usr/bin" // os.defpath
	}
	var firstErr error
	// os.get_exec_path splits an empty PATH into one empty entry (the
	// current directory); filepath.SplitList would give none.
	for _, dir := range strings.Split(pathVar, string(os.PathListSeparator)) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if !strings.Contains(p, "/") {
			p = "./" + p
		}
		probe := p // the child resolves a relative entry in its own directory
		if !filepath.IsAbs(p) && cwd != "" {
			probe = filepath.Join(cwd, p)
		}
		err := syscall.Access(probe, 1) // X_OK
		if err == nil {
			if fi, serr := os.Stat(probe); serr == nil && !fi.IsDir() {
				return p, nil
			}
			err = syscall.EACCES
		}
		if firstErr == nil && err != syscall.ENOENT && err != syscall.ENOTDIR {
			firstErr = err
		}
	}
	if errno, ok := firstErr.(syscall.Errno); ok {
		return "", OSError(errno, name)
	}
	return "", OSError(syscall.ENOENT, name)
}
