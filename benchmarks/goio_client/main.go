//go:build ignore

// The reference client of benchmarks/goio.py: the same GETs from a Go
// program, with net/http set up as gofutures.http sets it up (one shared
// Transport, the same idle-connection and HTTP/2 settings, a 60 s timeout),
// one goroutine per request and at most -inflight at once. It shows what
// the Go side costs on its own: gf.http's wall time and CPU beyond this
// are gofutures' (the Python boundary, the futures, the pump). It prints one
// JSON line in the shape of the Python clients' (no heartbeat: it has no
// Python thread to measure).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	url := flag.String("url", "", "the server's URL")
	n := flag.Int("n", 20000, "requests")
	inflight := flag.Int("inflight", 1000, "requests in flight at most")
	flag.Parse()
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	client := &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 16384,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}

	var peakThreads atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // samples the OS thread count, as the Python clients' heartbeat does
		defer close(sampled)
		for {
			peakThreads.Store(max(peakThreads.Load(), osThreads()))
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()

	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	var ok atomic.Int64
	var wg sync.WaitGroup
	slots := make(chan struct{}, *inflight)
	for range *n {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			if get(client, *url) == http.StatusOK {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start).Seconds()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	close(stop)
	<-sampled
	cpu := float64(ru1.Utime.Nano()-ru0.Utime.Nano()+ru1.Stime.Nano()-ru0.Stime.Nano()) / 1e9
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
		"wall": wall, "cpu_per_1000": cpu / float64(*n) * 1000, "ok": ok.Load(), "n": *n,
		"rss_mb": float64(ru1.Maxrss) / 1024, "threads": peakThreads.Load(), "p99_ms": nil,
	})
}

// get sends one GET and reads the whole body; the status, or 0 on an error.
func get(client *http.Client, url string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 0
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		return 0
	}
	return resp.StatusCode
}

func osThreads() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, found := strings.CutPrefix(line, "Threads:"); found {
			var t int64
			_, _ = fmt.Sscan(rest, &t)
			return t
		}
	}
	return 0
}
