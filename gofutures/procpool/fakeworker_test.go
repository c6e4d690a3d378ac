package procpool_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gofutures/gofutures/gofutures/wire"
)

// fakeWorker is the test binary acting as a worker process (see TestMain):
// it speaks the protocol and obeys commands carried in task payloads.
func fakeWorker() {
	token, _ := strconv.ParseUint(os.Getenv("GOFUTURES_TOKEN"), 10, 64)
	serveFake(os.Getenv("GOFUTURES_SOCKET"), token)
}

func serveFake(socket string, token uint64) {
	conn, err := net.Dial("unix", socket) // "@name": abstract
	if err != nil {
		os.Exit(10)
	}
	pid := []byte(strconv.Itoa(os.Getpid()))
	_ = wire.WriteFrame(conn, wire.KindHello, token, pid)
	r := wire.NewReader(conn, 0)
	init, err := r.Next()
	if err != nil || init.Kind != wire.KindInit {
		os.Exit(11)
	}
	switch string(init.Payload) {
	case "fail-init":
		_ = wire.WriteFrame(conn, wire.KindInitFailed, 0, []byte("Traceback\nValueError: bad init"))
		os.Exit(0)
	case "die-init":
		os.Exit(7)
	}
	_ = wire.WriteFrame(conn, wire.KindReady, 0, nil)
	for {
		f, err := r.Next()
		if err != nil || f.Kind == wire.KindExit {
			os.Exit(0)
		}
		cmd, arg, _ := strings.Cut(string(f.Payload), ":")
		switch cmd {
		case "echo":
			_ = wire.WriteFrame(conn, wire.KindResult, f.ID, []byte(arg))
		case "pid":
			_ = wire.WriteFrame(conn, wire.KindResult, f.ID, pid)
		case "error":
			_ = wire.WriteFrame(conn, wire.KindError, f.ID, []byte(arg))
		case "sleep":
			ms, _ := strconv.Atoi(arg)
			time.Sleep(time.Duration(ms) * time.Millisecond)
			_ = wire.WriteFrame(conn, wire.KindResult, f.ID, nil)
		case "big":
			n, _ := strconv.Atoi(arg)
			_ = wire.WriteFrame(conn, wire.KindResult, f.ID, bytes.Repeat([]byte{'x'}, n))
		case "exit":
			code, _ := strconv.Atoi(arg)
			os.Exit(code)
		case "kill":
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Hour)
		case "garbage":
			_, _ = conn.Write([]byte("this is not a frame at all, not at all"))
			time.Sleep(time.Hour)
		case "unknown-id":
			_ = wire.WriteFrame(conn, wire.KindResult, f.ID+1_000_000, nil)
		}
	}
}

// fakeZygote is the test binary acting as a zygote (see TestMain): it
// speaks the zygote's line protocol on fds 3 (commands) and 4 (replies),
// starts each worker as a fake worker (the test binary again) and reports
// its exit; asked to "become" a worker, it serves the pool itself, then
// exits as that worker does, its own workers dying with it (Pdeathsig) and
// their exits unreported, as with the Python zygote.
func fakeZygote() {
	commands := os.NewFile(3, "commands")
	replies := os.NewFile(4, "replies")
	var mu sync.Mutex
	reply := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(replies, format+"\n", args...)
	}
	exe, _ := os.Executable()
	sc := bufio.NewScanner(commands)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		token, _ := strconv.ParseUint(f[1], 10, 64)
		if f[0] == "become" {
			reply("forked %d %d", token, os.Getpid())
			serveFake(f[2], token)
			os.Exit(0)
		}
		runtime.LockOSThread() // Pdeathsig follows the thread that forked
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), "GOFUTURES_ZYGOTE_CHILD=1", "GOFUTURES_FAKE_ZYGOTE=0",
			"GOFUTURES_FAKE_WORKER=1", "GOFUTURES_SOCKET="+f[2], "GOFUTURES_TOKEN="+f[1])
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			reply("error %d %v", token, err)
			continue
		}
		reply("forked %d %d", token, cmd.Process.Pid)
		go func() {
			_ = cmd.Wait()
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			reply("exit %d %d", cmd.Process.Pid, int(ws))
		}()
	}
}
