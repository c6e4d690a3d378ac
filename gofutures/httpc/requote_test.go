package httpc_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/gofutures/gofutures/gofutures/httpc"
)

// Each want is what requests sends for the query of a Location: urllib3's
// _encode_invalid_chars(requote_uri(query), QUERY_CHARS).
func TestRequoteQuery(t *testing.T) {
	cases := []struct{ query, want string }{
		{"", ""},
		{"plain=1&x=y/z?w", "plain=1&x=y/z?w"},
		{"q=c d", "q=c%20d"},
		{"x=\xc3\xa9", "x=%C3%A9"},
		{"a=%41%7e", "a=A~"},
		{"a=%zz&b=%41", "a=%25zz&b=%2541"},
		{"a=%2", "a=%252"},
		{"e=%", "e=%25"},
		{`j={"a":1}`, "j=%7B%22a%22:1%7D"},
		{"ok=1&b=[x]", "ok=1&b=%5Bx%5D"},
		{"p=a|b^c`d<e>f\\g", "p=a%7Cb%5Ec%60d%3Ce%3Ef%5Cg"},
		{"t=%7E%2f%2F", "t=~%2F%2F"},
		{"tab=\t", "tab=%09"},
		{"m=%c3%a9", "m=%C3%A9"},
		{"%%41", "%25A"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			assert.Equal(t, c.want, httpc.RequoteQuery(c.query))
		})
	}
}
