package httpc

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
)

// tooManyRedirects is checkRedirect's error past a request's limit; Classify
// turns it into requests' TooManyRedirects, with requests' message.
type tooManyRedirects struct{ limit int }

func (e *tooManyRedirects) Error() string { return fmt.Sprintf("Exceeded %d redirects.", e.limit) }

// checkRedirect is the http.Client CheckRedirect of r. It makes each hop
// the one requests' Session.resolve_redirects sends:
//
//   - at most r.MaxRedirects of them (the next redirect response is a
//     *tooManyRedirects error);
//   - the Location's query re-quoted;
//   - Authorization dropped from the first hop shouldStripAuth says to and
//     from every later one (net/http copies it from the first request to
//     each hop, even to another port, another scheme or a subdomain);
//   - after a 301, the method kept unless it was POST (net/http turns every
//     method but GET and HEAD into GET);
//   - after a 301, 302 or 303, the body and Content-Type dropped, as
//     net/http drops them, but Content-Encoding, Content-Language and
//     Content-Location kept (bodyHeadersKept);
//   - a Referer only if the first request had one, that one (net/http adds
//     the previous hop's URL, fragment included);
//   - the previous hop's fragment if the Location has none (it is never
//     sent, but Response.url shows it);
//   - an empty body that a 307 or 308 keeps sent with "Content-Length: 0",
//     as the first request sent it (sendZeroLength).
func checkRedirect(r *Request) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if !r.FollowRedirects {
			return http.ErrUseLastResponse
		}
		if len(via) > r.MaxRedirects {
			return &tooManyRedirects{r.MaxRedirects}
		}
		prev := via[len(via)-1]
		if req.Response.StatusCode == http.StatusMovedPermanently && prev.Method != http.MethodPost {
			req.Method = prev.Method
		}
		for _, name := range bodyHeadersKept {
			copyHeader(req.Header, via[0].Header, name)
		}
		copyHeader(req.Header, via[0].Header, "Referer")
		if req.Body == http.NoBody {
			req.TransferEncoding = sendZeroLength
		}
		req.URL.RawQuery = RequoteQuery(req.URL.RawQuery)
		if req.URL.Fragment == "" {
			req.URL.Fragment, req.URL.RawFragment = prev.URL.Fragment, prev.URL.RawFragment
		}
		if (len(via) > 1 && !hasHeader(prev.Header, "Authorization")) || shouldStripAuth(prev.URL, req.URL) {
			delHeader(req.Header, "Authorization")
		}
		return nil
	}
}

// bodyHeadersKept are the headers of a request's body that net/http drops
// on a redirect that drops the body, and requests keeps.
var bodyHeadersKept = []string{"Content-Encoding", "Content-Language", "Content-Location"}

// defaultPorts are requests' DEFAULT_PORTS.
var defaultPorts = map[string]int{"http": 80, "https": 443}

// shouldStripAuth is requests' SessionRedirectMixin.should_strip_auth:
// whether a redirect from one URL to the next must drop Authorization. It
// must when the host name changes, or the port or the scheme, except from
// http to https with neither port given other than its scheme's default,
// and except when both ports are the scheme's default, given or not.
func shouldStripAuth(from, to *url.URL) bool {
	if !strings.EqualFold(from.Hostname(), to.Hostname()) {
		return true
	}
	fromPort, toPort := port(from), port(to)
	if from.Scheme == "http" && (fromPort < 0 || fromPort == 80) && to.Scheme == "https" && (toPort < 0 || toPort == 443) {
		return false
	}
	def, known := defaultPorts[from.Scheme]
	isDefault := func(p int) bool { return p < 0 || known && p == def }
	changedScheme := from.Scheme != to.Scheme
	if !changedScheme && isDefault(fromPort) && isDefault(toPort) {
		return false
	}
	return changedScheme || fromPort != toPort
}

// port is u's port as urllib's urlparse reads it: -1 when none is given.
func port(u *url.URL) int {
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		return -1
	}
	return p
}

// hasHeader reports whether h has name, in any spelling (Python passes
// header names as the user wrote them).
func hasHeader(h http.Header, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// delHeader deletes name from h, in every spelling.
func delHeader(h http.Header, name string) {
	for k := range h {
		if strings.EqualFold(k, name) {
			delete(h, k)
		}
	}
}

// copyHeader makes name's values in dst those in src, in their spellings.
func copyHeader(dst, src http.Header, name string) {
	delHeader(dst, name)
	for k, v := range src {
		if strings.EqualFold(k, name) {
			dst[k] = v
		}
	}
}

// redirectJar is the cookie jar of one request that follows redirects, as
// the Session requests makes for each call: a cookie a redirect response
// sets is sent on the next hops, as its domain and path allow, and is gone
// with the request. Its cookiejar.Jar (no public suffix list) is made at
// the first Set-Cookie, so a request that gets none costs one small
// allocation. The one http.Client that uses it calls it from one goroutine,
// so it takes no lock.
type redirectJar struct{ jar *cookiejar.Jar }

func (j *redirectJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	if j.jar == nil {
		j.jar, _ = cookiejar.New(nil) // never fails without options
	}
	j.jar.SetCookies(u, cookies)
}

func (j *redirectJar) Cookies(u *url.URL) []*http.Cookie {
	if j.jar == nil {
		return nil
	}
	return j.jar.Cookies(u)
}
