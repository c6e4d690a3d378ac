package httpc

import "strings"

// RequoteQuery writes a redirect's query as requests does (requote_uri):
// escapes of unreserved characters are decoded, and every byte outside the
// unreserved characters and !#$%&'()*+,/:;=?@[]~ is percent-encoded (a
// space, a raw UTF-8 byte). If an escape's two characters are letters or
// digits but not hex, every "%" is encoded too. net/http would send a
// Location's query as it came, space included: a request line the server
// rejects. O(len(q)); q itself when nothing changes.
func RequoteQuery(q string) string {
	if !needsRequote(q) {
		return q
	}
	decoded, ok := unquoteUnreserved(q)
	if !ok {
		return quote(q, false)
	}
	return quote(decoded, true)
}

func needsRequote(q string) bool {
	for i := 0; i < len(q); i++ {
		if q[i] == '%' || !isSafe(q[i], true) {
			return true
		}
	}
	return false
}

// unquoteUnreserved decodes %XX where XX is hex and names an unreserved
// character; ok is false for a %XX whose XX are alphanumeric but not hex.
func unquoteUnreserved(q string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] != '%' || i+2 >= len(q) {
			b.WriteByte(q[i])
			continue
		}
		h1, h2 := q[i+1], q[i+2]
		if !isAlnum(h1) || !isAlnum(h2) {
			b.WriteByte('%')
			continue
		}
		if !isHex(h1) || !isHex(h2) {
			return "", false
		}
		if c := unhex(h1)<<4 | unhex(h2); isUnreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteString(q[i : i+3])
		}
		i += 2
	}
	return b.String(), true
}

func quote(s string, keepPercent bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; isSafe(c, keepPercent) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

func isSafe(c byte, percent bool) bool {
	return isUnreserved(c) || strings.IndexByte("!#$&'()*+,/:;=?@[]~", c) >= 0 || (percent && c == '%')
}

func isUnreserved(c byte) bool { return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' }

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
