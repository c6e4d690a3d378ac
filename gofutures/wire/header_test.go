package wire_test

import (
	"math"
	"testing"

	"github.com/gofutures/gofutures/gofutures/wire"
	"github.com/stretchr/testify/assert"
)

func TestAppendHeaderParseHeaderRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		kind wire.Kind
		id   uint64
		n    int
	}{
		{wire.KindHello, 1, 5}, {wire.KindInit, 0, 1 << 20}, {wire.KindExit, math.MaxUint64, 0},
	} {
		h := wire.AppendHeader([]byte("x"), tc.kind, tc.id, tc.n)[1:]
		assert.Len(t, h, wire.HeaderSize)
		kind, id, size := wire.ParseHeader(h)
		assert.Equal(t, tc.kind, kind)
		assert.Equal(t, tc.id, id)
		assert.Equal(t, uint32(tc.n), size)
		// The header of a frame is the header AppendHeader writes.
		assert.Equal(t, h, wire.AppendFrame(nil, tc.kind, tc.id, make([]byte, tc.n))[:wire.HeaderSize])
	}
	assert.Panics(t, func() { wire.AppendHeader(nil, wire.Kind(9), 1, 0) })
}
