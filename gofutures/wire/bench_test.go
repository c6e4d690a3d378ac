package wire_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/gofutures/gofutures/gofutures/wire"
)

var benchSizes = []int{64, 1 << 20}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dB", n)
}

func BenchmarkWriteFrame(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			payload := pattern(n)
			b.SetBytes(int64(wire.HeaderSize + n))
			b.ReportAllocs()
			for b.Loop() {
				if err := wire.WriteFrame(io.Discard, wire.KindTask, 1, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			payload := pattern(n)
			buf := make([]byte, 0, wire.HeaderSize+n)
			b.SetBytes(int64(wire.HeaderSize + n))
			b.ReportAllocs()
			for b.Loop() {
				buf = wire.AppendFrame(buf[:0], wire.KindTask, 1, payload)
			}
		})
	}
}

// loopReader serves the same bytes forever.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

func BenchmarkReaderNext(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			frame := wire.AppendFrame(nil, wire.KindResult, 1, pattern(n))
			r := wire.NewReader(&loopReader{data: frame}, 0)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Next(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
