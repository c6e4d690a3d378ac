package httpc

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/gofutures/gofutures/gofutures/gio"
)

// ProxyEnv is the proxy configuration requests takes from the environment,
// read by Python for each request: Go's own copy of the environment is the
// one the process started with, and net/http's ProxyFromEnvironment reads
// even that only once. The zero value means no proxy.
type ProxyEnv struct {
	// urllib.request.getproxies() for the schemes a request can use:
	// lower-case variables win, an empty one removes the entry, HTTP_PROXY
	// is ignored in a CGI script.
	HTTP  string `json:"http,omitempty"`
	HTTPS string `json:"https,omitempty"`
	All   string `json:"all,omitempty"`
	No    string `json:"no,omitempty"` // getproxies()["no"], for urllib's proxy_bypass_environment
	// requests' own read of it: no_proxy, or NO_PROXY when that is empty.
	NoProxy string `json:"no_proxy,omitempty"`
}

type proxyEnvKey struct{}

// withProxyEnv is ctx carrying env for proxyFromContext: redirects keep
// the request's context, so each hop is decided afresh, as requests does.
func withProxyEnv(ctx context.Context, env *ProxyEnv) context.Context {
	if env == nil || *env == (ProxyEnv{}) {
		return ctx
	}
	return context.WithValue(ctx, proxyEnvKey{}, env)
}

// proxyFromContext is the Transport's Proxy: the request's ProxyEnv decides.
func proxyFromContext(req *http.Request) (*url.URL, error) {
	env, _ := req.Context().Value(proxyEnvKey{}).(*ProxyEnv)
	if env == nil {
		return nil, nil
	}
	return env.proxyFor(req.URL)
}

// proxyFor is the proxy requests uses for u (nil: none): unless the host is
// bypassed (should_bypass_proxies), the scheme's proxy or else all's
// (select_proxy), "http://" prepended when it names no scheme.
func (e *ProxyEnv) proxyFor(u *url.URL) (*url.URL, error) {
	host := strings.ToLower(u.Hostname())
	if host == "" || e.bypass(host, u.Port()) {
		return nil, nil
	}
	proxy := e.All
	switch u.Scheme {
	case "http":
		if e.HTTP != "" {
			proxy = e.HTTP
		}
	case "https":
		if e.HTTPS != "" {
			proxy = e.HTTPS
		}
	}
	if proxy == "" {
		return nil, nil
	}
	if !strings.Contains(proxy, "://") {
		if schemeFirst.MatchString(proxy) {
			// urllib3 reads "proxy:3128" as the scheme "proxy": no host.
			return nil, errMalformedProxy
		}
		proxy = "http://" + proxy
	}
	p, err := url.Parse(proxy)
	if err != nil || p.Hostname() == "" {
		return nil, errMalformedProxy
	}
	return p, nil
}

// schemeFirst is urllib3's test for a URL that starts with a scheme (or a
// path): requests prepends "http://" to a proxy URL only without one.
var schemeFirst = regexp.MustCompile(`^(?:[a-zA-Z][a-zA-Z0-9+-]*:|/)`)

// errMalformedProxy is requests' InvalidProxyURL.
var errMalformedProxy = gio.Errorf(gio.ClassValue, "Please check proxy URL. It is malformed and could be missing the host.")

// bypass is requests' should_bypass_proxies for a lower-case host name and
// the URL's port: its own no_proxy check, then urllib's.
func (e *ProxyEnv) bypass(host, port string) bool {
	if e.NoProxy != "" && inNoProxy(host, port, e.NoProxy) {
		return true
	}
	return e.No != "" && bypassedByEnvironment(host, e.No)
}

// inNoProxy is requests' check: for an IPv4 host, its address or a CIDR
// network that holds it; for a name, the name or a domain of it, with or
// without the URL's port.
func inNoProxy(host, port, noProxy string) bool {
	ipv4 := isIPv4(host)
	withPort := host
	if p, err := strconv.Atoi(port); err == nil && p != 0 {
		withPort += ":" + port
	}
	for _, entry := range strings.Split(strings.ReplaceAll(noProxy, " ", ""), ",") {
		if entry == "" {
			continue
		}
		if ipv4 {
			if network, ok := cidr(entry); ok {
				if network.Contains(net.ParseIP(host)) {
					return true
				}
			} else if host == entry {
				return true
			}
			continue
		}
		entry = strings.TrimLeft(entry, ".")
		if host == entry || withPort == entry {
			return true
		}
		if strings.HasSuffix(host, "."+entry) || strings.HasSuffix(withPort, "."+entry) {
			return true
		}
	}
	return false
}

// splitPort is urllib's _splitport: a trailing ":digits" off (an IPv6
// address loses its last group, as there).
var splitPort = regexp.MustCompile(`(?s)^(.*):([0-9]*)$`)

// bypassedByEnvironment is urllib's proxy_bypass_environment(host) with
// getproxies()["no"]: "*" bypasses every host; else a name or any domain of
// it, case-insensitively, leading dots ignored.
func bypassedByEnvironment(host, no string) bool {
	if no == "*" {
		return true
	}
	hostOnly := host
	if m := splitPort.FindStringSubmatch(host); m != nil {
		hostOnly = m[1]
	}
	for _, name := range strings.Split(no, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		name = strings.ToLower(strings.TrimLeft(name, "."))
		if hostOnly == name || host == name {
			return true
		}
		if strings.HasSuffix(hostOnly, "."+name) || strings.HasSuffix(host, "."+name) {
			return true
		}
	}
	return false
}

// isIPv4 is a dotted IPv4 address (requests asks inet_aton, which also
// takes shorter forms such as "127.1"; a URL's host rarely is one).
func isIPv4(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.To4() != nil && !strings.Contains(host, ":")
}

// cidr is requests' is_valid_cidr: an IPv4 address, "/", a mask of 1-32.
func cidr(entry string) (*net.IPNet, bool) {
	addr, bits, ok := strings.Cut(entry, "/")
	if !ok || strings.Contains(bits, "/") || !isIPv4(addr) {
		return nil, false
	}
	mask, err := strconv.Atoi(bits)
	if err != nil || mask < 1 || mask > 32 {
		return nil, false
	}
	ip := net.ParseIP(addr).To4()
	m := net.CIDRMask(mask, 32)
	return &net.IPNet{IP: ip.Mask(m), Mask: m}, true
}
