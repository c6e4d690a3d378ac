package httpc_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gofutures/gofutures/gofutures/httpc"
)

// Each case: what requests (2.32, urllib's getproxies and
// proxy_bypass_environment) picks for the URL with these settings.
func TestProxyFor(t *testing.T) {
	const p = "http://proxy:3128"
	for _, tc := range []struct {
		name string
		env  httpc.ProxyEnv
		url  string
		want string
	}{
		{"none", httpc.ProxyEnv{}, "http://example.com/", ""},
		{"http", httpc.ProxyEnv{HTTP: p}, "http://example.com/", p},
		{"http only: https goes direct", httpc.ProxyEnv{HTTP: p}, "https://example.com/", ""},
		{"https", httpc.ProxyEnv{HTTPS: p}, "https://example.com/", p},
		{"all", httpc.ProxyEnv{All: p}, "https://example.com/", p},
		{"the scheme's before all", httpc.ProxyEnv{HTTP: p, All: "http://other:1"}, "http://example.com/", p},
		{"no scheme: http:// prepended", httpc.ProxyEnv{HTTP: "10.0.0.1:3128"}, "http://example.com/", "http://10.0.0.1:3128"},
		{"socks kept", httpc.ProxyEnv{All: "socks5://proxy:1080"}, "http://example.com/", "socks5://proxy:1080"},
		{"loopback is proxied too", httpc.ProxyEnv{HTTP: p}, "http://127.0.0.1:8000/", p},
		{"localhost is proxied too", httpc.ProxyEnv{HTTP: p}, "http://localhost:8000/", p},
		// requests' no_proxy.
		{"no_proxy: the host", httpc.ProxyEnv{HTTP: p, NoProxy: "example.com"}, "http://example.com/", ""},
		{"no_proxy: a domain", httpc.ProxyEnv{HTTP: p, NoProxy: "example.com"}, "http://www.example.com/", ""},
		{"no_proxy: a leading dot", httpc.ProxyEnv{HTTP: p, NoProxy: ".example.com"}, "http://www.example.com/", ""},
		{"no_proxy: not a suffix of a name", httpc.ProxyEnv{HTTP: p, NoProxy: "ample.com"}, "http://example.com/", p},
		{"no_proxy: with the URL's port", httpc.ProxyEnv{HTTP: p, NoProxy: "example.com:8080"}, "http://example.com:8080/", ""},
		{"no_proxy: a port the URL does not give", httpc.ProxyEnv{HTTP: p, NoProxy: "example.com:80"}, "http://example.com/", p},
		{"no_proxy: spaces and empty entries", httpc.ProxyEnv{HTTP: p, NoProxy: " a.org , ,example.com"}, "http://example.com/", ""},
		{"no_proxy: an IPv4 address", httpc.ProxyEnv{HTTP: p, NoProxy: "10.1.2.3"}, "http://10.1.2.3:8080/", ""},
		{"no_proxy: an IPv4 address with a port", httpc.ProxyEnv{HTTP: p, NoProxy: "10.1.2.3:8080"}, "http://10.1.2.3:8080/", p},
		{"no_proxy: a CIDR network", httpc.ProxyEnv{HTTP: p, NoProxy: "10.0.0.0/8"}, "http://10.1.2.3/", ""},
		{"no_proxy: another network", httpc.ProxyEnv{HTTP: p, NoProxy: "192.168.0.0/16"}, "http://10.1.2.3/", p},
		{"no_proxy: a bad mask", httpc.ProxyEnv{HTTP: p, NoProxy: "10.0.0.0/33"}, "http://10.1.2.3/", p},
		{"no_proxy is case-sensitive in requests' check", httpc.ProxyEnv{HTTP: p, NoProxy: "EXAMPLE.com"}, "http://example.com/", p},
		// urllib's proxy_bypass_environment with getproxies()["no"].
		{"no: *", httpc.ProxyEnv{HTTP: p, No: "*"}, "http://example.com/", ""},
		{"no: case-insensitive", httpc.ProxyEnv{HTTP: p, No: "EXAMPLE.com"}, "http://www.example.com/", ""},
		{"no: a port in the entry never matches", httpc.ProxyEnv{HTTP: p, No: "example.com:80"}, "http://example.com/", p},
		{"no: IPv6 host", httpc.ProxyEnv{HTTP: p, No: "::1"}, "http://[::1]:8000/", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := httpc.ProxyFor(tc.env, tc.url)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	for _, proxy := range []string{"http://:3128", "proxy:3128", "localhost:3128", "/path"} {
		_, err := httpc.ProxyFor(httpc.ProxyEnv{HTTP: proxy}, "http://example.com/")
		require.Error(t, err, "%s: requests finds no host in it", proxy)
		assert.Contains(t, err.Error(), "could be missing the host")
	}
}
