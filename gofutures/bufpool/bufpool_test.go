package bufpool_test

import (
	"testing"

	"github.com/gofutures/gofutures/gofutures/bufpool"
	"github.com/stretchr/testify/assert"
)

func TestGetLengthsAndCapacities(t *testing.T) {
	for _, tc := range []struct{ n, wantCap int }{
		{0, 0}, {100, 100}, {64<<10 - 1, 64<<10 - 1}, {64 << 10, 64 << 10},
		{64<<10 + 1, 128 << 10}, {1 << 20, 1 << 20}, {1<<20 + 5, 2 << 20},
	} {
		b := bufpool.Get(tc.n)
		assert.Len(t, b, tc.n)
		assert.Equal(t, tc.wantCap, cap(b), "n=%d", tc.n)
		bufpool.Put(b)
	}
}

func TestPutThenGetReusesAndIgnoresForeignBuffers(t *testing.T) {
	b := bufpool.Get(1 << 20)
	b[0] = 42
	bufpool.Put(b)
	bufpool.Put(make([]byte, 3<<20)) // not a power of two: ignored
	c := bufpool.Get(1<<20 - 10)
	assert.Len(t, c, 1<<20-10)
	assert.Equal(t, 1<<20, cap(c))
}

func BenchmarkGetPut1MiB(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf := bufpool.Get(1 << 20)
		buf[0] = 1
		bufpool.Put(buf)
	}
}
