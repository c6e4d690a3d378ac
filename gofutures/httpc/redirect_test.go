package httpc_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gofutures/gofutures/gofutures/gio"
	"github.com/gofutures/gofutures/gofutures/httpc"
)

// echoed is what redirectHandler's echo saw of a request.
type echoed struct {
	Method string
	URI    string
	Header http.Header
	Body   string
}

// redirectServers starts two redirectServers and returns them and the
// first one's URL with "localhost" for its host.
func redirectServers(t *testing.T) (a, b *httptest.Server, localhost string) {
	a, b = redirectServer(t), redirectServer(t)
	return a, b, strings.Replace(a.URL, "127.0.0.1", "localhost", 1)
}

// redirectServer starts a redirectHandler server, closed (with the idle
// connections to it) when the test ends.
func redirectServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(redirectHandler())
	t.Cleanup(func() {
		httpc.CloseIdle()
		srv.Close()
	})
	return srv
}

// redirectHandler answers /to/<status>?loc=<Location>[&cookie=<Set-Cookie>...]
// with that redirect, /hops/<n> with n redirects before the echo, and
// anything else with the echo: the request it got, as JSON.
func redirectHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		switch {
		case parts[0] == "to":
			code, _ := strconv.Atoi(parts[1])
			for _, c := range r.URL.Query()["cookie"] {
				w.Header().Add("Set-Cookie", c)
			}
			w.Header().Set("Location", r.URL.Query().Get("loc"))
			w.WriteHeader(code)
		case parts[0] == "hops" && parts[1] != "0":
			n, _ := strconv.Atoi(parts[1])
			http.Redirect(w, r, fmt.Sprintf("/hops/%d", n-1), http.StatusFound)
		default:
			json.NewEncoder(w).Encode(echoed{r.Method, r.RequestURI, r.Header, string(body)})
		}
	})
}

// to is the path of a redirect (status) to loc that sets cookies.
func to(status int, loc string, cookies ...string) string {
	return fmt.Sprintf("/to/%d?%s", status, url.Values{"loc": {loc}, "cookie": cookies}.Encode())
}

// do sends r (FollowRedirects, MaxRedirects 30) and returns what the echo saw.
func do(t *testing.T, r httpc.Request, body []byte) (httpc.Response, echoed) {
	t.Helper()
	r.FollowRedirects, r.MaxRedirects, r.Timeout = true, 30, 10
	resp, out, err := httpc.Do(t.Context(), &r, body)
	require.NoError(t, err)
	data := out.Bytes()
	var e echoed
	require.NoError(t, json.Unmarshal(data, &e), string(data))
	return resp, e
}

func TestRedirectLimit(t *testing.T) {
	srv := redirectServer(t)
	for _, limit := range []int{0, 3, 30} {
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			limited := func(r *httpc.Request) { r.MaxRedirects = limit }
			resp, _, err := get(t, fmt.Sprintf("%s/hops/%d", srv.URL, limit), limited)
			require.NoError(t, err)
			assert.Equal(t, 200, resp.Status)

			_, _, err = get(t, fmt.Sprintf("%s/hops/%d", srv.URL, limit+1), limited)
			var ge *gio.Error
			require.ErrorAs(t, err, &ge)
			assert.Equal(t, gio.ClassRedirect, ge.Class)
			assert.Equal(t, fmt.Sprintf("Exceeded %d redirects.", limit), ge.Msg, "requests' message")
		})
	}
}

// Each case is what requests' Session().should_strip_auth(from, to) returns.
func TestShouldStripAuth(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		strip    bool
	}{
		{"http://h/", "http://h/x", false},
		{"http://h/", "http://other/", true},
		{"http://h/", "http://H/", false},
		{"http://h/", "http://sub.h/", true},
		{"http://sub.h/", "http://h/", true},
		{"http://h/", "https://h/", false},
		{"http://h:80/", "https://h:443/", false},
		{"http://h/", "https://h:8443/", true},
		{"http://h:8080/", "https://h/", true},
		{"http://h:8080/", "https://h:8080/", true},
		{"https://h/", "http://h/", true},
		{"http://h/", "http://h:80/", false},
		{"https://h:443/", "https://h/", false},
		{"https://h/", "https://h:80/", true},
		{"http://h:8080/", "http://h:8081/", true},
		{"http://h:8080/", "http://h:8080/x", false},
		{"http://h/", "http://h:8080/", true},
		{"http://[::1]:8080/", "http://[::1]:8080/x", false},
		{"http://[::1]:8080/", "http://[::2]:8080/", true},
		{"http://h:443/", "https://h/", true},
		{"http://h:080/", "http://h/", false},
		{"http://u:p@h/", "http://h/", false},
		{"http://h/", "http://h.:80/", true},
	} {
		from, err := url.Parse(tc.from)
		require.NoError(t, err)
		to, err := url.Parse(tc.to)
		require.NoError(t, err)
		assert.Equal(t, tc.strip, httpc.ShouldStripAuth(from, to), "%s -> %s", tc.from, tc.to)
	}
}

func TestRedirectAuthorization(t *testing.T) {
	a, b, localhost := redirectServers(t)
	tls := httptest.NewTLSServer(redirectHandler())
	defer tls.Close()

	for _, tc := range []struct {
		name string
		url  string
		kept bool
	}{
		{"no redirect", a.URL + "/echo", true},
		{"same server", a.URL + to(302, "/echo"), true},
		{"other port", a.URL + to(302, b.URL+"/echo"), false},
		{"other host name", a.URL + to(302, localhost+"/echo"), false},
		{"http to https, other port", a.URL + to(302, tls.URL+"/echo"), false},
		{"https to http", tls.URL + to(302, a.URL+"/echo"), false},
		{"away and back", a.URL + to(302, b.URL+to(307, a.URL+"/echo")), false},
		{"two hops on one server", a.URL + to(301, to(308, "/echo")), true},
	} {
		for _, name := range []string{"Authorization", "authorization"} {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				r := httpc.Request{Method: "GET", URL: tc.url, Headers: [][2]string{{name, "Bearer secret"}}}
				_, e := do(t, r, nil)
				_, kept := e.Header["Authorization"] // canonical: Go's server's spelling
				assert.Equal(t, tc.kept, kept, "%v", e.Header)
			})
		}
	}
}

func TestRedirectMethodAndBody(t *testing.T) {
	srv := redirectServer(t)

	for _, tc := range []struct {
		method string
		path   string
		want   string // the method of the last hop
		body   bool   // whether the last hop has the body and its Content-Type
	}{
		{"POST", to(301, "/echo"), "GET", false},
		{"PUT", to(301, "/echo"), "PUT", false},
		{"PATCH", to(301, "/echo"), "PATCH", false},
		{"DELETE", to(301, "/echo"), "DELETE", false},
		{"GET", to(301, "/echo"), "GET", false},
		{"PUT", to(302, "/echo"), "GET", false},
		{"PUT", to(303, "/echo"), "GET", false},
		{"OPTIONS", to(303, "/echo"), "GET", false},
		{"PUT", to(307, "/echo"), "PUT", true},
		{"POST", to(308, "/echo"), "POST", true},
		{"PUT", to(301, to(307, "/echo")), "PUT", false},
	} {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			r := httpc.Request{Method: tc.method, URL: srv.URL + tc.path,
				Headers: [][2]string{{"Content-Type", "text/x"}, {"content-language", "en"}}}
			_, e := do(t, r, []byte("payload"))
			assert.Equal(t, tc.want, e.Method)
			if tc.body {
				assert.Equal(t, "payload", e.Body)
				assert.Equal(t, "text/x", e.Header.Get("Content-Type"))
			} else {
				assert.Empty(t, e.Body)
				assert.NotContains(t, e.Header, "Content-Type")
			}
			assert.Equal(t, "en", e.Header.Get("Content-Language"), "kept, as requests keeps it")
		})
	}
}

func TestRedirectReferer(t *testing.T) {
	a := httptest.NewServer(redirectHandler())
	defer a.Close()
	tls := httptest.NewTLSServer(redirectHandler())
	defer tls.Close()
	defer httpc.CloseIdle()

	for _, tc := range []struct {
		name    string
		url     string
		headers [][2]string
		want    []string // the Referer values the last hop has
	}{
		{"none", a.URL + to(302, "/echo") + "#f", nil, nil},
		{"none, two hops", a.URL + to(302, to(307, "/echo")), nil, nil},
		{"the user's", a.URL + to(302, "/echo"), [][2]string{{"Referer", "http://mine/"}}, []string{"http://mine/"}},
		{"the user's, lower case", a.URL + to(302, "/echo"), [][2]string{{"referer", "http://mine/"}}, []string{"http://mine/"}},
		{"the user's, https to http", tls.URL + to(302, a.URL+"/echo"), [][2]string{{"Referer", "http://mine/"}},
			[]string{"http://mine/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, e := do(t, httpc.Request{Method: "GET", URL: tc.url, Headers: tc.headers}, nil)
			assert.Equal(t, tc.want, e.Header["Referer"])
		})
	}
}

func TestRedirectFragment(t *testing.T) {
	a, b, _ := redirectServers(t)

	for _, tc := range []struct {
		name string
		url  string
		want string // Response.URL
	}{
		{"carried over", a.URL + to(302, "/echo") + "#frag", a.URL + "/echo#frag"},
		{"escaped", a.URL + to(302, "/echo") + "#a%20b", a.URL + "/echo#a%20b"},
		{"to another server", a.URL + to(302, b.URL+"/echo") + "#frag", b.URL + "/echo#frag"},
		{"replaced", a.URL + to(302, "/echo#new") + "#old", a.URL + "/echo#new"},
		{"carried over from a hop", a.URL + to(302, to(301, "/echo#hop")) + "#old", a.URL + "/echo#hop"},
		{"none", a.URL + to(302, "/echo"), a.URL + "/echo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, e := do(t, httpc.Request{Method: "GET", URL: tc.url}, nil)
			assert.Equal(t, tc.want, resp.URL)
			assert.Equal(t, "/echo", e.URI, "never sent")
		})
	}
}

func TestRedirectCookies(t *testing.T) {
	a, b, localhost := redirectServers(t)

	for _, tc := range []struct {
		name string
		path string
		want []string // the Cookie header of the last hop
	}{
		{"path /", to(302, "/echo", "a=1; Path=/"), []string{"a=1"}},
		{"two", to(302, "/echo", "a=1; Path=/", "b=2; Path=/"), []string{"a=1; b=2"}},
		{"default path", to(302, "/echo", "a=1"), nil},
		{"path matching", to(302, "/to/302?loc=/echo", "a=1"), nil},
		{"kept over hops", to(302, to(307, "/echo", "b=2; Path=/"), "a=1; Path=/"), []string{"a=1; b=2"}},
		{"expired", to(302, to(302, "/echo", "a=; Path=/; Max-Age=0"), "a=1; Path=/"), nil},
		{"to another server", to(302, b.URL+"/echo", "a=1; Path=/"), []string{"a=1"}},
		{"to another host name", to(302, localhost+"/echo", "a=1; Path=/"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, e := do(t, httpc.Request{Method: "GET", URL: a.URL + tc.path}, nil)
			assert.Equal(t, tc.want, e.Header["Cookie"])
		})
	}

	_, e := do(t, httpc.Request{Method: "GET", URL: a.URL + "/echo"}, nil)
	assert.Empty(t, e.Header["Cookie"], "a request's cookies end with it")
	_, e = do(t, httpc.Request{Method: "GET", URL: a.URL + to(302, "/echo", "a=1; Path=/"),
		Headers: [][2]string{{"cookie", "u=2"}}}, nil)
	assert.Equal(t, []string{"u=2; a=1"}, e.Header["Cookie"], "a user's cookie, whatever its spelling, and the jar's: one line")
	resp, _, err := get(t, a.URL+to(302, "/echo", "a=1; Path=/"), func(r *httpc.Request) { r.FollowRedirects = false })
	require.NoError(t, err)
	assert.Equal(t, 302, resp.Status)
	assert.Contains(t, resp.Headers, [2]string{"Set-Cookie", "a=1; Path=/"})
}

func TestEmptyBodyContentLength(t *testing.T) {
	srv := redirectServer(t)

	for _, tc := range []struct {
		method string
		path   string
		body   []byte
		want   []string // the Content-Length header of the last hop
	}{
		{"DELETE", "/echo", []byte{}, []string{"0"}},
		{"OPTIONS", "/echo", []byte{}, []string{"0"}},
		{"PROPFIND", "/echo", []byte{}, []string{"0"}},
		{"POST", "/echo", []byte{}, []string{"0"}},
		{"GET", "/echo", []byte{}, nil},
		{"DELETE", "/echo", nil, nil},
		{"DELETE", to(307, "/echo"), []byte{}, []string{"0"}},
		{"PROPFIND", to(308, to(307, "/echo")), []byte{}, []string{"0"}},
		{"DELETE", to(301, "/echo"), []byte{}, nil},
		{"PUT", to(301, "/echo"), []byte{}, []string{"0"}},
		{"POST", "/echo", []byte("x"), []string{"1"}},
	} {
		t.Run(fmt.Sprintf("%s%s/%q", tc.method, tc.path, tc.body), func(t *testing.T) {
			_, e := do(t, httpc.Request{Method: tc.method, URL: srv.URL + tc.path}, tc.body)
			assert.Equal(t, tc.method, e.Method)
			assert.Equal(t, tc.want, e.Header["Content-Length"])
		})
	}
}
