package procpool

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/gofutures/gofutures/gofutures/panics"
)

// ExecLauncher starts every worker as a fresh process: Argv with the socket
// path and token in the environment (GOFUTURES_SOCKET, GOFUTURES_TOKEN).
// Cost: a full interpreter start per worker (40-450 ms for Python); the
// zygote launcher forks instead.
//
// Workers get SIGKILL when the thread that started them exits
// (PR_SET_PDEATHSIG): Launch must be called from a thread that lives as long
// as the pool (the pool's spawner goroutine is locked to one).
type ExecLauncher struct {
	Argv []string
	Env  []string // nil: this process's environment
}

// Launch implements Launcher.
func (l *ExecLauncher) Launch(token uint64, socket string) (Proc, error) {
	cmd := exec.Command(l.Argv[0], l.Argv[1:]...)
	env := l.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(append([]string(nil), env...),
		"GOFUTURES_SOCKET="+socket, "GOFUTURES_TOKEN="+strconv.FormatUint(token, 10))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &execProc{cmd: cmd, exitOnce: exitOnce{exited: make(chan ExitStatus, 1)}}
	panics.Go(p.wait, func(r *panics.Recovered) {
		// No zombie: end it and wait (an error if Wait itself did already).
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		p.report(unknownStatus("internal error waiting for it: " + r.Error()))
	})
	return p, nil
}

// Close implements Launcher; an ExecLauncher has nothing to stop.
func (l *ExecLauncher) Close() error { return nil }

type execProc struct {
	cmd *exec.Cmd
	exitOnce
}

// wait reports the worker's exit. When the program ignores SIGCHLD the
// kernel reaps its children itself: Wait fails with ECHILD once the worker
// has ended, ProcessState stays nil, and the status is unknown.
func (p *execProc) wait() {
	hook("exec-wait")
	err := p.cmd.Wait()
	st := unknownStatus("no status to wait for: SIGCHLD is ignored, so the system reaped it")
	if ps := p.cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
			st = StatusFromWait(ws)
		}
	} else if err != nil && !errors.Is(err, syscall.ECHILD) {
		st = unknownStatus("waiting for it failed: " + err.Error())
	}
	p.report(st)
}

func (p *execProc) Pid() int { return p.cmd.Process.Pid }

func (p *execProc) Kill() { p.killUnlessEnded(func() { _ = p.cmd.Process.Kill() }) }
