package gio_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gofutures/gofutures/gofutures/gio"
)

func TestOutputMapsLargePiecesOnlyUntilReleased(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		mapped bool
	}{
		{"an output of 4 MiB on the heap", 4 << 20, false},
		{"what a larger one holds past 4 MiB mapped", 6<<20 + 7, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := gio.LiveMappings()
			data := bytes.Repeat([]byte{7}, tc.size)
			var o gio.Output
			_, err := o.ReadFrom(bytes.NewReader(data))
			require.NoError(t, err)
			assert.Equal(t, data, o.Bytes())
			assert.Equal(t, tc.mapped, len(o.Mapped()) > 0)
			assert.Equal(t, before+int64(len(o.Mapped())), gio.LiveMappings())
			o.Release()
			assert.Equal(t, before, gio.LiveMappings())
			assert.Zero(t, o.Len(), "a released Output is empty")
			o.Release() // a second release does nothing
			assert.Equal(t, before, gio.LiveMappings())
		})
	}
}

func TestAnOutputExpectedToBeLargeIsMappedFromItsFirstPiece(t *testing.T) {
	for _, tc := range []struct {
		name     string
		expect   int64
		firstMap bool
	}{
		{"expected below 4 MiB: the first piece on the heap", 4<<20 - 1, false},
		{"expected at 4 MiB: mapped from the start", 4 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := gio.LiveMappings()
			var o gio.Output
			o.Expect(tc.expect)
			data := bytes.Repeat([]byte{3}, 5<<20)
			_, err := o.ReadFrom(bytes.NewReader(data))
			require.NoError(t, err)
			assert.Equal(t, data, o.Bytes())
			first := o.Pieces()[0]
			assert.Equal(t, tc.firstMap, o.Mapped().Take(first) > 0)
			if tc.firstMap {
				gio.Unmap(unsafe.Pointer(unsafe.SliceData(first)), 1<<20)
			}
			o.Release()
			assert.Equal(t, before, gio.LiveMappings())
		})
	}
}

func TestTakeHandsOneMappingOverOnce(t *testing.T) {
	before := gio.LiveMappings()
	var o gio.Output
	_, err := o.ReadFrom(bytes.NewReader(make([]byte, 6<<20)))
	require.NoError(t, err)
	m, pieces := o.Mapped(), o.Pieces()
	assert.Zero(t, m.Take(pieces[0]), "the first piece is on the heap")
	big := pieces[len(pieces)-1]
	n := m.Take(big)
	assert.Equal(t, 1<<20, n, "a piece of 1 MiB, mapped by itself")
	assert.Zero(t, m.Take(big), "taken already")
	assert.Zero(t, m.Take(big[1:]), "not the start of a mapping")
	assert.Zero(t, m.Take(nil))
	assert.Equal(t, before+int64(len(m)-1), gio.LiveMappings(), "the taken one is not Go's any more")
	gio.Unmap(unsafe.Pointer(unsafe.SliceData(big)), n)
	m.Release() // the rest; not the taken one again
	assert.Equal(t, before, gio.LiveMappings())
}

func TestReleasePieceUnmapsOneMappedPieceOnce(t *testing.T) {
	before := gio.LiveMappings()
	var o gio.Output
	_, err := o.ReadFrom(bytes.NewReader(make([]byte, 6<<20)))
	require.NoError(t, err)
	m, pieces := o.Mapped(), o.Pieces()
	m.ReleasePiece(pieces[0]) // on the heap: left alone
	assert.Equal(t, before+int64(len(m)), gio.LiveMappings())
	big := pieces[len(pieces)-1]
	m.ReleasePiece(big)
	assert.Equal(t, before+int64(len(m)-1), gio.LiveMappings())
	m.ReleasePiece(big) // released already
	assert.Equal(t, before+int64(len(m)-1), gio.LiveMappings())
	m.Release() // the rest; not that one again
	assert.Equal(t, before, gio.LiveMappings())
}

func TestReadFileMapsALargeFileAndReleasesOnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big")
	data := bytes.Repeat([]byte("0123456789"), 600_000)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	before := gio.LiveMappings()
	out, err := gio.ReadFile(context.Background(), path)
	require.NoError(t, err)
	assert.Equal(t, data, out.Bytes())
	assert.NotEmpty(t, out.Mapped())
	out.Release()
	assert.Equal(t, before, gio.LiveMappings())

	_, err = gio.ReadFile(context.Background(), dir) // EISDIR at the first read
	require.Error(t, err)
	assert.Equal(t, before, gio.LiveMappings())
}
