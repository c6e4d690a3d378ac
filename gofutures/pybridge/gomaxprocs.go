package pybridge

import (
	"os"
	"runtime"
)

// minProcs is the smallest GOMAXPROCS the bridge runs with. Each pool worker
// is a goroutine locked to its own OS thread; waking one means handing it a
// P, and with as few Ps as cores (Go's default: 2 here) the hand-offs queue
// up behind each other: 2,000 sleeping tasks on 500 workers took 0.27-0.46 s
// with 2 Ps and 0.14-0.17 s with 8 (benchmarks/, thread.sleep). 4 measured
// the same as 8 on a cold pool (0.24 s) and within 10% warm (0.13 vs 0.12
// s), and each P can hold an OS thread of its own: 4 keeps the process's
// threads near 2 x cores + 16 even while Go tasks run (gofutures.http).
const minProcs = 4

func init() {
	if os.Getenv("GOMAXPROCS") != "" {
		return // the user's choice wins
	}
	if runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(max(minProcs, runtime.NumCPU()))
	}
}
