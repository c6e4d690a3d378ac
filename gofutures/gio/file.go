package gio

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/gofutures/gofutures/gofutures/panics"
)

// ReadFile returns the contents of the file at path, as Python's
// open(path, "rb").read(), in pieces (Output; a regular file's size sizes
// the first). Cancelling ctx (Ctrl-C in a direct call) stops it where
// Python's EINTR stops the read: in an open() that waits for a FIFO's
// writer, or in a read that waits on a FIFO, pipe or terminal.
func ReadFile(ctx context.Context, path string) (Output, error) {
	return ReadFileInto(ctx, path, nil)
}

// ReadFileInto is ReadFile reading into buf first (Output.Into), when buf
// is not empty: a caller that knows the file's size passes one byte more,
// and gets it all in buf.
func ReadFileInto(ctx context.Context, path string, buf []byte) (Output, error) {
	if err := checkNUL(path); err != nil {
		return Output{}, err
	}
	var out Output
	defer ReleaseOnPanic(&out)
	err := withFileSlot(ctx, func() error {
		f, err := openFile(ctx, path, os.O_RDONLY, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		defer onCancel(ctx, func() { _ = f.SetReadDeadline(time.Now()) })()
		if len(buf) > 0 {
			out.Into(buf)
		} else if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			out.Expect(fi.Size())
		}
		_, err = out.ReadFrom(f)
		return err
	})
	if err != nil {
		out.Release()
		return Output{}, fileError(ctx, err)
	}
	return out, nil
}

// WriteFile replaces the contents of the file at path (creating it with mode
// 0666 less the umask), as Python's open(path, "wb").write(data).
// Cancelling ctx stops it as it stops ReadFile: in an open() that waits for
// a FIFO's reader, or in a write that waits for one to read.
func WriteFile(ctx context.Context, path string, data []byte) error {
	if err := checkNUL(path); err != nil {
		return err
	}
	err := withFileSlot(ctx, func() error {
		f, err := openFile(ctx, path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
		if err != nil {
			return err
		}
		stop := onCancel(ctx, func() { _ = f.SetWriteDeadline(time.Now()) })
		_, err = f.Write(data)
		stop()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
	return fileError(ctx, err)
}

// ErrNotRegular is what ReadFileInto and WriteFile return under a
// RegularOnly context, having done nothing, when the path does not name a
// regular file (a write may also create one), or names one they cannot
// stat: the caller does the operation the ordinary way, which reports
// errors as Python would.
var ErrNotRegular = errors.New("gio: not a regular file")

type regularOnlyKey struct{}

// RegularOnly is ctx for a file operation that waits on nothing but the
// disk: one on a regular file, as Python's reads and writes of one, which
// no signal interrupts. A caller that runs the operation where it cannot
// be interrupted (on the calling thread, inline) gives it one, and on
// ErrNotRegular runs it where Ctrl-C can stop it.
func RegularOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, regularOnlyKey{}, true)
}

func regularOnly(ctx context.Context) bool { return ctx.Value(regularOnlyKey{}) != nil }

// openRegular is openFile under RegularOnly. The path is opened with
// O_PATH first, which opens nothing (a FIFO's peer sees no open), and only
// a regular file that Go cannot poll (a disk file: not /proc/kmsg or a
// trace pipe, whose reads wait) is then opened for real, through
// /proc/self/fd: the same file even if another took the path's place
// meanwhile. A missing file is created only if it is still missing
// (O_EXCL). A lease holder's answer is not waited for (O_NONBLOCK): the
// ordinary way waits for it.
func openRegular(path string, flag int, perm fs.FileMode) (*os.File, error) {
	pfd, err := syscall.Open(path, oPath|syscall.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) && flag&os.O_CREATE != 0 {
			return openNew(path, flag, perm)
		}
		return nil, ErrNotRegular // the ordinary way reports it as open() does
	}
	defer syscall.Close(pfd)
	var st syscall.Stat_t
	if syscall.Fstat(pfd, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, ErrNotRegular
	}
	f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(pfd), flag&^os.O_CREATE|syscall.O_NONBLOCK, perm)
	if err != nil {
		// Permissions and the like are reported the ordinary way, with the
		// caller's path; EWOULDBLOCK: a lease to break.
		return nil, ErrNotRegular
	}
	return diskFile(f)
}

// oPath is Linux's O_PATH, which package syscall does not name.
const oPath = 0x200000

// openNew creates the regular file path under RegularOnly, unless
// something has taken the name since it was found missing.
func openNew(path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|os.O_EXCL|syscall.O_NONBLOCK, perm)
	if errors.Is(err, fs.ErrExist) {
		return nil, ErrNotRegular
	}
	if err != nil {
		return nil, err // a missing directory, a read-only one: as open() reports it
	}
	return diskFile(f)
}

// diskFile is f if Go cannot poll it (a disk file, whose reads and writes
// wait for nothing but the disk), else ErrNotRegular, f closed.
func diskFile(f *os.File) (*os.File, error) {
	if f.SetReadDeadline(time.Time{}) == nil { // pollable
		f.Close()
		return nil, ErrNotRegular
	}
	return f, nil
}

// openFile is os.OpenFile, except that for a FIFO, cancelling ctx while
// open() waits for the other end opens that end here without blocking, so
// the waiting open() returns (no signal interrupts it, as EINTR interrupts
// Python's), and openFile returns ctx's error. It keeps trying until the
// open() has returned: an attempt made before the open() waits, or after
// another end came and went, would leave it waiting.
func openFile(ctx context.Context, path string, flag int, perm fs.FileMode) (*os.File, error) {
	if regularOnly(ctx) {
		return openRegular(path, flag, perm)
	}
	if ctx.Done() == nil { // never cancelled
		return os.OpenFile(path, flag, perm)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		return os.OpenFile(path, flag, perm)
	}
	other := syscall.O_WRONLY // the end that lets a reader's open() return
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		other = syscall.O_RDONLY
	}
	opened := make(chan struct{})
	defer close(opened)
	panics.Go(func() {
		select {
		case <-opened:
			return
		case <-ctx.Done():
		}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if fd, err := syscall.Open(path, other|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0); err == nil {
				_ = syscall.Close(fd)
			}
			select {
			case <-opened:
				return
			case <-tick.C:
			}
		}
	}, nil) // nothing in it panics; a panic would only stop the unblocking
	f, err := os.OpenFile(path, flag, perm)
	if ctx.Err() != nil {
		if err == nil {
			f.Close() // opened against the end opened here, maybe
		}
		return nil, ctx.Err()
	}
	return f, err
}

// onCancel runs stop once if ctx is done before the returned function is
// called (which waits for it, if it is running). Files Go can poll (FIFOs,
// pipes, terminals) stop at a deadline; for others a deadline is refused
// harmlessly, and their reads and writes do not wait on anything.
func onCancel(ctx context.Context, stop func()) (done func()) {
	if ctx.Done() == nil { // never cancelled
		return func() {}
	}
	finished, exited := make(chan struct{}), make(chan struct{})
	panics.Go(func() {
		defer close(exited)
		select {
		case <-finished:
		case <-ctx.Done():
			stop()
		}
	}, nil)
	return func() {
		close(finished)
		<-exited
	}
}
