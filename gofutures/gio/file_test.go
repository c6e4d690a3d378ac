package gio_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
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

// Under RegularOnly, a read or a write does a regular file's work (a write
// may create one), and returns ErrNotRegular having done nothing for
// anything else: what cannot be stat'ed, a directory, a device, or a FIFO,
// whose other end must not see an open (a writer waiting in open() stays
// waiting).
func TestRegularOnlyTouchesNothingButRegularFiles(t *testing.T) {
	dir := t.TempDir()
	file, fifo := filepath.Join(dir, "f"), filepath.Join(dir, "fifo")
	require.NoError(t, os.WriteFile(file, []byte("old"), 0o600))
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	ctx := gio.RegularOnly(context.Background())

	require.NoError(t, gio.WriteFile(ctx, file, []byte("new")))
	out, err := gio.ReadFile(ctx, file)
	require.NoError(t, err)
	assert.Equal(t, "new", string(out.Bytes()))
	require.NoError(t, gio.WriteFile(ctx, filepath.Join(dir, "created"), []byte("x")), "a write creates a missing file")

	for _, path := range []string{fifo, dir, "/dev/null", filepath.Join(dir, "missing")} {
		_, err := gio.ReadFile(ctx, path)
		assert.ErrorIs(t, err, gio.ErrNotRegular, path)
	}
	for _, path := range []string{fifo, dir, "/dev/null"} {
		assert.ErrorIs(t, gio.WriteFile(ctx, path, []byte("x")), gio.ErrNotRegular, path)
	}
	err = gio.WriteFile(ctx, filepath.Join(dir, "no", "such"), []byte("x")) // its open fails as open() does
	require.Error(t, err)
	assert.NotErrorIs(t, err, gio.ErrNotRegular)

	writer := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0) // waits for a reader
		if err == nil {
			f.Close()
		}
		writer <- err
	}()
	time.Sleep(50 * time.Millisecond)
	_, err = gio.ReadFile(ctx, fifo)
	assert.ErrorIs(t, err, gio.ErrNotRegular)
	select {
	case <-writer:
		t.Fatal("the FIFO's writer saw an open")
	case <-time.After(100 * time.Millisecond):
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY, 0) // let it go
	require.NoError(t, err)
	require.NoError(t, <-writer)
	r.Close()
}

// Under RegularOnly a read waits for nothing else: not for a file slot
// (every one held by reads of FIFOs with no writer), nor on a regular file
// Go can poll (/proc/self/mounts: a read there may wait for a change),
// which it leaves to the ordinary way, where cancelling stops it.
func TestRegularOnlyWaitsForNothing(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, []byte("data"), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	var held sync.WaitGroup
	for i := range gio.MaxFileOps {
		fifo := filepath.Join(dir, fmt.Sprintf("fifo%d", i))
		require.NoError(t, syscall.Mkfifo(fifo, 0o600))
		held.Add(1)
		go func() {
			defer held.Done()
			_, _ = gio.ReadFile(ctx, fifo) // holds a slot until cancelled
		}()
	}
	defer func() { cancel(); held.Wait() }()
	time.Sleep(100 * time.Millisecond)

	read := make(chan error, 1)
	go func() {
		out, err := gio.ReadFile(gio.RegularOnly(context.Background()), file)
		if err == nil && string(out.Bytes()) != "data" {
			err = fmt.Errorf("read %q", out.Bytes())
		}
		read <- err
	}()
	select {
	case err := <-read:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("a RegularOnly read waited for a file slot")
	}

	_, err := gio.ReadFile(gio.RegularOnly(context.Background()), "/proc/self/mounts")
	assert.ErrorIs(t, err, gio.ErrNotRegular)
}
