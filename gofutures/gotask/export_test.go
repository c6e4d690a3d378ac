package gotask

import "encoding/json"

// SleepSeconds exposes sleepSeconds to the tests.
var SleepSeconds = sleepSeconds

// DecodeHTTPRecordJSON decodes a KindHTTP record the way Do does and
// returns it re-encoded, for comparing with encoding/json's decoding.
func DecodeHTTPRecordJSON(meta []byte) ([]byte, error) {
	var rec httpRecord
	if err := rec.decode(meta); err != nil {
		return nil, err
	}
	return json.Marshal(rec)
}

// RunOutput exposes runOutput to the tests.
var RunOutput = runOutput

// PanicAfterIO makes the next operation panic once its I/O is done.
func PanicAfterIO() { panicAfterIO.Store(true) }
