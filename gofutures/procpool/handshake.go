package procpool

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/gofutures/gofutures/gofutures/wire"
)

// start launches a worker and performs HELLO, INIT, READY.
func (s *slot) start() (Proc, net.Conn, *wire.Reader, error) {
	p := s.pool
	token := newToken()
	hello := make(chan net.Conn, 1)
	p.mu.Lock()
	p.hellos[token] = hello
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.hellos, token)
		p.mu.Unlock()
	}()
	proc, err := p.launch(token)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("could not start a worker process: %v", err)
	}
	fail := func(format string, args ...any) (Proc, net.Conn, *wire.Reader, error) {
		proc.Kill()
		s.reap(proc)
		return nil, nil, nil, fmt.Errorf(format, args...)
	}
	var conn net.Conn
	select {
	case conn = <-hello:
	case st := <-proc.Exited():
		s.exitMu.Lock()
		s.rememberExitLocked(proc, st)
		s.exitMu.Unlock()
		s.deferToKnownStatus(st)
		return nil, nil, nil, &factsError{died(CauseDiedStarting, proc, st)}
	case <-time.After(p.cfg.StartTimeout):
		return fail("a worker process did not connect within %s", p.cfg.StartTimeout)
	case <-p.brokenCh:
		return fail("the pool broke while a worker was starting")
	}
	if uc, ok := conn.(*net.UnixConn); ok {
		// The token was right; the process must be the one started for it.
		if pid, _, err := peerCred(uc); err != nil || pid != proc.Pid() {
			conn.Close()
			return fail("the process that connected with worker pid %d's token is pid %d (%v)", proc.Pid(), pid, err)
		}
	}
	if err := sendInit(conn, p.cfg.InitPayload, p.cfg.InitFds); err != nil {
		conn.Close()
		return fail("could not initialize a worker process: %v", err)
	}
	reader := wire.NewReader(conn, p.cfg.MaxPayload)
	if p.cfg.Alloc != nil {
		reader.SetAlloc(p.cfg.Alloc)
	}
	f, err := reader.Next()
	switch {
	case err != nil:
		conn.Close()
		st := s.exitStatus(proc)
		s.deferToKnownStatus(st)
		// The stdlib's words for a worker that died (an initializer's
		// os._exit included); the ones for an initializer that raised follow.
		return nil, nil, nil, &factsError{died(CauseDiedInitializing, proc, st)}
	case f.Kind == wire.KindInitFailed:
		conn.Close()
		proc.Kill()
		s.reap(proc)
		return nil, nil, nil, &factsError{BrokenFacts{Cause: CauseInitializerRaised, Pid: proc.Pid(), Detail: lastLine(string(f.Payload))}}
	case f.Kind != wire.KindReady:
		conn.Close()
		return fail("a worker process sent %s instead of READY", f.Kind)
	}
	return proc, conn, reader, nil
}

// sendInit sends INIT with this process's current stdout and stderr attached
// to its header (SCM_RIGHTS), then fds: the worker writes where the program
// writes now, even after a redirect made after the zygote was forked, and
// gets the descriptors its initializer's arguments need (pipes of a
// multiprocessing Queue, the shared memory of a Value).
func sendInit(conn net.Conn, payload []byte, fds []int) error {
	hdr := wire.AppendHeader(nil, wire.KindInit, 0, len(payload))
	if uc, ok := conn.(*net.UnixConn); ok {
		rights := syscall.UnixRights(append([]int{1, 2}, fds...)...)
		if _, _, err := uc.WriteMsgUnix(hdr, rights, nil); err != nil {
			return err
		}
	} else if _, err := conn.Write(hdr); err != nil {
		return err
	}
	_, err := conn.Write(payload)
	return err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
