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
		assert.Equal(t, uint64(tc.n), size)
		// The header of a frame is the header AppendHeader writes.
		assert.Equal(t, h, wire.AppendFrame(nil, tc.kind, tc.id, make([]byte, tc.n))[:wire.HeaderSize])
	}
	assert.Panics(t, func() { wire.AppendHeader(nil, wire.Kind(9), 1, 0) })
}

// The length field is a u64: a header for a payload past 4 GiB (no such
// payload is built) says so exactly, and the byte layout is the one
// documented in wire.go.
func TestHeaderDescribesPayloadsPast4GiB(t *testing.T) {
	n := 5<<30 + 3
	h := wire.AppendHeader(nil, wire.KindTask, 0x0102030405060708, n)
	assert.Equal(t, []byte{
		3, 0, 0, 0x40, 1, 0, 0, 0, // u64 length 5 GiB + 3
		byte(wire.KindTask),
		8, 7, 6, 5, 4, 3, 2, 1, // u64 id
	}, h)
	kind, id, size := wire.ParseHeader(h)
	assert.Equal(t, wire.KindTask, kind)
	assert.Equal(t, uint64(0x0102030405060708), id)
	assert.Equal(t, uint64(n), size)
}
