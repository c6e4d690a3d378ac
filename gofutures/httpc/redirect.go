package httpc

import (
	"fmt"
	"net/http"
)

// tooManyRedirects is checkRedirect's error past a request's limit; Classify
// turns it into requests' TooManyRedirects, with requests' message.
type tooManyRedirects struct{ limit int }

func (e *tooManyRedirects) Error() string { return fmt.Sprintf("Exceeded %d redirects.", e.limit) }

// checkRedirect is the http.Client CheckRedirect of r. It makes each hop
// the one requests' Session.resolve_redirects sends: at most r.MaxRedirects
// of them (the next redirect response is a *tooManyRedirects error), the
// Location's query re-quoted.
func checkRedirect(r *Request) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if !r.FollowRedirects {
			return http.ErrUseLastResponse
		}
		if len(via) > r.MaxRedirects {
			return &tooManyRedirects{r.MaxRedirects}
		}
		req.URL.RawQuery = RequoteQuery(req.URL.RawQuery)
		return nil
	}
}
