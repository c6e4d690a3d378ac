package procpool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gofutures/gofutures/gofutures/panics"
)

// ZygoteLauncher asks a helper process (the zygote: a Python interpreter
// with the worker code imported and no Go runtime) to fork each worker. The
// zygote is either shared (NewSharedZygote: a fresh interpreter that the
// launcher executes on first use and every pool that asks for one uses, like
// multiprocessing's forkserver) or adopted (AdoptZygote): forked from the
// program by Python when a pool starts, like the 'fork' start method, and
// owned by that pool. A fork of a warm interpreter takes about a
// millisecond where a fresh interpreter takes 40-450 ms, which is what makes
// worker replacement (max_tasks_per_child) cheap.
//
// Line protocol on two pipes (a shared zygote's fds 3 and 4):
//
//	to zygote:   fork <token> <socket path> | become <token> <socket path>
//	from zygote: forked <token> <pid> | error <token> <message> | exit <pid> <wait status>
//
// The zygote reaps its children and reports their wait status, so no zombie
// is left and the pool learns how a worker ended.
//
// No zygote sets PR_SET_PDEATHSIG: the signal follows the *thread* that
// started the process, and a zygote outlives it (a shared zygote, the
// spawner thread of the first pool that used it; an adopted one, whichever
// Python thread started its pool). A zygote exits instead at the end of its
// command pipe, whose write end this process holds (close-on-exec; a child
// it forks without exec holds it too, until that child exits), so that end
// comes when this process dies, however it dies. The workers a zygote
// starts set PR_SET_PDEATHSIG, so they die with it.
//
// An adopted zygote may turn into a worker itself (LaunchFinal, "become"):
// then no process is left over for a program that runs one pool. It reads
// no more commands; the end of its command pipe kills it (SIGKILL through
// F_SETSIG) even while a task runs.
type ZygoteLauncher struct {
	argv    []string // the command that starts a shared zygote
	env     []string // its environment ("KEY=value"); nil: this process's
	shared  bool     // a fresh interpreter serving every pool: Close leaves it running
	pid     int      // an adopted zygote's pid, 0 otherwise
	mu      sync.Mutex
	users   int  // pools that acquired it and have not closed it
	spent   bool // it became a worker: it forks no more
	cmd     *exec.Cmd
	toZ     *os.File
	started bool
	dead    error
	forks   map[uint64]chan forkReply
	procs   map[int]*zygoteProc
	early   map[int]ExitStatus // exits reported before the fork reply was handled
	waitErr chan struct{}
}

type forkReply struct {
	pid int
	err error
}

// AdoptZygote returns a launcher for a zygote that this process forked
// itself (pid, with the command pipe's write end cmdFd and the reply pipe's
// read end repFd), owned by one pool: Close ends it (closing its command
// pipe, then SIGKILL if it has not exited within zygoteCloseWait) and reaps it. The
// pool's last worker may be the zygote itself (LaunchFinal).
func AdoptZygote(pid, cmdFd, repFd int) (*ZygoteLauncher, error) {
	proc, err := os.FindProcess(pid)
	if err != nil {
		return nil, err
	}
	l := &ZygoteLauncher{pid: pid}
	l.init()
	l.started = true
	l.toZ = os.NewFile(uintptr(cmdFd), "zygote-commands")
	l.waitErr = make(chan struct{})
	go l.readReplies(os.NewFile(uintptr(repFd), "zygote-replies"), func() *os.ProcessState { // recovers itself
		st, _ := proc.Wait()
		return st
	}, l.waitErr)
	return l, nil
}

// NewSharedZygote returns a launcher that executes argv as a zygote, with
// environment env (nil: this process's), on first use, and is shared by
// every pool: Close leaves it running, and it exits when this process does
// (its command pipe closes).
func NewSharedZygote(argv, env []string) *ZygoteLauncher {
	return &ZygoteLauncher{argv: argv, env: env, shared: true}
}

func (l *ZygoteLauncher) init() {
	l.forks = map[uint64]chan forkReply{}
	l.procs = map[int]*zygoteProc{}
	l.early = map[int]ExitStatus{}
}

// Acquire registers a pool that will launch workers through l, until it
// calls Close. It fails once the zygote is dead or became a worker.
func (l *ZygoteLauncher) Acquire() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dead != nil || l.spent {
		return false
	}
	l.users++
	return true
}

// startLocked executes the zygote on first use; later calls return why it
// could not start, if it could not. l.mu must be held.
func (l *ZygoteLauncher) startLocked() error {
	if l.started {
		return l.dead
	}
	l.started = true
	l.init()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		return err
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		cmdR.Close()
		cmdW.Close()
		return err
	}
	// No PR_SET_PDEATHSIG: it fires when the *thread* that started the
	// child exits, and this zygote outlives the pool whose spawner thread
	// starts it. It exits at the end of its command pipe instead, which
	// comes when this process dies, however it dies.
	cmd := exec.Command(l.argv[0], l.argv[1:]...)
	cmd.Env = l.env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{cmdR, repW} // fds 3 and 4
	err = cmd.Start()
	cmdR.Close()
	repW.Close()
	if err != nil {
		cmdW.Close()
		repR.Close()
		l.dead = err
		return err
	}
	l.cmd, l.toZ = cmd, cmdW
	l.waitErr = make(chan struct{})
	go l.readReplies(repR, func() *os.ProcessState { // recovers itself
		_ = cmd.Wait()
		return cmd.ProcessState
	}, l.waitErr)
	return nil
}

// Launch implements Launcher.
func (l *ZygoteLauncher) Launch(token uint64, socket string) (Proc, error) {
	return l.launch(token, socket, false)
}

// LaunchFinal implements FinalLauncher. An adopted zygote that only the
// calling pool uses becomes the worker itself; any other forks one.
func (l *ZygoteLauncher) LaunchFinal(token uint64, socket string) (Proc, error) {
	return l.launch(token, socket, true)
}

func (l *ZygoteLauncher) launch(token uint64, socket string, final bool) (Proc, error) {
	l.mu.Lock()
	if err := l.startLocked(); err != nil {
		l.mu.Unlock()
		return nil, fmt.Errorf("starting the zygote: %w", err)
	}
	if l.dead != nil {
		l.mu.Unlock()
		return nil, l.dead
	}
	if l.spent {
		l.mu.Unlock()
		return nil, errors.New("the zygote became a worker and forks no more")
	}
	verb := "fork"
	// Linux only: the zygote-worker relies on F_SETSIG to die with this process.
	if final && l.pid > 0 && l.users == 1 && runtime.GOOS == "linux" {
		verb = "become"
		l.spent = true // nothing more may be written to it: it now serves as a worker
	}
	reply := make(chan forkReply, 1)
	l.forks[token] = reply
	_, err := fmt.Fprintf(l.toZ, "%s %d %s\n", verb, token, socket)
	gone := l.waitErr
	l.mu.Unlock()
	if err != nil {
		// A dead zygote (broken pipe): say how it ended, once known.
		select {
		case <-gone:
			l.mu.Lock()
			err = l.dead
			l.mu.Unlock()
		case <-time.After(zygoteDeathWait):
		}
		return nil, fmt.Errorf("asking the zygote to fork: %w", err)
	}
	select {
	case r := <-reply:
		if r.err != nil {
			return nil, r.err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		p := &zygoteProc{pid: r.pid, exitOnce: exitOnce{exited: make(chan ExitStatus, 1)}}
		if st, ok := l.early[r.pid]; ok {
			delete(l.early, r.pid)
			p.report(st)
		} else {
			l.procs[r.pid] = p
		}
		return p, nil
	case <-time.After(forkReplyTimeout):
		return nil, fmt.Errorf("the zygote did not answer a fork request within %d s", forkReplyTimeout/time.Second)
	}
}

// It recovers a panic of its own: the zygote is then treated as dead (its
// pending forks fail and its workers' exits are reported, with the Go stack
// as the reason), and the pools using it break, instead of Python aborting.
// gone is the zygote's waitErr, closed once that is done, even when
// zygoteGone panics (Close waits for it).
func (l *ZygoteLauncher) readReplies(r io.ReadCloser, wait func() *os.ProcessState, gone chan struct{}) {
	defer r.Close()
	var internal *panics.Recovered
	if internal = panics.Try(func() { l.scanReplies(r) }); internal != nil {
		r.Close() // the zygote sees its replies go nowhere: it exits on the next one
	}
	if panics.Try(func() { l.zygoteGone(wait, internal) }) != nil {
		select {
		case <-gone:
		default:
			close(gone)
		}
	}
}

// scanReplies handles the zygote's replies until its reply pipe ends.
func (l *ZygoteLauncher) scanReplies(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		hook("zygote-replies")
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "forked":
			if len(f) != 3 {
				continue
			}
			token, _ := strconv.ParseUint(f[1], 10, 64)
			pid, _ := strconv.Atoi(f[2])
			l.replyFork(token, forkReply{pid: pid})
		case "error":
			token, _ := strconv.ParseUint(f[1], 10, 64)
			l.replyFork(token, forkReply{err: fmt.Errorf("the zygote could not fork: %s", strings.Join(f[2:], " "))})
		case "exit":
			if len(f) != 3 {
				continue
			}
			pid, _ := strconv.Atoi(f[1])
			ws, _ := strconv.Atoi(f[2])
			l.reportExit(pid, StatusFromWait(syscall.WaitStatus(ws)))
		}
	}
}

// zygoteGone is called once the zygote's reply pipe ended (or reading it
// failed with internal): it waits for the zygote, fails pending forks and
// reports the exit of every worker still running from it.
func (l *ZygoteLauncher) zygoteGone(wait func() *os.ProcessState, internal *panics.Recovered) {
	if internal != nil {
		l.kill() // nothing reads its replies any more
	}
	// If it had become a worker, that worker ended as the zygote did. A
	// program that ignores SIGCHLD has it reaped by the kernel: no status.
	st := unknownStatus("no status to wait for: SIGCHLD is ignored, so the system reaped it")
	if ps := wait(); ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
			st = StatusFromWait(ws)
		}
	}
	l.mu.Lock()
	l.dead = fmt.Errorf("the zygote process %s", st)
	if internal != nil {
		l.dead = fmt.Errorf("the zygote's replies could not be read: %w", internal)
	}
	forks := l.forks
	l.forks = map[uint64]chan forkReply{}
	procs := l.procs
	l.procs = map[int]*zygoteProc{}
	spent := l.spent
	l.mu.Unlock()
	for _, ch := range forks {
		ch <- forkReply{err: l.dead}
	}
	// The zygote's own process first: when it was a worker, its status is
	// the one known for sure, and the pool should report it.
	if p, ok := procs[l.pid]; ok {
		delete(procs, l.pid)
		p.report(st)
	}
	for pid, p := range procs {
		p.report(orphanStatus(pid, st, l.pid, spent))
	}
	close(l.waitErr)
}

// orphanStatus is the status of a worker whose zygote (zygotePid, which
// ended with zst) died before reporting it. The worker got SIGKILL when its
// zygote died (PR_SET_PDEATHSIG), unless it had ended already; either way
// the zygote took its status along, unless this process is a child
// subreaper (PR_SET_CHILD_SUBREAPER, PID 1 in a container): then the worker
// was handed to this process, which must reap it (or it stays a zombie), and
// its status is known after all.
func orphanStatus(pid int, zst ExitStatus, zygotePid int, becameWorker bool) ExitStatus {
	if st, ok := reapAdopted(pid); ok {
		return st
	}
	st := unknownStatus(fmt.Sprintf("its zygote process %s before reporting it", zst))
	if becameWorker && zygotePid > 0 {
		// The zygote had become a worker of the pool these workers serve.
		st.LostWith = zygotePid
	}
	return st
}

// reapAdopted waits for pid if it is this process's child (a worker handed
// over when its zygote died, this process being a child subreaper); it
// reports false if pid is not this process's child. A worker gets SIGKILL
// when its zygote dies, so the wait is short; one that was still between
// fork and its PR_SET_PDEATHSIG gets it after adoptedReapWait.
func reapAdopted(pid int) (ExitStatus, bool) {
	if pid <= 0 || parentOf(pid) != os.Getpid() {
		return ExitStatus{}, false
	}
	deadline := time.Now().Add(adoptedReapWait)
	killed := false
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil: // ECHILD: not ours after all (or reaped meanwhile)
			return ExitStatus{}, false
		case got == pid:
			return StatusFromWait(ws), true
		}
		if !killed && time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			killed = true
		}
		time.Sleep(adoptedReapPoll)
	}
}

// parentOf returns pid's parent pid from /proc, or 0.
func parentOf(pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// kill ends the zygote (its replies can no longer be read).
func (l *ZygoteLauncher) kill() {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.cmd != nil && l.cmd.Process != nil:
		_ = l.cmd.Process.Kill()
	case l.pid > 0:
		_ = syscall.Kill(l.pid, syscall.SIGKILL)
	}
}

func (l *ZygoteLauncher) replyFork(token uint64, r forkReply) {
	l.mu.Lock()
	ch, ok := l.forks[token]
	delete(l.forks, token)
	l.mu.Unlock()
	if ok {
		ch <- r
	}
}

func (l *ZygoteLauncher) reportExit(pid int, st ExitStatus) {
	l.mu.Lock()
	p, ok := l.procs[pid]
	if ok {
		delete(l.procs, pid)
	} else {
		l.early[pid] = st
	}
	l.mu.Unlock()
	if ok {
		p.report(st)
	}
}

// Close implements Launcher: the zygote exits when its command pipe closes.
// It waits (up to zygoteCloseWait, then kills) so no zygote outlives the pool. Closing a
// shared zygote only ends the caller's use of it (see Acquire).
func (l *ZygoteLauncher) Close() error {
	l.mu.Lock()
	if l.shared && l.users > 0 {
		l.users--
	}
	if l.shared || !l.started || l.toZ == nil {
		l.mu.Unlock()
		return nil
	}
	toZ := l.toZ
	l.toZ = nil
	l.mu.Unlock()
	toZ.Close()
	select {
	case <-l.waitErr:
	case <-time.After(zygoteCloseWait):
		if l.cmd != nil {
			_ = l.cmd.Process.Kill()
		} else if l.pid > 0 {
			_ = syscall.Kill(l.pid, syscall.SIGKILL)
		}
		<-l.waitErr
	}
	return nil
}

type zygoteProc struct {
	pid int
	exitOnce
}

func (p *zygoteProc) Pid() int { return p.pid }

func (p *zygoteProc) Kill() { p.killUnlessEnded(func() { _ = syscall.Kill(p.pid, syscall.SIGKILL) }) }
