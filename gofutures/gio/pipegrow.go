package gio

import (
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// A pipe the kernel makes holds 64 KiB. A child that writes more at once
// (cat and most file tools write 128 KiB) then waits for the reader to
// empty the pipe twice per write: reading 200 MB of `cat` output took
// 220-275 ms that way, 160-175 ms through a pipe of 256 KiB (subprocess.run:
// 250 ms). So a child's stdout pipe is enlarged to grownPipeSize once it
// has carried growPipeAfter bytes: a command with a small output (most of
// them) never pays for it. The kernel counts a pipe's pages against its
// user (/proc/sys/fs/pipe-user-pages-soft, 64 MiB by default; past it an
// unprivileged user's new pipes get 8 KiB), so at most maxGrownPipes are
// enlarged at once: 8 MiB of that budget.
const (
	growPipeAfter = 1 << 20
	grownPipeSize = 256 << 10
	maxGrownPipes = 32
)

// grownPipes counts the pipes enlarged and not yet closed.
var grownPipes atomic.Int32

// growingPipe reads a child's output pipe, enlarging it once it carried
// growPipeAfter bytes (see above). It gives its place back at the pipe's
// end or error (before the reader is done: Run returns after), or on Done.
type growingPipe struct {
	f     *os.File
	n     int
	tried bool // enlarging was tried (or is not worth trying any more)
	grown bool // this pipe counts in grownPipes
}

func (p *growingPipe) Read(b []byte) (int, error) {
	n, err := p.f.Read(b)
	p.n += n
	if !p.tried && p.n >= growPipeAfter {
		p.tried = true
		p.grow()
	}
	if err != nil {
		p.Done()
	}
	return n, err
}

// grow enlarges the pipe if fewer than maxGrownPipes are, and it is
// smaller. A refusal (an unprivileged user past the kernel's limits) leaves
// it as it is.
func (p *growingPipe) grow() {
	if grownPipes.Add(1) > maxGrownPipes {
		grownPipes.Add(-1)
		return
	}
	var err error
	rc, cerr := p.f.SyscallConn() // not Fd(): that makes the pipe blocking
	if cerr == nil {
		cerr = rc.Control(func(fd uintptr) {
			// Never smaller: pipes hold 16 pages, 1 MiB with pages of 64 KiB.
			var size int
			if size, err = unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0); err == nil && size >= grownPipeSize {
				err = unix.EEXIST
			} else if err == nil {
				_, err = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, grownPipeSize)
			}
		})
	}
	if err != nil || cerr != nil {
		grownPipes.Add(-1)
		return
	}
	p.grown = true
}

// Done gives back the pipe's place among the enlarged ones, once.
func (p *growingPipe) Done() {
	if p.grown {
		p.grown = false
		grownPipes.Add(-1)
	}
}
