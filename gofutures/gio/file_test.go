package gio_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gofutures/gofutures/gofutures/gio"
)

// A file operation on a FIFO stops when its context is cancelled (Ctrl-C
// in a direct call), wherever it waits: in open() for the other end, or in
// a read or write the other end does not serve.
func TestFileOpsOnAFIFOStopWhenCancelled(t *testing.T) {
	for _, tc := range []struct {
		name string
		peer func(t *testing.T, fifo string) (release func()) // holds the other end as the case needs
		op   func(ctx context.Context, fifo string) error
	}{
		{name: "read, no writer", op: readOp},
		{name: "write, no reader", op: writeOp(10)},
		{name: "read, a writer that writes nothing", peer: holdOpen(os.O_WRONLY), op: readOp},
		{name: "write past the pipe's buffer, a reader that reads nothing", peer: holdOpen(os.O_RDONLY), op: writeOp(1 << 20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "fifo")
			require.NoError(t, syscall.Mkfifo(fifo, 0o600))
			if tc.peer != nil {
				defer tc.peer(t, fifo)()
			}
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			start := time.Now()
			err := tc.op(ctx, fifo)
			assert.Less(t, time.Since(start), 5*time.Second)
			ge := classOf(t, err)
			assert.Equal(t, gio.ClassCanceled, ge.Class)
		})
	}
}

func TestFileOpsOnAFIFOWithAPeerWork(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	written := make(chan error, 1)
	go func() { written <- gio.WriteFile(context.Background(), fifo, []byte("through the fifo")) }()
	data, err := gio.ReadFile(context.Background(), fifo)
	require.NoError(t, err)
	require.NoError(t, <-written)
	assert.Equal(t, "through the fifo", string(data.Bytes()))
}

func readOp(ctx context.Context, fifo string) error {
	_, err := gio.ReadFile(ctx, fifo)
	return err
}

func writeOp(size int) func(ctx context.Context, fifo string) error {
	return func(ctx context.Context, fifo string) error {
		return gio.WriteFile(ctx, fifo, make([]byte, size))
	}
}

// holdOpen opens the FIFO's other end (flag) once the operation opens its
// own, and keeps it open until released.
func holdOpen(flag int) func(t *testing.T, fifo string) func() {
	return func(t *testing.T, fifo string) func() {
		opened := make(chan *os.File, 1)
		go func() {
			f, err := os.OpenFile(fifo, flag, 0)
			assert.NoError(t, err)
			opened <- f
		}()
		return func() {
			if f := <-opened; f != nil {
				f.Close()
			}
		}
	}
}

// ReadFileInto reads into the caller's buffer first: a file that fits
// comes back as one piece in it; one that does not, as the buffer full
// and pieces of its own for the rest; no buffer is ReadFile.
func TestReadFileIntoFillsTheBufferFirst(t *testing.T) {
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	path := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	for _, tc := range []struct {
		name      string
		buf       int
		inBuf     int // bytes of the first piece, which is buf's memory
		piecesMin int
	}{
		{name: "one byte more than the file", buf: len(data) + 1, inBuf: len(data), piecesMin: 1},
		{name: "much larger", buf: 3 * len(data), inBuf: len(data), piecesMin: 1},
		{name: "the file's size: its end needs a piece", buf: len(data), inBuf: len(data), piecesMin: 1},
		{name: "smaller: the rest in pieces", buf: 1000, inBuf: 1000, piecesMin: 2},
		{name: "no buffer", buf: 0, inBuf: -1, piecesMin: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, tc.buf)
			out, err := gio.ReadFileInto(context.Background(), path, buf)
			require.NoError(t, err)
			assert.Equal(t, data, out.Bytes())
			pieces := out.Pieces()
			assert.GreaterOrEqual(t, len(pieces), tc.piecesMin)
			if tc.inBuf >= 0 {
				require.Len(t, pieces[0], tc.inBuf)
				assert.Same(t, &buf[0], &pieces[0][0], "the first piece is the buffer")
			}
		})
	}
}
