package httpc

import "net/url"

// ShouldStripAuth exposes shouldStripAuth to the table test of its rule.
var ShouldStripAuth = shouldStripAuth

// Latin1Value exposes latin1Value to its table test.
var Latin1Value = latin1Value

// ProxyFor exposes ProxyEnv.proxyFor to its table test: the proxy URL for
// rawURL ("" for none).
func ProxyFor(e ProxyEnv, rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	p, err := e.proxyFor(u)
	if p == nil {
		return "", err
	}
	return p.String(), err
}
