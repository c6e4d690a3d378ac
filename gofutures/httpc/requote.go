package httpc

import "strings"

// RequoteQuery writes a redirect's query as requests sends it: re-quoted
// (requote_uri: escapes of unreserved characters decoded, every byte
// outside the unreserved characters and !#$%&'()*+,/:;=?@[]~
// percent-encoded; if an escape's two characters are letters or digits but
// not hex, every "%" too), then as urllib3 writes a request's query (valid
// escapes upper-cased, "[" and "]" encoded, and every "%" when one starts
// no valid escape). net/http would send a Location's query as it came,
// space included: a request line the server rejects. O(len(q)); q itself
// when nothing changes.
func RequoteQuery(q string) string {
	if !needsRequote(q) {
		return q
	}
	decoded, ok := unquoteUnreserved(q)
	if !ok {
		return encodeQuery(quote(q, false))
	}
	return encodeQuery(quote(decoded, true))
}

// encodeQuery is urllib3's encoding of a query: "%" kept only if every one
// starts a valid escape (upper-cased), bytes outside its characters encoded.
func encodeQuery(q string) string {
	valid, percents := 0, 0
	for i := 0; i < len(q); i++ {
		if q[i] == '%' {
			percents++
			if i+2 < len(q) && isHex(q[i+1]) && isHex(q[i+2]) {
				valid++
			}
		}
	}
	keepPercent := valid == percents
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '%' && keepPercent:
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(q[i+1 : i+3]))
			i += 2
		case c != '%' && c != '[' && c != ']' && c != '#' && isSafe(c, false):
			b.WriteByte(c)
		default:
			writeEscape(&b, c)
		}
	}
	return b.String()
}

func needsRequote(q string) bool {
	for i := 0; i < len(q); i++ {
		if c := q[i]; c == '%' || c == '[' || c == ']' || !isSafe(c, false) {
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
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; isSafe(c, keepPercent) {
			b.WriteByte(c)
		} else {
			writeEscape(&b, c)
		}
	}
	return b.String()
}

func writeEscape(b *strings.Builder, c byte) {
	const hexDigits = "0123456789ABCDEF"
	b.WriteByte('%')
	b.WriteByte(hexDigits[c>>4])
	b.WriteByte(hexDigits[c&15])
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
