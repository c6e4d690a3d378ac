package pool_test

import (
	"testing"

	"github.com/gofutures/gofutures/gofutures/pool"
)

type nopWorker struct{}

func (nopWorker) Start() error { return nil }
func (nopWorker) Run(id int64, next func() (int64, bool)) error {
	for ok := true; ok; _, ok = next() {
	}
	return nil
}
func (nopWorker) Fail(int64, error) {}
func (nopWorker) Stop(bool)         {}

func benchmarkSubmit(b *testing.B, workers int) {
	b.ReportAllocs()
	p := pool.New(workers, func(int) pool.Worker { return nopWorker{} })
	for i := 0; i < b.N; i++ {
		_ = p.Submit(int64(i))
	}
	p.Shutdown(false)
	p.Wait(-1)
}

// BenchmarkSubmit is the pool's own cost per task: submit, dispatch, run a no-op.
func BenchmarkSubmit1(b *testing.B) { benchmarkSubmit(b, 1) }
func BenchmarkSubmit4(b *testing.B) { benchmarkSubmit(b, 4) }

// BenchmarkStartup is the cost of a pool that starts one worker and runs one task.
func BenchmarkStartup(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p := pool.New(1, func(int) pool.Worker { return nopWorker{} })
		_ = p.Submit(1)
		p.Shutdown(false)
		p.Wait(-1)
	}
}
