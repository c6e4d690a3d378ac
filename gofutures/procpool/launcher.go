package procpool

import (
	"fmt"
	"sync"
	"syscall"
)

// Launcher starts worker processes. A started worker must connect to the
// pool's socket and send HELLO with the token it was given.
type Launcher interface {
	// Launch starts one worker that will connect to socket and identify
	// itself with token.
	Launch(token uint64, socket string) (Proc, error)
	// Close stops the launcher's own helpers (a zygote it owns). Workers it
	// started are not waited for.
	Close() error
}

// FinalLauncher is a Launcher that can be told a launch is the last one the
// pool will ever ask for (so the launcher may spend itself on it: a zygote
// that becomes the worker).
type FinalLauncher interface {
	Launcher
	LaunchFinal(token uint64, socket string) (Proc, error)
}

// Proc is a started worker process.
type Proc interface {
	Pid() int
	// Kill sends SIGKILL; it is safe to call more than once, and after exit.
	Kill()
	// Exited delivers the exit status once, when the process has been reaped.
	Exited() <-chan ExitStatus
}

// ExitStatus is how a worker process ended.
type ExitStatus struct {
	Code   int            // exit code, when Signal is 0 and Unknown is false
	Signal syscall.Signal // terminating signal, or 0
	// Unknown: the process ended but its wait status could not be had. Why
	// is in Why: a program that ignores SIGCHLD has its children reaped by
	// the kernel (wait fails with ECHILD), and a worker forked by a zygote
	// that died first had nobody left to report it.
	Unknown bool
	Why     string
	// LostWith is, when the status was lost because the zygote that forked
	// the worker died, that zygote's pid if it had become a worker of the
	// same pool (whose own status is known): the pool reports that one.
	LostWith int
}

// exitOnce is the exit half of a Proc: it delivers the exit status once, and
// lets the process be signalled only until then (once the status is known
// the process has been reaped, and its pid may be another process's).
type exitOnce struct {
	mu     sync.Mutex
	ended  bool
	exited chan ExitStatus // buffered (1): report never blocks
}

// report delivers st, unless a status was delivered already.
func (e *exitOnce) report(st ExitStatus) {
	e.mu.Lock()
	if e.ended {
		e.mu.Unlock()
		return
	}
	e.ended = true
	e.mu.Unlock()
	e.exited <- st
}

// killUnlessEnded calls kill unless the exit status was delivered.
func (e *exitOnce) killUnlessEnded(kill func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.ended {
		kill()
	}
}

// Exited implements Proc.
func (e *exitOnce) Exited() <-chan ExitStatus { return e.exited }

// unknownStatus is the status of a process that ended with no status known.
func unknownStatus(why string) ExitStatus { return ExitStatus{Unknown: true, Why: why} }

// StatusFromWait converts a wait(2) status.
func StatusFromWait(ws syscall.WaitStatus) ExitStatus {
	if ws.Signaled() {
		return ExitStatus{Signal: ws.Signal()}
	}
	return ExitStatus{Code: ws.ExitStatus()}
}

// String says how the process ended and, like loky, what that probably means.
func (s ExitStatus) String() string {
	if s.Unknown {
		return "ended, exit status unknown (" + s.Why + ")"
	}
	if s.Signal == 0 {
		return fmt.Sprintf("exited with code %d", s.Code)
	}
	hint := ""
	switch s.Signal {
	case syscall.SIGKILL:
		hint = ": killed, possibly by the out-of-memory killer"
	case syscall.SIGSEGV:
		hint = ": a segmentation fault, typically a crash in C code"
	case syscall.SIGBUS:
		hint = ": a bus error, typically a crash in C code"
	case syscall.SIGABRT:
		hint = ": aborted, typically a failed assertion in C code"
	}
	return fmt.Sprintf("terminated by signal %d (%s%s)", int(s.Signal), signalName(s.Signal), hint)
}

func signalName(sig syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGKILL: "SIGKILL", syscall.SIGSEGV: "SIGSEGV", syscall.SIGTERM: "SIGTERM",
		syscall.SIGABRT: "SIGABRT", syscall.SIGBUS: "SIGBUS", syscall.SIGINT: "SIGINT",
		syscall.SIGFPE: "SIGFPE", syscall.SIGILL: "SIGILL", syscall.SIGPIPE: "SIGPIPE",
		syscall.SIGHUP: "SIGHUP",
	}
	if n, ok := names[sig]; ok {
		return n
	}
	return sig.String()
}
