package httpc_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gofutures/gofutures/gofutures/gio"
	"github.com/gofutures/gofutures/gofutures/httpc"
)

func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		fmt.Fprintf(w, "hello %s %s", r.Method, r.URL.RawQuery)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s|%s|%s", r.Header.Get("Content-Type"), r.Header.Get("X-Mine"), body)
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(bytes.Repeat([]byte("z"), 100000))
		zw.Close()
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(b.Bytes())
	})
	// /big/{length,chunked,gzip}: bigBody, with a Content-Length, without
	// one, or gzipped; /big/{stored,badgzip,short}: gzipped without
	// compression (as large as bigBody), the same with a wrong checksum,
	// half of it with bigBody's Content-Length.
	mux.HandleFunc("/big/{how}", func(w http.ResponseWriter, r *http.Request) {
		switch how := r.PathValue("how"); how {
		case "stored", "badgzip":
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.NoCompression)
			zw.Write(bigBody)
			zw.Close()
			raw := b.Bytes()
			if how == "badgzip" {
				raw[len(raw)-5] ^= 0xff // in the CRC-32 of the trailer
			}
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(raw)
		case "short":
			w.Header().Set("Content-Length", fmt.Sprint(len(bigBody)))
			w.Write(bigBody[:len(bigBody)/2])
		case "length":
			w.Header().Set("Content-Length", fmt.Sprint(len(bigBody)))
			w.Write(bigBody)
		case "chunked":
			for b := bigBody; len(b) > 0; b = b[min(len(b), 100_000):] {
				w.Write(b[:min(len(b), 100_000)])
				w.(http.Flusher).Flush()
			}
		case "gzip":
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			zw.Write(bigBody)
			zw.Close()
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/hello", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	})
	cutShort := func(head, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			io.WriteString(conn, "HTTP/1.1 200 OK\r\n"+head+"\r\n"+body)
			conn.Close()
		}
	}
	mux.HandleFunc("/short", cutShort("Content-Length: 10\r\n", "abc"))
	mux.HandleFunc("/shortchunked", cutShort("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n"))
	mux.HandleFunc("/status/418", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(418)
	})
	return mux
}

func get(t *testing.T, url string, edit ...func(*httpc.Request)) (httpc.Response, []byte, error) {
	t.Helper()
	r := &httpc.Request{Method: "GET", URL: url, FollowRedirects: true, MaxRedirects: 30, Verify: true, Timeout: 10}
	for _, e := range edit {
		e(r)
	}
	return joined(r, nil)
}

// joined is httpc.Do, with the body in one slice.
func joined(r *httpc.Request, body []byte) (httpc.Response, []byte, error) {
	resp, data, err := httpc.Do(context.Background(), r, body)
	return resp, data.Bytes(), err
}

func TestResponses(t *testing.T) {
	srv := httptest.NewServer(handler())
	defer srv.Close()
	defer httpc.CloseIdle()

	resp, body, err := get(t, srv.URL+"/hello?a=1")
	require.NoError(t, err)
	assert.Equal(t, 200, resp.Status)
	assert.Equal(t, "OK", resp.Reason)
	assert.Equal(t, "HTTP/1.1", resp.Proto)
	assert.Equal(t, "hello GET a=1", string(body))
	assert.Contains(t, resp.Headers, [2]string{"X-Multi", "a, b"})

	resp, body, err = get(t, srv.URL+"/gzip")
	require.NoError(t, err)
	assert.Len(t, body, 100000, "decoded")
	assert.Contains(t, resp.Headers, [2]string{"Content-Encoding", "gzip"}, "kept, as requests keeps it")

	resp, _, err = get(t, srv.URL+"/redirect")
	require.NoError(t, err)
	assert.Equal(t, srv.URL+"/hello", resp.URL)

	resp, _, err = get(t, srv.URL+"/redirect", func(r *httpc.Request) { r.FollowRedirects = false })
	require.NoError(t, err)
	assert.Equal(t, 302, resp.Status)

	resp, _, err = get(t, srv.URL+"/status/418")
	require.NoError(t, err)
	assert.Equal(t, "I'm a teapot", resp.Reason)

	post := &httpc.Request{Method: "POST", URL: srv.URL + "/echo", Verify: true,
		Headers: [][2]string{{"Content-Type", "text/x"}, {"x-mine", "m"}}}
	_, body, err = joined(post, []byte("payload"))
	require.NoError(t, err)
	assert.Equal(t, "text/x|m|payload", string(body))
}

// bigBody spans several of a gio.Output's pieces, some of them mapped.
var bigBody = func() []byte {
	b := make([]byte, 6<<20+5)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

func TestLargeBodiesArriveWhole(t *testing.T) {
	srv := httptest.NewServer(handler())
	defer srv.Close()
	defer httpc.CloseIdle()
	for _, how := range []string{"length", "chunked", "gzip"} {
		t.Run(how, func(t *testing.T) {
			r := &httpc.Request{Method: "GET", URL: srv.URL + "/big/" + how, Verify: true, Timeout: 10}
			_, data, err := httpc.Do(context.Background(), r, nil)
			require.NoError(t, err)
			assert.Equal(t, len(bigBody), data.Len())
			assert.True(t, bytes.Equal(bigBody, data.Bytes()), "the body")
			if how == "length" {
				assert.Equal(t, 7, len(data.Pieces()), "a first piece of 1 MiB (the most a Content-Length is trusted with), then 1 MiB pieces")
			}
		})
	}
}

// A large body lives outside Go's heap (gio.Mapped) until released; what
// was read for a body that ends in an error, or that was decoded, is
// released at once.
func TestLargeBodiesAreMappedUntilReleased(t *testing.T) {
	srv := httptest.NewServer(handler())
	defer srv.Close()
	defer httpc.CloseIdle()
	for _, how := range []string{"length", "chunked", "gzip", "stored", "badgzip", "short"} {
		t.Run(how, func(t *testing.T) {
			before := gio.LiveMappings()
			r := &httpc.Request{Method: "GET", URL: srv.URL + "/big/" + how, Verify: true, Timeout: 10}
			_, data, err := httpc.Do(context.Background(), r, nil)
			if how == "badgzip" || how == "short" {
				require.Error(t, err)
				assert.Equal(t, before, gio.LiveMappings(), "nothing left mapped")
				return
			}
			require.NoError(t, err)
			require.True(t, bytes.Equal(bigBody, data.Bytes()), "the body")
			assert.NotEmpty(t, data.Mapped(), "its large pieces are mapped")
			assert.Equal(t, before+int64(len(data.Mapped())), gio.LiveMappings(), "the body's mappings only")
			data.Release()
			assert.Equal(t, before, gio.LiveMappings())
		})
	}
}

func TestErrors(t *testing.T) {
	srv := httptest.NewServer(handler())
	defer srv.Close()
	defer httpc.CloseIdle()
	closed := httptest.NewServer(handler())
	closedURL := closed.URL
	closed.Close()

	for _, tc := range []struct {
		name  string
		url   string
		edit  func(*httpc.Request)
		class gio.Class
		errno syscall.Errno
	}{
		{"refused", closedURL, nil, gio.ClassOS, syscall.ECONNREFUSED},
		{"reset", srv.URL + "/reset", nil, gio.ClassOS, syscall.ECONNRESET},
		{"timeout", srv.URL + "/slow", func(r *httpc.Request) { r.Timeout = 0.2 }, gio.ClassTimeout, 0},
		{"too many redirects", srv.URL + "/loop", nil, gio.ClassRedirect, 0},
		{"no such host", "http://no-such-host.invalid/", nil, gio.ClassGAI, 0},
		{"scheme", "ftp://x/", nil, gio.ClassValue, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var edits []func(*httpc.Request)
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			_, _, err := get(t, tc.url, edits...)
			ge, ok := err.(*gio.Error)
			require.True(t, ok, "%T %v", err, err)
			assert.Equal(t, tc.class, ge.Class, ge.Msg)
			if tc.errno != 0 {
				assert.Equal(t, int(tc.errno), ge.Errno, ge.Msg)
			}
		})
	}
}

// A body cut short is an OSError without errno, in urllib3's words.
func TestIncompleteRead(t *testing.T) {
	srv := httptest.NewServer(handler())
	defer srv.Close()
	defer httpc.CloseIdle()
	for _, tc := range []struct{ path, msg string }{
		{"/short", "Connection broken: IncompleteRead(3 bytes read, 7 more expected)"},
		{"/shortchunked", "Connection broken: IncompleteRead(5 bytes read)"},
	} {
		_, _, err := get(t, srv.URL+tc.path)
		assert.Equal(t, &gio.Error{Class: gio.ClassOS, Msg: tc.msg}, err, tc.path)
	}
}

func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(handler())
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	defer httpc.CloseIdle()

	_, _, err := get(t, srv.URL+"/hello")
	ge, ok := err.(*gio.Error)
	require.True(t, ok, "%T %v", err, err)
	assert.Equal(t, gio.ClassSSLCert, ge.Class)

	resp, _, err := get(t, srv.URL+"/hello", func(r *httpc.Request) { r.Verify = false })
	require.NoError(t, err)
	assert.Equal(t, "HTTP/2.0", resp.Proto)

	bundle := filepath.Join(t.TempDir(), "ca.pem")
	cert := srv.Certificate()
	require.NoError(t, os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600))
	_, err = x509.ParseCertificate(cert.Raw)
	require.NoError(t, err)
	resp, body, err := get(t, srv.URL+"/hello", func(r *httpc.Request) { r.CABundle = bundle })
	require.NoError(t, err)
	assert.Equal(t, 200, resp.Status)
	assert.Equal(t, "hello GET ", string(body))
}

// verify=<a directory>: every PEM file in it, not in its subdirectories.
func TestTLSCADirectory(t *testing.T) {
	srv := httptest.NewTLSServer(handler())
	defer srv.Close()
	defer httpc.CloseIdle()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	dir := func(files map[string][]byte) string {
		d := t.TempDir()
		require.NoError(t, os.Mkdir(filepath.Join(d, "sub"), 0o700))
		for name, data := range files {
			require.NoError(t, os.WriteFile(filepath.Join(d, name), data, 0o600))
		}
		return d
	}

	for _, tc := range []struct {
		name  string
		path  string
		class gio.Class // "": no error
		errno syscall.Errno
	}{
		{"a certificate and a text", dir(map[string][]byte{"any-name.crt": ca, "README": []byte("hi")}), "", 0},
		{"no certificate", dir(map[string][]byte{"README": []byte("hi")}), gio.ClassSSL, 0},
		{"one in a subdirectory", dir(map[string][]byte{"sub/ca.pem": ca}), gio.ClassSSL, 0},
		{"missing", filepath.Join(t.TempDir(), "nope"), gio.ClassOS, syscall.ENOENT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _, err := get(t, srv.URL+"/hello", func(r *httpc.Request) { r.CABundle = tc.path })
			if tc.class == "" {
				require.NoError(t, err)
				assert.Equal(t, 200, resp.Status)
				return
			}
			var ge *gio.Error
			require.ErrorAs(t, err, &ge)
			assert.Equal(t, tc.class, ge.Class, ge.Msg)
			assert.Equal(t, int(tc.errno), ge.Errno, ge.Msg)
		})
	}
}

// Each want is what http.client sends for the str value: its latin-1 bytes.
func TestLatin1HeaderValues(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"", ""},
		{"plain", "plain"},
		{"café", "caf\xe9"},
		{"\u00ff\u00a0x\u0080", "\xff\xa0x\x80"},
		{"✓", "✓"},           // above 255: Python refuses it first; sent as it came
		{"é✓", "é✓"},         // the same, with a rune below 256 before
		{"a\xe9b", "a\xe9b"}, // not UTF-8: as it came
	} {
		assert.Equal(t, tc.want, httpc.Latin1Value(tc.value), "%q", tc.value)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Test"))
	}))
	defer srv.Close()
	defer httpc.CloseIdle()
	_, body, err := get(t, srv.URL+"/", func(r *httpc.Request) { r.Headers = [][2]string{{"X-Test", "café"}} })
	require.NoError(t, err)
	assert.Equal(t, "caf\xe9", string(body))
}

// A header named in any case is sent once, and net/http does not add its
// own beside it (requests merges names case-insensitively).
func TestHeaderNamesInAnyCase(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, name := range []string{"User-Agent", "Authorization", "Accept-Encoding", "X-Custom"} {
			fmt.Fprintf(w, "%s=%q ", name, r.Header.Values(name))
		}
	}))
	defer srv.Close()
	defer httpc.CloseIdle()
	for _, tc := range []struct {
		name    string
		headers [][2]string
		url     string
		want    string
	}{
		{"user agent in lower case", [][2]string{{"user-agent", "bot/1"}}, "/", `User-Agent=["bot/1"]`},
		{"user agent in mixed case", [][2]string{{"User-agent", "bot/1"}}, "/", `User-Agent=["bot/1"]`},
		{"authorization beside URL credentials", [][2]string{{"authorization", "Bearer T"}}, "u:p@", `Authorization=["Bearer T"]`},
		{"accept-encoding: Go adds no gzip of its own", [][2]string{{"accept-encoding", "identity"}}, "/", `Accept-Encoding=["identity"]`},
		{"any other header", [][2]string{{"x-CUSTOM", "1"}}, "/", `X-Custom=["1"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := srv.URL + "/"
			if tc.url == "u:p@" {
				url = "http://u:p@" + srv.Listener.Addr().String() + "/"
			}
			_, body, err := get(t, url, func(r *httpc.Request) { r.Headers = tc.headers })
			require.NoError(t, err)
			assert.Contains(t, string(body), tc.want)
		})
	}
}
