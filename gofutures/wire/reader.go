package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// readBufferSize is the size of the Reader's internal buffer: large enough
// that a burst of small frames is read with one system call.
const readBufferSize = 64 << 10

// Reader decodes frames from a byte stream.
//
// A Reader is not safe for concurrent use. Errors are sticky: after Next
// returns an error (io.EOF included), every later call returns the same
// error, since the position in the stream is no longer known.
type Reader struct {
	br         *bufio.Reader
	maxPayload uint64
	hdr        [HeaderSize]byte
	err        error
	alloc      func(n int) []byte
}

// SetAlloc makes the Reader take payload buffers from alloc (which must
// return a slice of length n, or nil when it cannot) instead of allocating
// them, so that a caller can recycle them.
func (r *Reader) SetAlloc(alloc func(n int) []byte) { r.alloc = alloc }

// NewReader returns a Reader decoding frames from r, refusing frames whose
// declared payload exceeds maxPayload bytes; maxPayload <= 0 means
// DefaultMaxPayload (no limit but MaxPayload).
//
// r is read through a 64 KiB bufio.Reader (r itself is used if it already
// is a *bufio.Reader at least that large), so the Reader may read ahead of
// the frame it returns: once r is wrapped, read it only through the Reader.
func NewReader(r io.Reader, maxPayload int) *Reader {
	limit := uint64(DefaultMaxPayload)
	if maxPayload > 0 {
		limit = uint64(maxPayload)
	}
	return &Reader{br: bufio.NewReaderSize(r, readBufferSize), maxPayload: limit}
}

// ParseHeader decodes a frame header (h holds at least HeaderSize bytes). It
// does not validate: a Reader checks the kind, then the size against its
// limit; other callers must do the same.
func ParseHeader(h []byte) (kind Kind, id uint64, size uint64) {
	_ = h[HeaderSize-1]
	return Kind(h[8]), binary.LittleEndian.Uint64(h[9:17]), binary.LittleEndian.Uint64(h[0:8])
}

// Next reads and returns the next frame.
//
// At a clean end of stream, i.e. when the underlying reader reports io.EOF
// exactly at a frame boundary, Next returns io.EOF itself (not wrapped).
// Otherwise errors wrap:
//
//   - io.ErrUnexpectedEOF when the stream ends inside a header or a payload
//     (the message says how many bytes were expected and received);
//   - ErrBadKind when a header carries kind 0 or a kind above 8;
//   - ErrFrameTooLarge when a header declares a payload above the limit;
//   - ErrNoMemory when the allocator given to SetAlloc had no buffer;
//   - any other error of the underlying reader, unchanged under the wrap.
//
// The kind is checked before the length, and both before anything is
// allocated for the payload or read past the header.
//
// Cost: the header is decoded without allocating. The payload is allocated
// afresh for every frame, or taken from SetAlloc's function (exactly its
// declared length; nil when empty), so the caller may keep it; a payload
// larger than the internal buffer is read directly into that buffer,
// without an intermediate copy. Note that the buffer is had as soon as a
// valid header arrives, so a peer can make the Reader allocate up to the
// limit with a header's 17 bytes.
func (r *Reader) Next() (Frame, error) {
	if r.err != nil {
		return Frame{}, r.err
	}
	f, err := r.next()
	if err != nil {
		r.err = err
	}
	return f, err
}

func (r *Reader) next() (Frame, error) {
	n, err := io.ReadFull(r.br, r.hdr[:])
	switch {
	case err == nil:
	case n == 0 && errors.Is(err, io.EOF):
		return Frame{}, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Frame{}, fmt.Errorf("wire: truncated frame header: expected %d bytes, received %d: %w",
			HeaderSize, n, io.ErrUnexpectedEOF)
	default:
		return Frame{}, fmt.Errorf("wire: reading frame header (%d of %d bytes received): %w",
			n, HeaderSize, err)
	}

	kind, id, size := ParseHeader(r.hdr[:])
	if !kind.Valid() {
		return Frame{}, fmt.Errorf("%w: %d (id %d, declared payload %d bytes)", ErrBadKind, uint8(kind), id, size)
	}
	if size > r.maxPayload {
		return Frame{}, fmt.Errorf("%w: %s frame (id %d) declares a %d-byte payload; the limit is %d bytes",
			ErrFrameTooLarge, kind, id, size, r.maxPayload)
	}
	f := Frame{Kind: kind, ID: id}
	if size == 0 {
		return f, nil
	}
	if r.alloc != nil {
		f.Payload = r.alloc(int(size))
		if len(f.Payload) != int(size) {
			return Frame{}, fmt.Errorf("%w: %d bytes for the payload of a %s frame (id %d)", ErrNoMemory, size, kind, id)
		}
	} else {
		f.Payload = make([]byte, size)
	}
	n, err = io.ReadFull(r.br, f.Payload)
	switch {
	case err == nil:
		return f, nil
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return Frame{}, fmt.Errorf("wire: truncated %s frame (id %d) payload: expected %d bytes, received %d: %w",
			kind, id, size, n, io.ErrUnexpectedEOF)
	default:
		return Frame{}, fmt.Errorf("wire: reading %s frame (id %d) payload (%d of %d bytes received): %w",
			kind, id, n, size, err)
	}
}
