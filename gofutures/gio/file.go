package gio

import (
	"context"
	"errors"
	"io/fs"
	"os"
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
	if errors.Is(err, ErrNotRegular) {
		return Output{}, err
	}
	if err != nil {
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
	if errors.Is(err, ErrNotRegular) {
		return err
	}
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

// openRegular is openFile under RegularOnly: the path is stat'ed first
// (nothing but a regular file is opened, so no FIFO's peer sees an open),
// opened without blocking (in case a FIFO took its place meanwhile), and
// checked again once open.
func openRegular(path string, flag int, perm fs.FileMode) (*os.File, error) {
	fi, err := os.Stat(path)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return nil, ErrNotRegular
	case err != nil && !(errors.Is(err, fs.ErrNotExist) && flag&os.O_CREATE != 0):
		return nil, ErrNotRegular
	}
	f, err := os.OpenFile(path, flag|syscall.O_NONBLOCK, perm)
	if errors.Is(err, syscall.ENXIO) { // a FIFO with no reader took its place
		return nil, ErrNotRegular
	}
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
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
	if ctx.Value(regularOnlyKey{}) != nil {
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
