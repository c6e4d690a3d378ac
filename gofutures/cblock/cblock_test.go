package cblock_test

import (
	"testing"

	"github.com/gofutures/gofutures/gofutures/cblock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGetPutReusesBlocksOfAClass(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
	}{{"min", cblock.MinSize}, {"odd", cblock.MinSize + 1}, {"1MiB", 1 << 20}, {"small", 10}} {
		t.Run(tc.name, func(t *testing.T) {
			b := cblock.Get(tc.n)
			require.Len(t, b, tc.n)
			assert.Equal(t, tc.n, cap(b), "no room to grow past the request")
			b[0], b[tc.n-1] = 1, 2 // writable end to end
			assert.True(t, cblock.Owns(b))
			assert.True(t, cblock.Put(b))
			assert.False(t, cblock.Owns(b))
			again := cblock.Get(tc.n)
			assert.Equal(t, &b[0], &again[0], "the freed block is reused")
			assert.True(t, cblock.Put(again))
		})
	}
}

func TestPutIgnoresOtherSlices(t *testing.T) {
	assert.False(t, cblock.Put(make([]byte, 1<<20)))
	assert.False(t, cblock.Put(nil))
	b := cblock.Get(1 << 17)
	assert.False(t, cblock.Put(b[1:]), "not the start of a block")
	assert.True(t, cblock.Put(b))
	assert.False(t, cblock.Put(b), "a second Put finds nothing")
}

func TestCacheIsBounded(t *testing.T) {
	var blocks [][]byte
	for i := 0; i < 2*cblock.MaxCached/(8<<20); i++ {
		blocks = append(blocks, cblock.Get(8<<20))
	}
	for _, b := range blocks {
		cblock.Put(b)
	}
	inUse, cached := cblock.Stats()
	assert.Zero(t, inUse)
	assert.LessOrEqual(t, cached, cblock.MaxCached)
}

func TestTrimFreesTheCache(t *testing.T) {
	b := cblock.Get(1 << 20)
	kept := cblock.Get(1 << 16)
	cblock.Put(b)
	cblock.Trim()
	inUse, cached := cblock.Stats()
	assert.Equal(t, 1, inUse, "a block handed out stays")
	assert.Zero(t, cached)
	kept[0] = 1 // still usable
	assert.True(t, cblock.Put(kept))
	cblock.Trim()
}

func TestAbandonForgetsTheBlock(t *testing.T) {
	b := cblock.Get(1 << 16)
	cblock.Abandon(b)
	assert.False(t, cblock.Owns(b))
	assert.False(t, cblock.Put(b))
}

func TestRejectsImpossibleSizes(t *testing.T) {
	assert.Nil(t, cblock.Get(0))
	assert.Nil(t, cblock.Get(-1))
}

func BenchmarkGetPut1MiB(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		cblock.Put(cblock.Get(1 << 20))
	}
}
