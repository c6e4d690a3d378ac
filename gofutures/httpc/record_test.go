package httpc_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/gofutures/gofutures/gofutures/httpc"
)

func TestAppendRecord(t *testing.T) {
	base := func() httpc.Response {
		return httpc.Response{Status: 200, Reason: "OK", Proto: "HTTP/1.1", URL: "http://h/p?q=1", ElapsedNs: 1234,
			Headers: [][2]string{{"Content-Type", "text/plain"}, {"X-Name", "caf\xe9 \xe2\x9c\x93"}}}
	}
	cases := []struct {
		name   string
		change func(*httpc.Response)
		want   string // "" when the record must fall back to JSON
	}{
		{"headers", func(*httpc.Response) {},
			"200\x00OK\x00HTTP/1.1\x001234\x00http://h/p?q=1\x00Content-Type\x00text/plain\x00X-Name\x00caf\xe9 \xe2\x9c\x93"},
		{"no headers", func(r *httpc.Response) { r.Headers = nil },
			"200\x00OK\x00HTTP/1.1\x001234\x00http://h/p?q=1"},
		{"empty fields", func(r *httpc.Response) { r.Reason, r.Headers = "", [][2]string{{"X-Empty", ""}} },
			"200\x00\x00HTTP/1.1\x001234\x00http://h/p?q=1\x00X-Empty\x00"},
		{"NUL in reason", func(r *httpc.Response) { r.Reason = "O\x00K" }, ""},
		{"NUL in url", func(r *httpc.Response) { r.URL = "http://h/\x00" }, ""},
		{"NUL in a header name", func(r *httpc.Response) { r.Headers[1][0] = "X\x00" }, ""},
		{"NUL in a header value", func(r *httpc.Response) { r.Headers[0][1] = "a\x00b" }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := base()
			tc.change(&r)
			prefix := []byte("kept")
			got, ok := r.AppendRecord(prefix)
			if tc.want == "" {
				assert.False(t, ok)
				assert.Equal(t, "kept", string(got), "unchanged when it falls back")
				return
			}
			assert.True(t, ok)
			assert.Equal(t, "kept"+tc.want, string(got))
			assert.GreaterOrEqual(t, r.RecordSize(), len(tc.want))
		})
	}
}

func TestLatin1Text(t *testing.T) {
	r := httpc.Response{Reason: "Caf\xe9", Headers: [][2]string{{"X-A", "plain"}, {"X-\xff", "\xe2\x9c\x93"}}}
	r.Latin1Text()
	assert.Equal(t, "Café", r.Reason)
	assert.Equal(t, [][2]string{{"X-A", "plain"}, {"X-ÿ", "\u00e2\u009c\u0093"}}, r.Headers)
}
