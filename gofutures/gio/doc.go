// Package gio is the I/O that gofutures.io runs in Go: subprocesses, whole
// file reads and writes, and sleeps. It knows nothing of Python: each
// operation takes a context (cancelled by Ctrl-C in a direct call) and
// reports failures as *Error, which names the Python exception class it
// becomes and carries what that exception needs (errno, file name).
//
// The operations block the calling goroutine only: a sleep is a timer, a
// subprocess's output is read by goroutines parked in Go's netpoller
// (pipes), so thousands in flight cost goroutines, not OS threads. File
// reads and writes are blocking system calls: at most MaxFileOps run at
// once, so a burst of them cannot make Go start a thread each.
package gio

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strings"
	"syscall"
	"time"
)

// Class names the Python exception an Error becomes (gofutures/_gotask.py
// maps each one); the values are part of the boundary contract.
type Class string

const (
	ClassOS       Class = "os"       // OSError(errno, strerror[, filename]): its errno picks the subclass
	ClassTimeout  Class = "timeout"  // TimeoutError
	ClassValue    Class = "value"    // ValueError
	ClassGAI      Class = "gaierror" // socket.gaierror(errno, message)
	ClassSSL      Class = "ssl"      // ssl.SSLError
	ClassSSLCert  Class = "ssl_cert" // ssl.SSLCertVerificationError
	ClassExpired  Class = "expired"  // subprocess.TimeoutExpired (with the output so far)
	ClassRedirect Class = "redirect" // gofutures.http.TooManyRedirects
	ClassPanic    Class = "panic"    // gofutures.GoPanicError
	ClassRuntime  Class = "runtime"  // RuntimeError
	ClassCanceled Class = "canceled" // the call was interrupted (Ctrl-C): Python raises its own error
	ClassMemory   Class = "memory"   // MemoryError: set by C, which found no memory for a result's bytes
)

// Classes lists every Class, for the boundary table.
var Classes = []Class{ClassOS, ClassTimeout, ClassValue, ClassGAI, ClassSSL, ClassSSLCert,
	ClassExpired, ClassRedirect, ClassPanic, ClassRuntime, ClassCanceled, ClassMemory}

// Error is a failure of an operation, as the Python exception it becomes.
type Error struct {
	Class    Class  `json:"class"`
	Errno    int    `json:"errno,omitempty"`
	Msg      string `json:"msg"`
	Filename string `json:"filename,omitempty"`
}

func (e *Error) Error() string {
	if e.Errno != 0 {
		return fmt.Sprintf("[Errno %d] %s", e.Errno, e.Msg)
	}
	return e.Msg
}

// Errorf returns an Error of class c.
func Errorf(c Class, format string, args ...any) *Error {
	return &Error{Class: c, Msg: fmt.Sprintf(format, args...)}
}

// OSError returns the Error of a failed system call: errno and the C
// library's text for it, as Python's OSError(errno, os.strerror(errno)).
func OSError(errno syscall.Errno, filename string) *Error {
	return &Error{Class: ClassOS, Errno: int(errno), Msg: strerror(errno), Filename: filename}
}

// strerror is the text Python's os.strerror gives (glibc's), which differs
// from Go's in capitals only for most errors.
func strerror(errno syscall.Errno) string {
	s := errno.Error()
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

// FromError classifies an error of the os package (or of a cancelled
// context) as an *Error; nil stays nil.
func FromError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	return classify(ctx, err)
}

func classify(ctx context.Context, err error) *Error {
	var e *Error
	var pe *fs.PathError
	var errno syscall.Errno
	switch {
	case errors.As(err, &e):
		return e
	case ctx != nil && ctx.Err() != nil:
		return Errorf(ClassCanceled, "%v", ctx.Err())
	case errors.As(err, &pe) && errors.As(pe.Err, &errno):
		return OSError(errno, pe.Path)
	case errors.As(err, &errno):
		return OSError(errno, "")
	}
	return Errorf(ClassRuntime, "%v", err)
}

// fileError is FromError for ReadFile and WriteFile. As in Python, the
// error names the file only when opening it failed (or it is a directory,
// which Python's open() detects): a failed read, write or close does not
// (a write to a full disk raises OSError(28, 'No space left on device')).
// ErrNotRegular (RegularOnly) is left as it is: the caller acts on it.
func fileError(ctx context.Context, err error) error {
	if errors.Is(err, ErrNotRegular) {
		return err
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Op != "open" && !errors.Is(pe.Err, syscall.EISDIR) {
		err = pe.Err
	}
	return FromError(ctx, err)
}

// checkNUL returns the error Python raises for a path or argument holding a
// NUL byte, which no system call can take (Go's would fail with EINVAL):
// ValueError("embedded null byte"); nil if none does.
func checkNUL(ss ...string) *Error {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return Errorf(ClassValue, "embedded null byte")
		}
	}
	return nil
}

// MaxFileOps bounds the file reads and writes in flight (blocking system
// calls: each holds an OS thread while it runs).
const MaxFileOps = 16

var fileOps = make(chan struct{}, MaxFileOps)

func withFileSlot(ctx context.Context, f func() error) error {
	if regularOnly(ctx) {
		return f() // on the caller's own thread (inline): it holds no other
	}
	select {
	case fileOps <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-fileOps }()
	return f()
}

// Seconds converts a timeout in seconds to a Duration, rounded up to the
// nanosecond as CPython rounds timeouts. ok is false for NaN and for a
// value past Duration's range (±292 years), which Python refuses first.
func Seconds(s float64) (d time.Duration, ok bool) {
	ns := math.Ceil(s * 1e9)
	if !(ns >= math.MinInt64 && ns < math.MaxInt64) { // MaxInt64 is 2^63 as a float64
		return 0, false
	}
	return time.Duration(ns), true
}

// Sleep waits d, or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return FromError(ctx, ctx.Err())
	}
}
