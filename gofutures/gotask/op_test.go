package gotask_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gofutures/gofutures/gofutures/gio"
	"github.com/gofutures/gofutures/gofutures/gotask"
)

func TestRunOutputKeepsThePiecesAndSplitsOnlyWhenBothOutputsHoldBytes(t *testing.T) {
	out, errs := []byte("out"), []byte("err")
	for _, tc := range []struct {
		name      string
		res       gio.RunResult
		want      []string // each piece
		wantSplit int
	}{
		{name: "stdout only", res: gio.RunResult{Stdout: gio.OutputOf(out)}, want: []string{"out"}},
		{name: "stderr only", res: gio.RunResult{Stderr: gio.OutputOf(errs)}, want: []string{"err"}},
		{name: "both", res: gio.RunResult{Stdout: gio.OutputOf(out), Stderr: gio.OutputOf(errs)}, want: []string{"out", "err"}, wantSplit: 1},
		{name: "neither", res: gio.RunResult{}, want: []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pieces, split := gotask.RunOutput(tc.res)
			require.NotNil(t, pieces, "nil Pieces would mean a body in Result.Body")
			got := make([]string, len(pieces))
			for i, p := range pieces {
				got[i] = string(p)
				assert.True(t, &p[0] == &out[0] || &p[0] == &errs[0], "piece %d is not a copy", i)
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantSplit, split)
		})
	}
}

func TestDoRunReturnsTheOutputInPieces(t *testing.T) {
	for _, tc := range []struct {
		name       string
		script     string
		timeout    string
		wantStatus gotask.Status
		wantBody   string
		wantSplit  int
		wantMeta   string // a field of the record
	}{
		{name: "both outputs", script: "printf out; printf err >&2", wantBody: "outerr", wantSplit: 1, wantMeta: `"stdout_len":3`},
		{name: "stderr only", script: "printf err >&2", wantBody: "err", wantMeta: `"stdout_len":0`},
		{name: "nothing", script: "exit 3", wantMeta: `"code":3`},
		{name: "timed out", script: "printf x; exec sleep 5", timeout: `,"timeout":0.3,"has_timeout":true`,
			wantStatus: gotask.StatusError, wantBody: "x", wantMeta: `"class":"expired"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv := fmt.Sprintf(`{"argv":[%q,%q,%q]%s}`, b64("sh"), b64("-c"), b64(tc.script), tc.timeout)
			res := gotask.Do(context.Background(), gotask.KindRun, []byte(argv), nil)
			assert.Equal(t, tc.wantStatus, res.Status, string(res.Meta))
			assert.Contains(t, string(res.Meta), tc.wantMeta)
			require.NotNil(t, res.Pieces)
			assert.Nil(t, res.Body)
			assert.Equal(t, tc.wantBody, string(res.BodyBytes()))
			assert.Equal(t, tc.wantSplit, res.Split)
		})
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// A result's large body lives outside Go's heap until Result.Release; what
// a task read but does not return (a run Ctrl-C ended) is released at once.
func TestLargeOutputsAreMappedUntilTheResultIsReleased(t *testing.T) {
	const big = "head -c 6000000 /dev/zero; head -c 5000000 /dev/zero >&2"
	for _, tc := range []struct {
		name     string
		script   string
		timeout  string
		cancel   bool
		wantBody int // bytes; -1: an error without body
	}{
		{name: "run", script: big, wantBody: 11_000_000},
		{name: "timed out run", script: big + "; exec sleep 5", timeout: `,"timeout":0.5,"has_timeout":true`, wantBody: 11_000_000},
		{name: "interrupted run", script: big + "; exec sleep 5", cancel: true, wantBody: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := gio.LiveMappings()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				time.AfterFunc(500*time.Millisecond, cancel)
			}
			argv := fmt.Sprintf(`{"argv":[%q,%q,%q]%s}`, b64("sh"), b64("-c"), b64(tc.script), tc.timeout)
			res := gotask.Do(ctx, gotask.KindRun, []byte(argv), nil)
			if tc.wantBody < 0 {
				assert.Contains(t, string(res.Meta), `"class":"canceled"`)
				assert.Zero(t, res.BodyLen())
				assert.Equal(t, before, gio.LiveMappings(), "the output read is released")
				return
			}
			assert.Equal(t, tc.wantBody, res.BodyLen(), string(res.Meta))
			assert.NotEmpty(t, res.Mapped)
			assert.Equal(t, before+int64(len(res.Mapped)), gio.LiveMappings())
			res.Release()
			assert.Equal(t, before, gio.LiveMappings())
		})
	}
}

// An operation that panics after its I/O (fault injection) ends in a panic
// result, and releases the large output it read: nothing is left mapped.
func TestAPanicAfterTheIOReleasesWhatWasRead(t *testing.T) {
	const size = 6<<20 + 5
	path := filepath.Join(t.TempDir(), "big")
	require.NoError(t, os.WriteFile(path, make([]byte, size), 0o600))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = w.Write(make([]byte, size))
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name string
		kind gotask.Kind
		meta string
	}{
		{"run", gotask.KindRun, fmt.Sprintf(`{"argv":[%q,%q,%q]}`, b64("sh"), b64("-c"), b64("head -c 11000000 /dev/zero"))},
		{"read", gotask.KindRead, fmt.Sprintf(`{"path":%q}`, b64(path))},
		{"http", gotask.KindHTTP, fmt.Sprintf(`{"method":"GET","verify":true,"url":%q}`, srv.URL)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := gio.LiveMappings()
			res := gotask.Do(context.Background(), tc.kind, []byte(tc.meta), nil)
			require.Equal(t, gotask.StatusOK, res.Status, string(res.Meta))
			assert.Greater(t, gio.LiveMappings(), before, "a large output is mapped")
			res.Release()

			gotask.PanicAfterIO()
			res = gotask.Do(context.Background(), tc.kind, []byte(tc.meta), nil)
			assert.Equal(t, gotask.StatusError, res.Status)
			assert.Contains(t, string(res.Meta), `"class":"panic"`)
			assert.Contains(t, string(res.Meta), "injected panic after the I/O")
			assert.Contains(t, string(res.Meta), "gotask.do", "the Go stack of the panic")
			assert.Equal(t, before, gio.LiveMappings())
		})
	}
}
