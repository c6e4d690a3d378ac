package cthread_test

import (
	"sync"
	"testing"

	"github.com/gofutures/gofutures/gofutures/cthread"
)

// BenchmarkStart is the cost of starting a function on a new C thread and
// waiting for it to finish.
func BenchmarkStart(b *testing.B) {
	for _, size := range []uint64{0, 512 << 20} {
		b.Run(map[uint64]string{0: "default stack", 512 << 20: "512 MiB stack"}[size], func(b *testing.B) {
			var wg sync.WaitGroup
			for b.Loop() {
				wg.Add(1)
				if err := cthread.Start(size, wg.Done); err != nil {
					b.Fatal(err)
				}
				wg.Wait()
			}
		})
	}
}

// BenchmarkGoroutine is the same with a goroutine, for comparison.
func BenchmarkGoroutine(b *testing.B) {
	var wg sync.WaitGroup
	for b.Loop() {
		wg.Add(1)
		go wg.Done()
		wg.Wait()
	}
}
