package wire_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gofutures/gofutures/gofutures/wire"
)

// vectorsPath is the test-vector file shared with the Python implementation
// (tests/test_wire.py).
const vectorsPath = "../../tests/wire_vectors.json"

type vectorFrame struct {
	Kind       uint8  `json:"kind"`
	ID         uint64 `json:"id"`
	PayloadHex string `json:"payload_hex"`
}

type vector struct {
	Name       string        `json:"name"`
	Hex        string        `json:"hex"`
	Frames     []vectorFrame `json:"frames"`
	Error      string        `json:"error"`
	MaxPayload int           `json:"max_payload"`
}

// raw returns the encoded stream.
func (v vector) raw(t testing.TB) []byte {
	b, err := hex.DecodeString(v.Hex)
	require.NoError(t, err, v.Name)
	return b
}

// frames returns the expected frames, payloads normalised like Reader.Next
// (nil when empty).
func (v vector) frames(t testing.TB) []wire.Frame {
	out := make([]wire.Frame, 0, len(v.Frames))
	for _, f := range v.Frames {
		p, err := hex.DecodeString(f.PayloadHex)
		require.NoError(t, err, v.Name)
		if len(p) == 0 {
			p = nil
		}
		out = append(out, wire.Frame{Kind: wire.Kind(f.Kind), ID: f.ID, Payload: p})
	}
	return out
}

// sentinel maps the vector file's error names to the Go errors.
func (v vector) sentinel() error {
	switch v.Error {
	case "too_large":
		return wire.ErrFrameTooLarge
	case "bad_kind":
		return wire.ErrBadKind
	case "truncated":
		return io.ErrUnexpectedEOF
	case "":
		return nil
	}
	panic("unknown error name in vector file: " + v.Error)
}

func loadVectors(t testing.TB) []vector {
	data, err := os.ReadFile(vectorsPath)
	require.NoError(t, err)
	var vs []vector
	require.NoError(t, json.Unmarshal(data, &vs))
	require.GreaterOrEqual(t, len(vs), 10)
	return vs
}

// readAll decodes frames until an error; io.EOF is reported as nil.
func readAll(r *wire.Reader) ([]wire.Frame, error) {
	frames := []wire.Frame{}
	for {
		f, err := r.Next()
		if errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			if err != io.EOF {
				return frames, errors.New("clean EOF returned wrapped")
			}
			return frames, nil
		}
		if err != nil {
			return frames, err
		}
		frames = append(frames, f)
	}
}

func TestVectorsFileIsWellFormed(t *testing.T) {
	names := map[string]bool{}
	for _, v := range loadVectors(t) {
		require.NotEmpty(t, v.Name)
		require.False(t, names[v.Name], "duplicate vector name %q", v.Name)
		names[v.Name] = true
		if v.Error == "" {
			require.NotNil(t, v.Frames, "%s: needs frames or error", v.Name)
		} else {
			require.Nil(t, v.Frames, "%s: has both frames and error", v.Name)
			require.NotPanics(t, func() { v.sentinel() }, v.Name)
		}
	}
}

// TestVectorsEncode checks that WriteFrame and AppendFrame produce exactly
// the bytes of every valid vector.
func TestVectorsEncode(t *testing.T) {
	for _, v := range loadVectors(t) {
		if v.Error != "" {
			continue
		}
		t.Run(v.Name, func(t *testing.T) {
			var appended []byte
			var written writeRecorder
			for _, f := range v.frames(t) {
				appended = wire.AppendFrame(appended, f.Kind, f.ID, f.Payload)
				require.NoError(t, wire.WriteFrame(&written, f.Kind, f.ID, f.Payload))
			}
			require.Equal(t, v.Hex, hex.EncodeToString(appended))
			require.Equal(t, v.Hex, hex.EncodeToString(written.data))
		})
	}
}

// TestVectorsDecode decodes every vector through several read patterns.
func TestVectorsDecode(t *testing.T) {
	for _, v := range loadVectors(t) {
		for _, rd := range readerShapes {
			t.Run(v.Name+"/"+rd.name, func(t *testing.T) {
				r := wire.NewReader(rd.wrap(v.raw(t)), v.MaxPayload)
				frames, err := readAll(r)
				if v.Error == "" {
					require.NoError(t, err)
					require.Equal(t, v.frames(t), frames)
					return
				}
				require.ErrorIs(t, err, v.sentinel())
				// Errors are sticky.
				_, again := r.Next()
				require.Equal(t, err, again)
			})
		}
	}
}

// writeRecorder is an io.Writer that records everything written to it.
type writeRecorder struct {
	data   []byte
	writes int
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.data = append(w.data, p...)
	w.writes++
	return len(p), nil
}
