package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gofutures/gofutures/gofutures/wire"
)

// readerShapes are the read patterns every decoding test is run through.
var readerShapes = []struct {
	name string
	wrap func([]byte) io.Reader
}{
	{"whole", func(b []byte) io.Reader { return bytes.NewReader(b) }},
	{"one_byte", func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
	{"half", func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }},
	{"data_err", func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) }},
	{"one_byte_data_err", func(b []byte) io.Reader {
		return iotest.DataErrReader(iotest.OneByteReader(bytes.NewReader(b)))
	}},
}

var allKinds = []wire.Kind{
	wire.KindHello, wire.KindInit, wire.KindReady, wire.KindInitFailed,
	wire.KindTask, wire.KindResult, wire.KindError, wire.KindExit,
}

func header(size uint64, kind uint8, id uint64) []byte {
	h := make([]byte, wire.HeaderSize)
	binary.LittleEndian.PutUint64(h, size)
	h[8] = kind
	binary.LittleEndian.PutUint64(h[9:], id)
	return h
}

func pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i>>8)
	}
	return p
}

func TestKindString(t *testing.T) {
	want := []string{"HELLO", "INIT", "READY", "INIT_FAILED", "TASK", "RESULT", "ERROR", "EXIT"}
	for i, k := range allKinds {
		assert.Equal(t, want[i], k.String())
		assert.True(t, k.Valid())
		assert.Equal(t, wire.Kind(i+1), k)
	}
	for _, k := range []wire.Kind{0, 9, 255} {
		assert.False(t, k.Valid())
		assert.Equal(t, fmt.Sprintf("Kind(%d)", uint8(k)), k.String())
	}
}

func TestRoundTrip(t *testing.T) {
	sizes := []struct {
		name string
		n    int
	}{{"empty", 0}, {"1B", 1}, {"4KiB", 4 << 10}, {"4KiB+1", 4<<10 + 1}, {"1MiB", 1 << 20}}
	ids := []uint64{0, 1, 1 << 32, math.MaxUint64}
	for _, k := range allKinds {
		for _, sz := range sizes {
			for _, rd := range readerShapes {
				if strings.HasPrefix(rd.name, "one_byte") && sz.n > 64<<10 {
					continue // correct but slow; covered by "half"
				}
				t.Run(fmt.Sprintf("%s/%s/%s", k, sz.name, rd.name), func(t *testing.T) {
					payload := pattern(sz.n)
					var stream []byte
					var w writeRecorder
					for _, id := range ids {
						stream = wire.AppendFrame(stream, k, id, payload)
						require.NoError(t, wire.WriteFrame(&w, k, id, payload))
					}
					require.Equal(t, stream, w.data)
					require.Len(t, stream, len(ids)*(wire.HeaderSize+sz.n))

					r := wire.NewReader(rd.wrap(stream), 0)
					for _, id := range ids {
						f, err := r.Next()
						require.NoError(t, err)
						require.Equal(t, k, f.Kind)
						require.Equal(t, id, f.ID)
						if sz.n == 0 {
							require.Nil(t, f.Payload)
						} else {
							require.True(t, bytes.Equal(payload, f.Payload), "payload differs")
						}
					}
					_, err := r.Next()
					require.Same(t, io.EOF, err)
				})
			}
		}
	}
}

func TestRoundTripLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB payload")
	}
	payload := pattern(64 << 20)
	var buf bytes.Buffer
	require.NoError(t, wire.WriteFrame(&buf, wire.KindResult, 99, payload))
	require.NoError(t, wire.WriteFrame(&buf, wire.KindExit, 0, nil))
	r := wire.NewReader(iotest.HalfReader(&buf), 0)
	f, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, wire.KindResult, f.Kind)
	require.Equal(t, uint64(99), f.ID)
	require.True(t, bytes.Equal(payload, f.Payload), "payload differs")
	f, err = r.Next()
	require.NoError(t, err)
	require.Equal(t, wire.Frame{Kind: wire.KindExit}, f)
	_, err = r.Next()
	require.Same(t, io.EOF, err)
}

// TestPayloadsAreNotShared checks that a returned payload survives later
// calls to Next (it does not alias the Reader's buffer).
func TestPayloadsAreNotShared(t *testing.T) {
	var stream []byte
	for i := range 100 {
		stream = wire.AppendFrame(stream, wire.KindTask, uint64(i), []byte(fmt.Sprintf("task-%03d", i)))
	}
	r := wire.NewReader(bytes.NewReader(stream), 0)
	var got [][]byte
	for {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		got = append(got, f.Payload)
	}
	require.Len(t, got, 100)
	for i, p := range got {
		require.Equal(t, fmt.Sprintf("task-%03d", i), string(p))
	}
}

func TestBuffered(t *testing.T) {
	stream := wire.AppendFrame(nil, wire.KindReady, 0, nil)
	stream = wire.AppendFrame(stream, wire.KindTask, 1, []byte("abc"))
	r := wire.NewReader(bytes.NewReader(stream), 0)
	assert.Equal(t, 0, r.Buffered())
	_, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, wire.HeaderSize+3, r.Buffered())
	_, err = r.Next()
	require.NoError(t, err)
	assert.Equal(t, 0, r.Buffered())
}

func TestTruncatedHeader(t *testing.T) {
	full := wire.AppendFrame(nil, wire.KindTask, 5, []byte("payload"))
	for n := 1; n < wire.HeaderSize; n++ {
		for _, rd := range readerShapes {
			_, err := wire.NewReader(rd.wrap(full[:n]), 0).Next()
			require.ErrorIs(t, err, io.ErrUnexpectedEOF, "%d bytes, %s", n, rd.name)
			require.ErrorContains(t, err, fmt.Sprintf("expected %d bytes, received %d", wire.HeaderSize, n))
		}
	}
}

func TestTruncatedPayload(t *testing.T) {
	full := wire.AppendFrame(nil, wire.KindResult, 5, pattern(100))
	for n := wire.HeaderSize; n < len(full); n++ {
		for _, rd := range readerShapes {
			_, err := wire.NewReader(rd.wrap(full[:n]), 0).Next()
			require.ErrorIs(t, err, io.ErrUnexpectedEOF, "%d bytes, %s", n, rd.name)
			require.ErrorContains(t, err,
				fmt.Sprintf("truncated RESULT frame (id 5) payload: expected 100 bytes, received %d", n-wire.HeaderSize))
		}
	}
}

// headerOnlyReader serves one header and then fails the test if the Reader
// asks for more: an oversized frame must be refused on the header alone.
type headerOnlyReader struct {
	t   *testing.T
	hdr []byte
}

func (r *headerOnlyReader) Read(p []byte) (int, error) {
	if len(r.hdr) == 0 {
		r.t.Error("Reader read past the header of an oversized frame")
		return 0, io.EOF
	}
	n := copy(p, r.hdr)
	r.hdr = r.hdr[n:]
	return n, nil
}

func TestOversizedFrameIsRefusedBeforeAllocating(t *testing.T) {
	cases := []struct {
		name  string
		size  uint64
		limit int
	}{
		{"u64max_default_limit", math.MaxUint64, 0},
		{"maxint_plus_one_default_limit", math.MaxInt64 + 1, 0},
		{"limit_plus_one", 1025, 1024},
		{"above_u32_limit_u32max", 1 << 32, math.MaxUint32},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := wire.NewReader(&headerOnlyReader{t: t, hdr: header(c.size, uint8(wire.KindResult), 7)}, c.limit)
			_, err := r.Next()
			runtime.ReadMemStats(&after)
			require.ErrorIs(t, err, wire.ErrFrameTooLarge)
			require.ErrorContains(t, err, fmt.Sprintf("declares a %d-byte payload", c.size))
			// The Reader's own 64 KiB buffer is the only sizeable allocation.
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20))
		})
	}
}

func TestPayloadAtLimit(t *testing.T) {
	stream := wire.AppendFrame(nil, wire.KindTask, 1, pattern(1024))
	f, err := wire.NewReader(bytes.NewReader(stream), 1024).Next()
	require.NoError(t, err)
	require.Len(t, f.Payload, 1024)
	_, err = wire.NewReader(bytes.NewReader(stream), 1023).Next()
	require.ErrorIs(t, err, wire.ErrFrameTooLarge)
}

func TestBadKind(t *testing.T) {
	for _, k := range []uint8{0, 9, 10, 128, 255} {
		_, err := wire.NewReader(bytes.NewReader(header(0, k, 1)), 0).Next()
		require.ErrorIs(t, err, wire.ErrBadKind)
		require.ErrorContains(t, err, fmt.Sprintf("invalid frame kind: %d", k))
	}
}

func TestGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		data := make([]byte, rng.IntN(200))
		for j := range data {
			data[j] = byte(rng.UintN(256))
		}
		if len(data) > 8 && i%2 == 0 {
			// Half the inputs start with a plausible length so that
			// frames actually decode.
			binary.LittleEndian.PutUint64(data, uint64(rng.IntN(len(data))))
			data[8] = byte(rng.IntN(10))
		}
		checkDecode(t, data, 64)
	}
}

// errAfter yields its data and then a non-EOF error.
type errAfter struct {
	data []byte
	err  error
}

func (r *errAfter) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestUnderlyingErrorsAreWrapped(t *testing.T) {
	boom := errors.New("boom")
	frame := wire.AppendFrame(nil, wire.KindTask, 3, []byte("0123456789"))
	for _, n := range []int{0, 5, wire.HeaderSize, wire.HeaderSize + 4} {
		r := wire.NewReader(&errAfter{data: frame[:n], err: boom}, 0)
		_, err := r.Next()
		require.ErrorIs(t, err, boom, "after %d bytes", n)
		require.NotErrorIs(t, err, io.ErrUnexpectedEOF)
	}
	_, err := wire.NewReader(iotest.TimeoutReader(bytes.NewReader(frame)), 0).Next()
	require.NoError(t, err) // bufio reads everything in the first call
	_, err = wire.NewReader(iotest.TimeoutReader(iotest.OneByteReader(bytes.NewReader(frame))), 0).Next()
	require.ErrorIs(t, err, iotest.ErrTimeout)
}

func TestWriteFrameRejectsBadKind(t *testing.T) {
	for _, k := range []wire.Kind{0, 9, 255} {
		var w writeRecorder
		err := wire.WriteFrame(&w, k, 1, []byte("x"))
		require.ErrorIs(t, err, wire.ErrBadKind)
		require.Zero(t, w.writes)
		require.Panics(t, func() { wire.AppendFrame(nil, k, 1, nil) })
	}
}

func TestWriteFrameWrites(t *testing.T) {
	// Small frames go out in one Write, large ones as header then payload
	// (on a plain io.Writer; a net.Conn gets a single writev).
	var w writeRecorder
	require.NoError(t, wire.WriteFrame(&w, wire.KindTask, 1, pattern(4<<10)))
	require.Equal(t, 1, w.writes)
	w = writeRecorder{}
	require.NoError(t, wire.WriteFrame(&w, wire.KindTask, 1, pattern(4<<10+1)))
	require.Equal(t, 2, w.writes)

	err := wire.WriteFrame(errWriter{}, wire.KindExit, 0, nil)
	require.ErrorIs(t, err, errShortWrite)
}

var errShortWrite = errors.New("short write")

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errShortWrite }

// TestUnixSocket sends frames over a real Unix stream socket pair, where
// WriteFrame uses writev for large payloads.
func TestUnixSocket(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: t.TempDir() + "/s", Net: "unix"})
	require.NoError(t, err)
	defer ln.Close()

	payloads := [][]byte{nil, []byte("hi"), pattern(1 << 20), pattern(8 << 20), pattern(100)}
	done := make(chan error, 1)
	go func() {
		c, err := net.Dial("unix", ln.Addr().String())
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		var batch []byte
		for i := range 1000 {
			batch = wire.AppendFrame(batch, wire.KindTask, uint64(i), []byte("small"))
		}
		if _, err := c.Write(batch); err != nil {
			done <- err
			return
		}
		for i, p := range payloads {
			if err := wire.WriteFrame(c, wire.KindResult, uint64(i), p); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	c, err := ln.Accept()
	require.NoError(t, err)
	defer c.Close()
	r := wire.NewReader(c, 0)
	for i := range 1000 {
		f, err := r.Next()
		require.NoError(t, err)
		require.Equal(t, wire.Frame{Kind: wire.KindTask, ID: uint64(i), Payload: []byte("small")}, f)
	}
	for i, p := range payloads {
		f, err := r.Next()
		require.NoError(t, err)
		require.Equal(t, uint64(i), f.ID)
		require.True(t, bytes.Equal(p, f.Payload), "payload %d differs", i)
	}
	_, err = r.Next()
	require.Same(t, io.EOF, err)
	require.NoError(t, <-done)
}

// checkDecode decodes data with the given limit and checks the Reader's
// contract: every frame re-encodes to exactly the bytes it was decoded
// from, a clean io.EOF comes only at a frame boundary after all input, and
// every error is one of the documented kinds and matches the input.
func checkDecode(t testing.TB, data []byte, limit int) {
	r := wire.NewReader(bytes.NewReader(data), limit)
	var consumed []byte
	for {
		f, err := r.Next()
		if err == nil {
			if !f.Kind.Valid() {
				t.Fatalf("returned invalid kind %d", f.Kind)
			}
			if f.Payload != nil && len(f.Payload) == 0 {
				t.Fatalf("empty payload is not nil")
			}
			consumed = wire.AppendFrame(consumed, f.Kind, f.ID, f.Payload)
			if !bytes.HasPrefix(data, consumed) {
				t.Fatalf("frame %+v does not re-encode to the bytes it was read from", f)
			}
			continue
		}
		rest := data[len(consumed):]
		switch {
		case err == io.EOF:
			if len(rest) != 0 {
				t.Fatalf("io.EOF with %d bytes left", len(rest))
			}
		case errors.Is(err, io.ErrUnexpectedEOF):
			if len(rest) == 0 {
				t.Fatalf("truncation error at a frame boundary: %v", err)
			}
			if len(rest) >= wire.HeaderSize &&
				binary.LittleEndian.Uint64(rest) <= uint64(len(rest)-wire.HeaderSize) {
				t.Fatalf("truncation error on a complete frame: %v", err)
			}
		case errors.Is(err, wire.ErrBadKind):
			if len(rest) < wire.HeaderSize || wire.Kind(rest[8]).Valid() {
				t.Fatalf("bad-kind error on a valid header: %v", err)
			}
		case errors.Is(err, wire.ErrFrameTooLarge):
			if len(rest) < wire.HeaderSize || !wire.Kind(rest[8]).Valid() ||
				binary.LittleEndian.Uint64(rest) <= uint64(limit) {
				t.Fatalf("too-large error on an acceptable header: %v", err)
			}
		default:
			t.Fatalf("undocumented error: %v", err)
		}
		return
	}
}

func FuzzReader(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.raw(f))
	}
	f.Add([]byte{})
	f.Add([]byte{0xff})
	f.Add(bytes.Repeat([]byte{0xff}, 40))
	f.Add(bytes.Repeat([]byte{0x00}, 40))
	f.Add(append(header(3, 5, 1), "abcdef"...))
	f.Add(append(header(1<<20, 6, 1), "short"...))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data, 1<<16)
	})
}

// An allocator (SetAlloc) that has no buffer fails the frame with
// ErrNoMemory, which the pool turns into a broken pool with that message.
func TestAllocatorWithoutMemory(t *testing.T) {
	stream := wire.AppendFrame(nil, wire.KindResult, 4, pattern(100))
	r := wire.NewReader(bytes.NewReader(stream), 0)
	r.SetAlloc(func(int) []byte { return nil })
	_, err := r.Next()
	require.ErrorIs(t, err, wire.ErrNoMemory)
	require.ErrorContains(t, err, "100 bytes for the payload of a RESULT frame (id 4)")
}
