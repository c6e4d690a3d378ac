package procpool_test

import (
	"os"
	"testing"

	"github.com/gofutures/gofutures/gofutures/procpool"
)

func benchPool(b *testing.B, workers int) *procpool.Pool {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	p, err := procpool.New(procpool.Config{
		Workers:  workers,
		Launcher: &procpool.ExecLauncher{Argv: []string{exe}, Env: append(os.Environ(), "GOFUTURES_FAKE_WORKER=1")},
	})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func drainAll(p *procpool.Pool, n int) {
	var buf []procpool.Event
	for got := 0; got < n; {
		evs, ok := p.NextEvents(buf)
		if !ok {
			return
		}
		got += len(evs)
		buf = evs
	}
}

func closePool(p *procpool.Pool) {
	p.Close()
	go drainAll(p, 1<<62)
	p.Wait(-1)
}

// BenchmarkStartup is a pool's cost from New to the first result (one
// worker, executed fresh: the Go test binary acting as a worker).
func BenchmarkStartup(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p := benchPool(b, 1)
		_ = p.Submit(1, []byte("echo:x"))
		drainAll(p, 1)
		closePool(p)
	}
}

// BenchmarkRoundTrip is the dispatcher's per-task cost: submit, frame,
// socket round trip to a worker that echoes, event delivery.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{16, 64 << 10} {
		b.Run(map[int]string{16: "16B", 64 << 10: "64KiB"}[size], func(b *testing.B) {
			p := benchPool(b, 2)
			defer closePool(p)
			payload := append([]byte("echo:"), make([]byte, size)...)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_ = p.Submit(uint64(i+1), payload)
			}
			drainAll(p, b.N)
		})
	}
}
