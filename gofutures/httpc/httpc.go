// Package httpc is the HTTP client behind gofutures.http: net/http with one
// shared connection pool per TLS and limit setting (keep-alive, HTTP/2 when
// the server offers it, proxies from the environment), whole bodies read in
// Go, and errors classified as the Python exceptions they become (gio.Error).
//
// It decodes gzip and deflate bodies itself, keeping Content-Encoding and
// Content-Length in the headers, as requests does (net/http's transparent
// decompression would drop them).
package httpc

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gofutures/gofutures/gofutures/gio"
)

// Request is one request, as gofutures.http sends it (JSON from Python).
type Request struct {
	Method          string      `json:"method"`
	URL             string      `json:"url"`
	Headers         [][2]string `json:"headers"`
	Timeout         float64     `json:"timeout"` // seconds for the whole exchange; 0: none
	FollowRedirects bool        `json:"follow_redirects"`
	MaxRedirects    int         `json:"max_redirects"`
	Verify          bool        `json:"verify"`
	CABundle        string      `json:"ca_bundle"`      // with Verify: trust these instead of the system's
	MaxConnsPerHost int         `json:"max_conns_host"` // 0: no limit
	MaxIdlePerHost  int         `json:"max_idle_host"`  // 0: DefaultMaxIdlePerHost
	Proxy           *ProxyEnv   `json:"proxy"`          // nil: no proxy
}

// Response is what Python needs to build a gofutures.http.Response; the body
// travels apart.
type Response struct {
	Status    int         `json:"status"`
	Reason    string      `json:"reason"`
	Proto     string      `json:"proto"`
	Headers   [][2]string `json:"headers"`
	URL       string      `json:"url"`
	ElapsedNs int64       `json:"elapsed_ns"`
}

// DefaultMaxIdlePerHost is how many idle connections a host keeps. Idle
// connections are ones a peak of requests in flight opened: keeping them
// holds file descriptors the process already held at that peak (for at most
// IdleConnTimeout), and closing them costs the next wave a connect each (at
// 10,000 in flight with a limit of 1,024, 9,000 new connections a wave).
const DefaultMaxIdlePerHost = 16384

// sendZeroLength is the TransferEncoding of a request with an empty body
// (http.NoBody): with it net/http writes "Content-Length: 0" for every
// method but GET and HEAD, as requests does, where it would for POST, PUT
// and PATCH only (transferWriter.shouldSendContentLength). net/http only
// reads it.
var sendZeroLength = []string{"identity"}

// DialTimeout bounds a connect when the request has no timeout (as the
// system's own connect timeout would).
const DialTimeout = 60 * time.Second

type transportKey struct {
	verify   bool
	caBundle string
	maxConns int
	maxIdle  int
}

var (
	transportsMu sync.Mutex
	transports   = map[transportKey]*http.Transport{}
)

// resolver resolves names in Go (no getaddrinfo thread per lookup).
var resolver = &net.Resolver{PreferGo: true}

func transportFor(r *Request) (*http.Transport, error) {
	key := transportKey{verify: r.Verify, caBundle: r.CABundle, maxConns: r.MaxConnsPerHost, maxIdle: r.MaxIdlePerHost}
	if key.maxIdle == 0 {
		key.maxIdle = DefaultMaxIdlePerHost
	}
	if !key.verify {
		key.caBundle = ""
	}
	transportsMu.Lock()
	defer transportsMu.Unlock()
	if t, ok := transports[key]; ok {
		return t, nil
	}
	tlsConf := &tls.Config{InsecureSkipVerify: !key.verify} //nolint:gosec // verify=False asked for it
	if key.caBundle != "" {
		pool, err := loadRoots(key.caBundle)
		if err != nil {
			return nil, err
		}
		tlsConf.RootCAs = pool
	}
	dialer := &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second, Resolver: resolver}
	t := &http.Transport{
		Proxy:                 proxyFromContext, // Python reads the environment (ProxyEnv)
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       tlsConf,
		MaxIdleConns:          0, // no global limit: per host below
		MaxIdleConnsPerHost:   key.maxIdle,
		MaxConnsPerHost:       key.maxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   DialTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // decoded here, keeping the headers (see decode)
	}
	transports[key] = t
	return t, nil
}

// loadRoots reads the CA certificates of verify=path: a PEM bundle, or a
// directory of PEM files (requests hands a directory to OpenSSL as its
// capath). Every file of the directory is read, whatever its name, its
// subdirectories are not, and a file that holds no certificate is skipped.
// Its errors are *gio.Error: the os error of path, or ClassSSL when no
// certificate was found.
func loadRoots(path string) (*x509.CertPool, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, gio.FromError(nil, err)
	}
	files := []string{path}
	if info.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, gio.FromError(nil, err)
		}
		files = files[:0]
		for _, e := range entries {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	pool, found := x509.NewCertPool(), false
	for _, f := range files {
		pem, err := os.ReadFile(f)
		switch {
		case err == nil:
			found = pool.AppendCertsFromPEM(pem) || found
		case !info.IsDir():
			return nil, gio.FromError(nil, err)
		}
		// In a directory, a subdirectory or a file that cannot be read is
		// skipped, as OpenSSL's lookup in a capath skips it.
	}
	if !found {
		return nil, gio.Errorf(gio.ClassSSL, "no certificate found in CA bundle %s", path)
	}
	return pool, nil
}

// CloseIdle closes every idle connection (for leak tests and exit).
func CloseIdle() {
	transportsMu.Lock()
	defer transportsMu.Unlock()
	for _, t := range transports {
		t.CloseIdleConnections()
	}
}

// Do sends the request and reads the whole response, its body in pieces
// that are never copied to grow (gio.Output). Its errors are *gio.Error.
func Do(ctx context.Context, r *Request, body []byte) (Response, gio.Output, error) {
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(r.Timeout*float64(time.Second)))
		defer cancel()
	}
	client, req, err := newRequest(ctx, r, body)
	if err != nil {
		return Response{}, gio.Output{}, err
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return Response{}, gio.Output{}, Classify(ctx, err)
	}
	elapsed := time.Since(start)
	defer resp.Body.Close()
	data, err := readBody(ctx, resp)
	if err != nil {
		return Response{}, gio.Output{}, err
	}
	defer gio.ReleaseOnPanic(&data)
	return responseOf(resp, elapsed), data, nil
}

// newRequest is r as net/http sends it, with the client that follows its
// redirects on the transport of its settings.
func newRequest(ctx context.Context, r *Request, body []byte) (*http.Client, *http.Request, error) {
	tr, err := transportFor(r)
	if err != nil {
		return nil, nil, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	ctx = withProxyEnv(ctx, r.Proxy)
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, rd)
	if err != nil {
		return nil, nil, gio.Errorf(gio.ClassValue, "Invalid URL %q: %v", r.URL, unwrapURL(err))
	}
	if body != nil && len(body) == 0 {
		req.Body, req.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
		req.TransferEncoding = sendZeroLength
	}
	for _, kv := range r.Headers {
		if strings.EqualFold(kv[0], "Host") {
			req.Host = kv[1]
			continue
		}
		// net/http knows its own headers (User-Agent, Content-Length,
		// Authorization, Accept-Encoding, Cookie on redirects...) by their
		// canonical spelling only: "user-agent" would go out next to Go's
		// own User-Agent line, a second one that servers read first.
		// requests sends one header whatever the case of its name.
		name := http.CanonicalHeaderKey(kv[0])
		req.Header[name] = append(req.Header[name], latin1Value(kv[1]))
	}
	client := &http.Client{Transport: tr, CheckRedirect: checkRedirect(r)}
	if r.FollowRedirects {
		client.Jar = new(redirectJar)
	}
	return client, req, nil
}

// readBody reads resp's whole body, decoded (see decode).
func readBody(ctx context.Context, resp *http.Response) (gio.Output, error) {
	var data gio.Output
	if resp.Body != http.NoBody { // HEAD, 204, 304: Content-Length announces no body here
		data.Expect(resp.ContentLength)
	}
	_, err := data.ReadFrom(resp.Body)
	if err != nil {
		n := data.Len()
		data.Release()
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return gio.Output{}, incompleteRead(n, resp.ContentLength)
		}
		return gio.Output{}, Classify(ctx, err)
	}
	// The body's end woke the connection's read loop, which puts the
	// connection back in the idle pool. Let it run first: a Go task that
	// sends its next request at once would find no idle connection and
	// dial one more (at 10,000 requests in flight, a wave of needless
	// dials: 2-4x the kernel time, in the search for a free local port).
	runtime.Gosched()
	if data, err = decode(resp.Header.Get("Content-Encoding"), data); err != nil {
		return gio.Output{}, gio.Errorf(gio.ClassOS, "Received response with content-encoding: %s, but failed to decode it: %v",
			resp.Header.Get("Content-Encoding"), err)
	}
	return data, nil
}

// responseOf is resp's record, its headers sorted by name.
func responseOf(resp *http.Response, elapsed time.Duration) Response {
	out := Response{
		Status:    resp.StatusCode,
		Reason:    strings.TrimSpace(strings.TrimPrefix(resp.Status, resp.Status[:min(3, len(resp.Status))])),
		Proto:     resp.Proto,
		URL:       resp.Request.URL.String(),
		ElapsedNs: elapsed.Nanoseconds(),
	}
	if len(resp.TransferEncoding) > 0 && resp.Header.Get("Transfer-Encoding") == "" {
		// net/http moves it out of the headers; requests shows it.
		resp.Header["Transfer-Encoding"] = []string{strings.Join(resp.TransferEncoding, ", ")}
	}
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out.Headers = make([][2]string, 0, len(keys))
	for _, k := range keys {
		out.Headers = append(out.Headers, [2]string{k, strings.Join(resp.Header[k], ", ")})
	}
	return out
}

// incompleteRead is the error of a body that ended early, n bytes in, as
// urllib3 words it (requests raises it as ChunkedEncodingError, an OSError
// without errno): with how many more bytes were expected when
// contentLength is known (not -1). It is no ConnectionResetError: the
// response did arrive.
func incompleteRead(n int, contentLength int64) *gio.Error {
	if contentLength < 0 {
		return gio.Errorf(gio.ClassOS, "Connection broken: IncompleteRead(%d bytes read)", n)
	}
	return gio.Errorf(gio.ClassOS, "Connection broken: IncompleteRead(%d bytes read, %d more expected)",
		n, contentLength-int64(n))
}

// decode undoes a gzip or deflate Content-Encoding (as urllib3: deflate is
// zlib-wrapped, or raw if that fails); others are left as they are. It
// returns data itself or, having decoded it, releases it (Output.Release).
func decode(encoding string, data gio.Output) (gio.Output, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "gzip", "x-gzip":
		if data.Len() == 0 {
			return data, nil
		}
		defer data.Release()
		zr, err := gzip.NewReader(data.Reader())
		if err != nil {
			return gio.Output{}, err
		}
		return inflated(zr)
	case "deflate":
		if data.Len() == 0 {
			return data, nil
		}
		defer data.Release()
		if zr, err := zlib.NewReader(data.Reader()); err == nil {
			if out, err := inflated(zr); err == nil {
				return out, nil
			}
		}
		return inflated(flate.NewReader(data.Reader()))
	}
	return data, nil
}

// inflated reads a decompressing reader to its end: all of it, or an error
// and nothing.
func inflated(r io.Reader) (gio.Output, error) {
	var out gio.Output
	if _, err := out.ReadFrom(r); err != nil {
		out.Release()
		return gio.Output{}, err
	}
	return out, nil
}

// latin1Value is a header value as http.client sends a str, encoded as
// latin-1: each rune one byte, when every rune is below 256 (Python refuses
// a value with others before it reaches Go); s itself when it is ASCII, or
// holds a rune above 255 or bytes that are not UTF-8.
func latin1Value(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, i, len(s))
	copy(b, s[:i])
	for _, r := range s[i:] {
		if r > 0xff {
			return s // utf8.RuneError too
		}
		b = append(b, byte(r))
	}
	return string(b)
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Classify maps an error of a request to the Python exception it becomes.
func Classify(ctx context.Context, err error) *gio.Error {
	var ge *gio.Error
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var alert tls.AlertError
	var errno syscall.Errno
	var netErr net.Error
	var tooMany *tooManyRedirects
	switch {
	case errors.As(err, &ge):
		return ge
	case errors.As(err, &tooMany):
		return gio.Errorf(gio.ClassRedirect, "%s", tooMany.Error())
	case errors.Is(err, context.Canceled) && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded):
		return gio.Errorf(gio.ClassCanceled, "%v", ctx.Err())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return gio.Errorf(gio.ClassTimeout, "timed out: %v", unwrapURL(err))
	case errors.As(err, &dnsErr):
		code, msg := -3, "Temporary failure in name resolution" // EAI_AGAIN
		if dnsErr.IsNotFound {
			code, msg = -2, "Name or service not known" // EAI_NONAME
		}
		return &gio.Error{Class: gio.ClassGAI, Errno: code, Msg: msg}
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid),
		errors.As(err, &verifyErr):
		return gio.Errorf(gio.ClassSSLCert, "certificate verify failed: %v", unwrapURL(err))
	case errors.As(err, &recordErr), errors.As(err, &alert):
		return gio.Errorf(gio.ClassSSL, "%v", unwrapURL(err))
	case errors.As(err, &errno):
		return &gio.Error{Class: gio.ClassOS, Errno: int(errno), Msg: gio.OSError(errno, "").Msg}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF): // before a response: see incompleteRead
		return &gio.Error{Class: gio.ClassOS, Errno: int(syscall.ECONNRESET),
			Msg: "Remote end closed connection without response"}
	}
	var ue *url.Error
	if errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "unsupported protocol scheme") {
		return gio.Errorf(gio.ClassValue, "No connection adapters were found for %q", ue.URL)
	}
	return gio.Errorf(gio.ClassOS, "%v", unwrapURL(err))
}
