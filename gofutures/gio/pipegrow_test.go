package gio_test

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/gofutures/gofutures/gofutures/gio"
)

// pipeSize is the capacity of the pipe f is an end of.
func pipeSize(t *testing.T, f *os.File) int {
	rc, err := f.SyscallConn()
	require.NoError(t, err)
	var size int
	require.NoError(t, rc.Control(func(fd uintptr) { size, err = unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0) }))
	require.NoError(t, err)
	return size
}

// carried reads n bytes written into a fresh pipe through a GrowingPipe,
// and returns it with the pipe's read end (the writer stays open).
func carried(t *testing.T, n int) (*gio.GrowingPipe, *os.File) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { r.Close(); w.Close() })
	go func() { _, _ = w.Write(make([]byte, n)) }()
	p := gio.NewGrowingPipe(r)
	_, err = io.ReadFull(p, make([]byte, n))
	require.NoError(t, err)
	return p, r
}

// defaultPipeSize is the capacity of a new pipe (64 KiB with 4 KiB pages).
func defaultPipeSize(t *testing.T) int {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer w.Close()
	defer r.Close()
	return pipeSize(t, r)
}

func TestAChildsOutputPipeGrowsOnceItCarriedAMegabyte(t *testing.T) {
	defaultSize := defaultPipeSize(t)
	if defaultSize >= gio.GrownPipeSize {
		t.Skipf("pipes hold %d bytes here: never grown", defaultSize)
	}
	for _, tc := range []struct {
		name    string
		carried int
		want    int
	}{
		{"nothing", 0, defaultSize},
		{"a small output", 100 << 10, defaultSize},
		{"just under", gio.GrowPipeAfter - 1, defaultSize},
		{"a megabyte", gio.GrowPipeAfter, gio.GrownPipeSize},
		{"more", 5 << 20, gio.GrownPipeSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := gio.GrownPipes()
			p, r := carried(t, tc.carried)
			assert.Equal(t, tc.want, pipeSize(t, r))
			p.Done()
			p.Done() // a second Done gives back nothing more
			assert.Equal(t, before, gio.GrownPipes())
		})
	}
}

func TestAtMostMaxGrownPipesAreEnlargedAtOnce(t *testing.T) {
	defaultSize := defaultPipeSize(t)
	if defaultSize >= gio.GrownPipeSize {
		t.Skipf("pipes hold %d bytes here: never grown", defaultSize)
	}
	var grown []*gio.GrowingPipe
	for i := 0; i < gio.MaxGrownPipes; i++ {
		p, r := carried(t, gio.GrowPipeAfter)
		require.Equal(t, gio.GrownPipeSize, pipeSize(t, r), i)
		grown = append(grown, p)
	}
	p, r := carried(t, gio.GrowPipeAfter)
	assert.Equal(t, defaultSize, pipeSize(t, r), "past the cap: left as the kernel made it")
	p.Done()
	assert.Equal(t, gio.MaxGrownPipes, gio.GrownPipes())
	for _, p := range grown {
		p.Done()
	}
	assert.Zero(t, gio.GrownPipes())
	p, r = carried(t, gio.GrowPipeAfter)
	assert.Equal(t, gio.GrownPipeSize, pipeSize(t, r), "the places came back")
	p.Done()
}

// A run whose output carried a megabyte gives its place back when it ends.
func TestARunGivesItsGrownPipeBack(t *testing.T) {
	before := gio.GrownPipes()
	r, err := gio.Run(context.Background(), gio.RunSpec{Argv: [][]byte{[]byte("head"), []byte("-c"), []byte("3000000"), []byte("/dev/zero")}}, nil)
	require.NoError(t, err)
	assert.Equal(t, 3_000_000, r.Stdout.Len())
	r.Stdout.Release()
	assert.Equal(t, before, gio.GrownPipes())
}

// A pipe that is already large (pages of 64 KiB make pipes of 1 MiB) is
// neither shrunk nor counted among the enlarged ones.
func TestALargePipeIsLeftAloneAndNotCounted(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	rc, err := r.SyscallConn()
	require.NoError(t, err)
	require.NoError(t, rc.Control(func(fd uintptr) { _, err = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20) }))
	require.NoError(t, err)
	go func() { _, _ = w.Write(make([]byte, gio.GrowPipeAfter)) }()
	before := gio.GrownPipes()
	p := gio.NewGrowingPipe(r)
	_, err = io.ReadFull(p, make([]byte, gio.GrowPipeAfter))
	require.NoError(t, err)
	assert.Equal(t, 1<<20, pipeSize(t, r))
	assert.Equal(t, before, gio.GrownPipes())
	p.Done()
	assert.Equal(t, before, gio.GrownPipes())
}
