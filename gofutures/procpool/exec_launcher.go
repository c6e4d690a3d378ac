package procpool

import (
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
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
	p := &execProc{cmd: cmd, exited: make(chan ExitStatus, 1)}
	go p.wait()
	return p, nil
}

// Close implements Launcher; an ExecLauncher has nothing to stop.
func (l *ExecLauncher) Close() error { return nil }

type execProc struct {
	cmd    *exec.Cmd
	exited chan ExitStatus
	done   bool
	mu     sync.Mutex
}

func (p *execProc) wait() {
	_ = p.cmd.Wait()
	p.mu.Lock()
	p.done = true
	p.mu.Unlock()
	ws, _ := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	p.exited <- StatusFromWait(ws)
}

func (p *execProc) Pid() int { return p.cmd.Process.Pid }

func (p *execProc) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done {
		_ = p.cmd.Process.Kill()
	}
}

func (p *execProc) Exited() <-chan ExitStatus { return p.exited }
