package pybridge

import (
	"os"
	"runtime"
)

// minProcs is the smallest GOMAXPROCS the bridge runs with. Each pool worker
// is a goroutine locked to its own OS thread; waking one means handing it a
// P, and with as few Ps as cores (Go's default: 2 here) the hand-offs queue
// up behind each other: 2,000 sleeping tasks on 500 workers took 0.27-0.46 s
// with 2 Ps and 0.14-0.17 s with 8 (benchmarks/, thread.sleep). The Go work
// itself is small, so extra Ps cost little.
const minProcs = 8

func init() {
	if os.Getenv("GOMAXPROCS") != "" {
		return // the user's choice wins
	}
	if runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(max(minProcs, runtime.NumCPU()))
	}
}
