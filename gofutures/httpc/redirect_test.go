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
	resp, data, err := httpc.Do(t.Context(), &r, body)
	require.NoError(t, err)
	var e echoed
	require.NoError(t, json.Unmarshal(data, &e), string(data))
	return resp, e
}

func TestRedirectLimit(t *testing.T) {
	srv := httptest.NewServer(redirectHandler())
	defer srv.Close()
	defer httpc.CloseIdle()
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
