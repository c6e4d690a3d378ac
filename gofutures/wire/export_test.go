package wire

// Test-only API, compiled into the tests only.

// Buffered returns the number of bytes read from the underlying reader but
// not yet returned as frames.
func (r *Reader) Buffered() int { return r.br.Buffered() }
