package procpool_test

import (
	"bytes"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gofutures/gofutures/gofutures/wire"
)

// fakeWorker is the test binary acting as a worker process (see TestMain):
// it speaks the protocol and obeys commands carried in task payloads.
func fakeWorker() {
	conn, err := net.Dial("unix", os.Getenv("GOFUTURES_SOCKET")) // "@name": abstract
	if err != nil {
		os.Exit(10)
	}
	token, _ := strconv.ParseUint(os.Getenv("GOFUTURES_TOKEN"), 10, 64)
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
