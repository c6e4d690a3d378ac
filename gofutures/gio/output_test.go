package gio_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gofutures/gofutures/gofutures/gio"
)

func TestOutputKeepsEveryByteInPiecesThatNeverGrow(t *testing.T) {
	data := make([]byte, 3<<20+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name string
		size int
		wrap func(io.Reader) io.Reader
	}{
		{name: "empty", size: 0},
		{name: "one byte", size: 1},
		{name: "the first piece exactly", size: 4 << 10},
		{name: "one past the first piece", size: 4<<10 + 1},
		{name: "one byte at a time", size: 10_000, wrap: iotest.OneByteReader},
		{name: "data with its EOF", size: 5000, wrap: iotest.DataErrReader},
		{name: "half reads", size: 100_000, wrap: iotest.HalfReader},
		{name: "megabytes", size: len(data)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(data[:tc.size])
			if tc.wrap != nil {
				r = tc.wrap(r)
			}
			var out gio.Output
			n, err := out.ReadFrom(r)
			require.NoError(t, err)
			assert.EqualValues(t, tc.size, n)
			assert.Equal(t, tc.size, out.Len())
			assert.True(t, bytes.Equal(data[:tc.size], out.Bytes()), "the bytes read")
			pieces := out.Pieces()
			if tc.size == 0 {
				assert.Nil(t, pieces)
				assert.Nil(t, out.Bytes())
			}
			for i, p := range pieces {
				assert.NotEmpty(t, p, "piece %d", i)
				assert.LessOrEqual(t, cap(p), 1<<20, "piece %d", i)
				if i < len(pieces)-1 {
					assert.Equal(t, cap(p), len(p), "piece %d is full", i)
				}
			}
		})
	}
}

func TestOutputKeepsWhatWasReadBeforeAnError(t *testing.T) {
	broken := errors.New("broken pipe")
	var out gio.Output
	n, err := out.ReadFrom(io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(broken)))
	assert.ErrorIs(t, err, broken)
	assert.EqualValues(t, 7, n)
	assert.Equal(t, "partial", string(out.Bytes()))
}

func TestOutputBytesIsTheOnePieceItself(t *testing.T) {
	b := []byte("abc")
	out := gio.OutputOf(b)
	assert.Same(t, &b[0], &out.Bytes()[0])
	assert.Equal(t, [][]byte{b}, out.Pieces())
	empty := gio.OutputOf(nil)
	assert.Zero(t, empty.Len())
	assert.Nil(t, empty.Pieces())
}

func TestOutputExpectSizesTheFirstPiece(t *testing.T) {
	for _, tc := range []struct {
		name       string
		expect     int64
		size       int
		wantPieces int
	}{
		{name: "the size announced", expect: 100_000, size: 100_000, wantPieces: 1},
		{name: "nothing announced", expect: 0, size: 0, wantPieces: 0},
		{name: "less than announced", expect: 100_000, size: 10, wantPieces: 1},
		{name: "more than announced", expect: 10, size: 100_000, wantPieces: 6},
		{name: "unknown (-1)", expect: -1, size: 100_000, wantPieces: 5},
		{name: "a claim past 1 MiB is not trusted", expect: 1 << 40, size: 10, wantPieces: 1},
		{name: "the largest claim", expect: math.MaxInt64, size: 10, wantPieces: 1},
		{name: "more than 1 MiB", expect: 3 << 20, size: 3 << 20, wantPieces: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out gio.Output
			out.Expect(tc.expect)
			_, err := out.ReadFrom(bytes.NewReader(make([]byte, tc.size)))
			require.NoError(t, err)
			assert.Equal(t, tc.size, out.Len())
			assert.Equal(t, tc.wantPieces, len(out.Pieces()))
			if tc.size > 0 {
				assert.LessOrEqual(t, cap(out.Pieces()[0]), 1<<20)
			}
		})
	}
}

func TestOutputReaderReadsThePiecesBack(t *testing.T) {
	var out gio.Output
	data := bytes.Repeat([]byte("0123456789"), 100_000)
	_, err := out.ReadFrom(bytes.NewReader(data))
	require.NoError(t, err)
	back, err := io.ReadAll(out.Reader())
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, back))
}

// A large output stays in pieces of at most 1 MiB: nothing is copied to
// grow it.
func ExampleOutput() {
	var out gio.Output
	_, _ = out.ReadFrom(bytes.NewReader(make([]byte, 5<<20)))
	fmt.Println(out.Len(), len(out.Pieces()), cap(out.Pieces()[len(out.Pieces())-1]))
	// Output: 5242880 13 1048576
}

// A function that panics while it holds an output releases it on the way
// out (ReleaseOnPanic), and the panic goes on; one that returns keeps it.
func TestReleaseOnPanicReleasesOnlyWhenPanicking(t *testing.T) {
	read := func(panicking bool) (out gio.Output) {
		defer gio.ReleaseOnPanic(&out)
		out.Expect(6 << 20) // mapped from its first byte
		_, err := out.ReadFrom(bytes.NewReader(make([]byte, 6<<20)))
		require.NoError(t, err)
		if panicking {
			panic("boom")
		}
		return out
	}
	before := gio.LiveMappings()
	assert.PanicsWithValue(t, "boom", func() { read(true) })
	assert.Equal(t, before, gio.LiveMappings())

	out := read(false)
	assert.Equal(t, 6<<20, out.Len())
	assert.Greater(t, gio.LiveMappings(), before)
	out.Release()
	assert.Equal(t, before, gio.LiveMappings())
}
