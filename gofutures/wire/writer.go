package wire

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
)

// smallFrame is the largest payload WriteFrame copies next to its header to
// issue a single Write; larger payloads are written in place (vectored).
const smallFrame = 4 << 10

// putHeader encodes a header into h. It does not validate its arguments.
func putHeader(h []byte, kind Kind, id uint64, n int) {
	_ = h[HeaderSize-1]
	binary.LittleEndian.PutUint64(h[0:8], uint64(n))
	h[8] = byte(kind)
	binary.LittleEndian.PutUint64(h[9:17], id)
}

func checkFrame(kind Kind, id uint64, n int) error {
	if !kind.Valid() {
		return fmt.Errorf("%w: cannot write kind %d (id %d)", ErrBadKind, uint8(kind), id)
	}
	if n < 0 {
		return fmt.Errorf("%w: %s frame (id %d) has a negative payload length %d",
			ErrFrameTooLarge, kind, id, n)
	}
	return nil
}

// WriteFrame writes one frame (header then payload) to w.
//
// It returns an error wrapping ErrBadKind for an invalid kind, writing
// nothing; otherwise it returns the first write error of w. A failed
// write may have sent part of the frame, after which the stream is unusable.
// The payload is not retained.
//
// Cost: payloads up to 4 KiB are copied next to the header into one buffer
// (one allocation, one Write). Larger payloads are not copied: header and
// payload go out through net.Buffers (one ~90-byte allocation), which is a single writev(2) when w is
// a *net.UnixConn or *net.TCPConn and two Writes otherwise. WriteFrame does
// no buffering of its own; to send many small frames with one system call,
// build them with AppendFrame and write the result once.
//
// WriteFrame is safe for concurrent use only if w is and the caller
// serialises whole frames (a net.Conn may interleave concurrent writes).
func WriteFrame(w io.Writer, kind Kind, id uint64, payload []byte) error {
	if err := checkFrame(kind, id, len(payload)); err != nil {
		return err
	}
	if len(payload) <= smallFrame {
		buf := make([]byte, HeaderSize+len(payload))
		putHeader(buf, kind, id, len(payload))
		copy(buf[HeaderSize:], payload)
		_, err := w.Write(buf)
		return err
	}
	v := new(vectored) // one allocation for the header and the iovecs
	putHeader(v.hdr[:], kind, id, len(payload))
	v.iov = [2][]byte{v.hdr[:], payload}
	v.bufs = v.iov[:]
	_, err := v.bufs.WriteTo(w)
	return err
}

// vectored holds what a vectored WriteFrame needs, so that it costs a
// single small allocation (net.Buffers.WriteTo makes everything it is given
// escape).
type vectored struct {
	hdr  [HeaderSize]byte
	iov  [2][]byte
	bufs net.Buffers
}

// AppendFrame appends the encoding of one frame to dst and returns the
// extended slice, like the strconv Append functions. Use it to batch many
// small frames into a single Write.
//
// AppendFrame panics if kind is invalid: a programming error on the
// sending side (WriteFrame reports it as an error instead). Cost: one copy of the payload, and one
// allocation when dst lacks capacity.
func AppendFrame(dst []byte, kind Kind, id uint64, payload []byte) []byte {
	return append(AppendHeader(dst, kind, id, len(payload)), payload...)
}

// AppendHeader appends the header of a frame whose n-byte payload the caller
// sends separately (for example after ancillary data on the header alone).
// It panics as AppendFrame does.
func AppendHeader(dst []byte, kind Kind, id uint64, n int) []byte {
	if err := checkFrame(kind, id, n); err != nil {
		panic(err)
	}
	var hdr [HeaderSize]byte
	putHeader(hdr[:], kind, id, n)
	return append(dst, hdr[:]...)
}
