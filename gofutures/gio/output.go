package gio

import (
	"bytes"
	"errors"
	"io"
)

// Output is what Go read for a Go task (one of a child's pipes, an HTTP
// body, a file), kept in the pieces it was read into. Nothing is copied to
// grow it: a bytes.Buffer doubles its array and copies, so 200 MB of a
// run's output held up to 3x that in Go, and a joined copy made 3.7x in
// all. The pieces cross to Python one by one, each copied straight into the
// bytes object the caller gets. Large pieces live outside Go's heap (see
// offheap.go), each unmapped once copied: about 1x the output at the peak,
// where subprocess.run's list of chunks and its join make 2x. The Output
// owns them until Release, or until a caller takes them over with Mapped.
//
// The zero Output is empty and ready to use. It is not safe for concurrent
// use.
type Output struct {
	pieces [][]byte // each full but the last (len < cap)
	n      int
	mapped Mapped // the memory of pieces outside Go's heap
	large  bool   // expected to reach offHeapAfter bytes: every piece mapped
}

// Piece sizes: the first is small (most commands print a few lines), each
// next one twice the last, up to maxPiece (larger pieces would save little:
// a read from a pipe returns at most its 64 KiB buffer). An expected size
// (Expect) makes the first piece that large, up to maxPiece: a size a peer
// claims (an HTTP Content-Length that lies) is trusted with no more.
const (
	firstPiece = 4 << 10
	maxPiece   = 1 << 20
)

// Expect sizes o's first piece for n bytes, a size known in advance (an
// HTTP body's Content-Length, a file's size), so that reading up to
// maxPiece of them allocates once: one byte more, to see the end without a
// second piece. An output expected to reach offHeapAfter bytes is mapped
// outside Go's heap from its first piece. It does nothing once o holds a
// piece, or for n < 0.
func (o *Output) Expect(n int64) {
	if len(o.pieces) == 0 && n >= 0 {
		o.large = n >= offHeapAfter
		o.pieces = append(o.pieces, o.newPiece(int(min(n, maxPiece-1)+1)))
	}
}

// Into makes buf the first piece of an empty o: reads fill it before o
// allocates any piece of its own. o's pieces then share buf's memory.
func (o *Output) Into(buf []byte) {
	if len(o.pieces) == 0 && len(buf) > 0 {
		o.pieces = append(o.pieces, buf[:0:len(buf)])
	}
}

// Reader reads o's bytes back, piece by piece.
func (o *Output) Reader() io.Reader {
	pieces := o.Pieces()
	readers := make([]io.Reader, len(pieces))
	for i, p := range pieces {
		readers[i] = bytes.NewReader(p)
	}
	return io.MultiReader(readers...)
}

// ReadFrom reads r to its end into o. Like bytes.Buffer's, it returns a nil
// error at the end of r, and the error that stopped it otherwise (what was
// read until then is kept).
func (o *Output) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		tail := o.room()
		n, err := r.Read(tail)
		if n < 0 || n > len(tail) {
			return total, errors.New("gio: a reader returned an invalid count")
		}
		last := len(o.pieces) - 1
		o.pieces[last] = o.pieces[last][:len(o.pieces[last])+n]
		o.n += n
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// room returns the free tail of the last piece, starting a new piece when
// that one is full.
func (o *Output) room() []byte {
	if k := len(o.pieces); k > 0 {
		if last := o.pieces[k-1]; len(last) < cap(last) {
			return last[len(last):cap(last)]
		}
	}
	size := firstPiece
	if k := len(o.pieces); k > 0 {
		size = min(max(2*cap(o.pieces[k-1]), firstPiece), maxPiece)
	}
	o.pieces = append(o.pieces, o.newPiece(size))
	last := o.pieces[len(o.pieces)-1]
	return last[:cap(last)]
}

// newPiece returns an empty piece of capacity size: outside Go's heap once
// o holds offHeapAfter bytes, or from the start when it is expected to.
func (o *Output) newPiece(size int) []byte {
	if o.n < offHeapAfter && !o.large {
		return make([]byte, 0, size)
	}
	piece, m := mapPiece(size)
	if m != nil {
		o.mapped = append(o.mapped, m)
	}
	return piece
}

// Mapped hands over the memory of o's pieces that lives outside Go's heap:
// the caller, who keeps o's pieces (Pieces, Bytes), releases it once done
// with them, and o must not be released after.
func (o *Output) Mapped() Mapped { return o.mapped }

// Release frees what o holds outside Go's heap and empties o: every piece
// it returned before is invalid after.
func (o *Output) Release() {
	o.mapped.Release()
	*o = Output{}
}

// ReleaseOnPanic is deferred by a function holding outs, read by its own
// goroutine: if it panics before handing them on, it releases them (their
// memory outside Go's heap has no other owner), then panics on. Releasing
// an Output whose memory a Result took over (Mapped) does no harm then: that
// Result is lost with the panic.
func ReleaseOnPanic(outs ...*Output) {
	if r := recover(); r != nil {
		for _, o := range outs {
			o.Release()
		}
		panic(r)
	}
}

// Len is the number of bytes read.
func (o *Output) Len() int { return o.n }

// Pieces returns the bytes read, in order, as pieces that are never empty;
// nil when nothing was read. The caller must not modify them.
func (o *Output) Pieces() [][]byte {
	if o.n == 0 {
		return nil
	}
	if k := len(o.pieces); len(o.pieces[k-1]) == 0 {
		return o.pieces[:k-1]
	}
	return o.pieces
}

// Bytes returns the bytes read in one slice: the single piece itself, or a
// copy that joins them (nil when nothing was read).
func (o *Output) Bytes() []byte {
	pieces := o.Pieces()
	switch len(pieces) {
	case 0:
		return nil
	case 1:
		return pieces[0]
	}
	return bytes.Join(pieces, nil)
}

// OutputOf is an Output holding b (for tests, and for results made in Go).
func OutputOf(b []byte) Output {
	if len(b) == 0 {
		return Output{}
	}
	return Output{pieces: [][]byte{b}, n: len(b)}
}
