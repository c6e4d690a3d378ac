// Package gotask runs gofutures' Go tasks: the calls of gofutures.io and
// gofutures.http, which do their waiting in Go. A task is an operation kind,
// a JSON record of its arguments and a body of bytes (what to send or
// write); its Result is a JSON record and a body (what was read). Do runs
// one; a Sched runs a thread pool's Go tasks on goroutines, at most that
// pool's max_workers at once, and hands each Completion to a sink (the
// completion pump, pybridge/gotask.go, which completes their futures in
// batches).
//
// The package knows nothing of Python; gofutures/_gotask.py is its other
// half (it writes the records and reads the results).
package gotask

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gofutures/gofutures/gofutures/gio"
	"github.com/gofutures/gofutures/gofutures/httpc"
	"github.com/gofutures/gofutures/gofutures/panics"
)

// Kind is an operation: gofutures._gotask names them through the boundary
// table ("op").
type Kind int

const (
	KindSleep Kind = 1 // record: {"seconds": float}
	KindRun   Kind = 2 // record: gio.RunSpec; body: the input
	KindRead  Kind = 3 // record: {"path": str}; body: none, or room to read into first (gio.ReadFileInto)
	KindWrite Kind = 4 // record: {"path": str}; body: the data
	KindHTTP  Kind = 5 // record: httpc.Request; body: the request body (null record field "has_body")
)

// Kinds names every Kind, for the boundary table.
var Kinds = map[string]Kind{"SLEEP": KindSleep, "RUN": KindRun, "READ": KindRead, "WRITE": KindWrite, "HTTP": KindHTTP}

// Status says what a Result holds.
type Status int

const (
	StatusOK    Status = 0 // Meta is the kind's result record, Body its data
	StatusError Status = 1 // Meta is a gio.Error; Body is data that goes with it (a timed-out run's output)
	// StatusNotRegular: a file read or write run with a gio.RegularOnly
	// context found no regular file and did nothing (never seen by Python).
	StatusNotRegular Status = 2
)

// Statuses names every Status, for the boundary table.
var Statuses = map[string]Status{"OK": StatusOK, "ERROR": StatusError}

// Result is what a task produced. Its body is Body or, when Pieces is set
// (a run's output), the pieces end to end: never joined in Go, each is
// copied straight into the bytes object Python gets. Split > 0 makes that
// two bytes objects, of Pieces[:Split] and Pieces[Split:] (a run's stdout
// and stderr, when both hold bytes).
//
// Large bodies live outside Go's heap (gio.Mapped): whoever is done with a
// Result last (it copied the body into Python's bytes, or dropped it)
// calls Release, and its Body and Pieces are invalid after.
type Result struct {
	Status Status
	Meta   []byte
	Body   []byte
	Pieces [][]byte
	Split  int
	Mapped gio.Mapped
}

// Release frees the memory of r's body that lives outside Go's heap.
func (r Result) Release() { r.Mapped.Release() }

// Bodies is the body as Python gets it, as pieces: one bytes object
// (second is nil), or two when Split > 0.
func (r Result) Bodies() (first, second [][]byte) {
	switch {
	case r.Pieces == nil:
		return [][]byte{r.Body}, nil
	case r.Split > 0:
		return r.Pieces[:r.Split], r.Pieces[r.Split:]
	}
	return r.Pieces, nil
}

// BodyLen is the body's length in bytes.
func (r Result) BodyLen() int { return len(r.Body) + PiecesLen(r.Pieces) }

// PiecesLen is the length in bytes of pieces end to end.
func PiecesLen(pieces [][]byte) int {
	n := 0
	for _, p := range pieces {
		n += len(p)
	}
	return n
}

// BodyBytes is the whole body in one slice (joined: a copy, when in
// pieces), for tests and callers in Go.
func (r Result) BodyBytes() []byte {
	if r.Pieces == nil {
		return r.Body
	}
	return bytes.Join(r.Pieces, nil)
}

type sleepRecord struct {
	Seconds float64 `json:"seconds"`
}

type pathRecord struct {
	Path []byte `json:"path"` // file system bytes (base64)
}

type httpRecord struct {
	httpc.Request
	HasBody bool `json:"has_body"`
}

// RunRecord is a finished subprocess (KindRun's result record); the body is
// its stdout followed by its stderr (runOutput).
type RunRecord struct {
	Code      int `json:"code"`
	StdoutLen int `json:"stdout_len"`
}

// panicNext is fault injection (PanicNext): the next operation panics.
var panicNext atomic.Bool

// PanicNext makes the next operation Do runs panic inside Go, so that tests
// can check that the panic reaches Python as GoPanicError with its stack.
func PanicNext() { panicNext.Store(true) }

// panicAfterIO is fault injection for the tests (export_test.go): the next
// operation panics once its I/O is done, holding what it read.
var panicAfterIO atomic.Bool

// ioDone is where an operation's I/O is done (fault injection: panicAfterIO).
func ioDone() {
	if panicAfterIO.CompareAndSwap(true, false) {
		panic("gotask: injected panic after the I/O (panicAfterIO)")
	}
}

// Do runs one operation. A panic is recovered into a StatusError result of
// class panic carrying the Go stack; Do itself never panics.
func Do(ctx context.Context, kind Kind, meta, body []byte) (res Result) {
	if r := panics.Try(func() { res = do(ctx, kind, meta, body) }); r != nil {
		res = fail(&gio.Error{Class: gio.ClassPanic, Msg: r.Error()}, nil)
	}
	return res
}

// do runs the operation of kind, one function per kind.
func do(ctx context.Context, kind Kind, meta, body []byte) Result {
	if panicNext.CompareAndSwap(true, false) {
		panic("gotask: injected panic (PanicNext)")
	}
	switch kind {
	case KindSleep:
		return doSleep(ctx, meta)
	case KindRun:
		return doRun(ctx, meta, body)
	case KindRead:
		return doRead(ctx, meta, body)
	case KindWrite:
		return doWrite(ctx, meta, body)
	case KindHTTP:
		return doHTTP(ctx, meta, body)
	}
	return fail(gio.Errorf(gio.ClassValue, "unknown Go task kind %d", kind), nil)
}

func doSleep(ctx context.Context, meta []byte) Result {
	seconds, err := sleepSeconds(meta)
	if err != nil {
		return badRecord(err)
	}
	d, ok := gio.Seconds(seconds)
	if !ok {
		return fail(gio.Errorf(gio.ClassValue, "sleep length out of range: %v", seconds), nil)
	}
	return done(struct{}{}, nil, gio.Sleep(ctx, d))
}

func doRun(ctx context.Context, meta, body []byte) Result {
	var spec gio.RunSpec
	if err := json.Unmarshal(meta, &spec); err != nil {
		return badRecord(err)
	}
	r, err := gio.Run(ctx, spec, body)
	defer gio.ReleaseOnPanic(&r.Stdout, &r.Stderr)
	ioDone()
	rec := RunRecord{Code: r.Code, StdoutLen: r.Stdout.Len()}
	var res Result
	if ge, ok := err.(*gio.Error); ok && ge.Class == gio.ClassExpired {
		res = fail(&expired{*ge, rec, r.StdoutEnded, r.StderrEnded, r.PipesEnded, r.Remaining.Seconds()}, nil)
	} else if res = done(rec, nil, err); res.Status != StatusOK {
		r.Stdout.Release()
		r.Stderr.Release()
		return res
	}
	res.Pieces, res.Split = runOutput(r)
	res.Mapped = append(r.Stdout.Mapped(), r.Stderr.Mapped()...)
	return res
}

func doRead(ctx context.Context, meta, into []byte) Result {
	var rec pathRecord
	if err := json.Unmarshal(meta, &rec); err != nil {
		return badRecord(err)
	}
	data, err := gio.ReadFileInto(ctx, string(rec.Path), into)
	defer gio.ReleaseOnPanic(&data)
	ioDone()
	if errors.Is(err, gio.ErrNotRegular) {
		return Result{Status: StatusNotRegular}
	}
	return withBody(done(struct{}{}, nil, err), data)
}

func doWrite(ctx context.Context, meta, body []byte) Result {
	var rec pathRecord
	if err := json.Unmarshal(meta, &rec); err != nil {
		return badRecord(err)
	}
	err := gio.WriteFile(ctx, string(rec.Path), body)
	if errors.Is(err, gio.ErrNotRegular) {
		return Result{Status: StatusNotRegular}
	}
	return done(struct {
		N int `json:"n"`
	}{len(body)}, nil, err)
}

func doHTTP(ctx context.Context, meta, body []byte) Result {
	var rec httpRecord
	if err := rec.decode(meta); err != nil {
		return badRecord(err)
	}
	if !rec.HasBody {
		body = nil
	} else if body == nil {
		body = []byte{}
	}
	resp, data, err := httpc.Do(ctx, &rec.Request, body)
	defer gio.ReleaseOnPanic(&data)
	ioDone()
	return httpResult(resp, data, err)
}

// httpResult is a request's Result: the response as a compact record when
// it can be one, else as JSON (an error, or a field holding
// httpc.RecordSep).
func httpResult(resp httpc.Response, data gio.Output, err error) Result {
	if err == nil {
		if meta, ok := resp.AppendRecord(make([]byte, 0, resp.RecordSize())); ok {
			return withBody(Result{Status: StatusOK, Meta: meta}, data)
		}
		resp.Latin1Text() // read as the compact record would be
	}
	return withBody(done(resp, nil, err), data)
}

// withBody is res with data as its body, if res is not an error: in Body
// when it is one piece (most responses: nothing more to allocate or pin),
// else in Pieces. res takes data over (its memory outside Go's heap).
func withBody(res Result, data gio.Output) Result {
	if res.Status != StatusOK {
		data.Release()
		return res
	}
	if pieces := data.Pieces(); len(pieces) > 1 {
		res.Pieces = pieces
	} else {
		res.Body = data.Bytes()
	}
	res.Mapped = data.Mapped()
	return res
}

// runOutput is a run's body (Result.Pieces, Split): its stdout's pieces then
// its stderr's, split between them when both hold bytes (Python gets two
// bytes objects), one body when either is empty (Python gets one, and
// RunRecord.StdoutLen says whose). Nothing is copied.
func runOutput(r gio.RunResult) (pieces [][]byte, split int) {
	out, errs := r.Stdout.Pieces(), r.Stderr.Pieces()
	switch {
	case errs == nil:
		return nonNil(out), 0
	case out == nil:
		return errs, 0
	}
	return append(out[:len(out):len(out)], errs...), len(out)
}

// nonNil is pieces, or no pieces (not nil: a Result with nil Pieces has
// its body in Body).
func nonNil(pieces [][]byte) [][]byte {
	if pieces == nil {
		return [][]byte{}
	}
	return pieces
}

// expired is a timed-out run's error record: the error, the output so far,
// which of its pipes had reached their end, and whether all had, with how
// much of the timeout was left then (gio.RunResult).
type expired struct {
	gio.Error
	RunRecord
	StdoutEnded bool    `json:"stdout_ended"`
	StderrEnded bool    `json:"stderr_ended"`
	PipesEnded  bool    `json:"pipes_ended"`
	Remaining   float64 `json:"remaining"` // seconds, with PipesEnded
}

// httpRecords caches decoded HTTP records by everything before their URL.
// Python writes a record as a prefix it caches per client setting followed
// by ,"url":<the URL, a JSON string>} (gofutures/http.py, _record_prefix),
// so a program's requests share a few prefixes; encoding/json on each whole
// record was about 13% of a request's Go CPU. At most httpRecordsKept
// prefixes are kept (all are dropped when full, as Python's cache does).
var httpRecords = struct {
	sync.Mutex
	m map[string]httpRecord
}{m: map[string]httpRecord{}}

const httpRecordsKept = 256

// decode reads a KindHTTP record into rec (a zero httpRecord) as
// encoding/json would: the part before the URL from the cache (decoded
// once), the URL itself directly when it is a plain ASCII JSON string. Any
// other form goes through encoding/json whole.
func (rec *httpRecord) decode(meta []byte) error {
	const urlKey = `,"url":`
	i := bytes.LastIndex(meta, []byte(urlKey))
	if i < 0 || meta[len(meta)-1] != '}' {
		return json.Unmarshal(meta, rec)
	}
	url, ok := plainJSONString(meta[i+len(urlKey) : len(meta)-1])
	if !ok {
		return json.Unmarshal(meta, rec)
	}
	prefix := meta[:i]
	httpRecords.Lock()
	cached, found := httpRecords.m[string(prefix)]
	httpRecords.Unlock()
	if !found {
		var fresh httpRecord
		if json.Unmarshal(append(slices.Clip(prefix), '}'), &fresh) != nil {
			return json.Unmarshal(meta, rec) // the whole record decides the error
		}
		httpRecords.Lock()
		if len(httpRecords.m) >= httpRecordsKept {
			clear(httpRecords.m)
		}
		httpRecords.m[string(prefix)] = fresh
		httpRecords.Unlock()
		cached = fresh
	}
	*rec = cached // Headers is shared: httpc.Do only reads it
	rec.URL = url
	return nil
}

// plainJSONString returns the value of b, a JSON string, when it needs no
// decoding: quoted, printable ASCII, no escapes.
func plainJSONString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	for _, c := range b[1 : len(b)-1] {
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return "", false
		}
	}
	return string(b[1 : len(b)-1]), true
}

// sleepSeconds reads a KindSleep record. Python writes {"seconds":<a
// float's repr>}, which is read here directly (encoding/json took half of a
// sleep task's own Go time); any other form, and a value JSON cannot hold,
// go through encoding/json, which decides.
func sleepSeconds(meta []byte) (float64, error) {
	if s, ok := bytes.CutPrefix(meta, []byte(`{"seconds":`)); ok {
		if s, ok = bytes.CutSuffix(s, []byte("}")); ok && len(s) > 0 && (s[0] == '-' || '0' <= s[0] && s[0] <= '9') {
			if v, err := strconv.ParseFloat(string(s), 64); err == nil && !math.IsInf(v, 0) {
				return v, nil
			}
		}
	}
	var rec sleepRecord
	err := json.Unmarshal(meta, &rec)
	return rec.Seconds, err
}

func badRecord(err error) Result {
	return fail(gio.Errorf(gio.ClassValue, "bad Go task record: %v", err), nil)
}

func done(rec any, body []byte, err error) Result {
	if err != nil {
		ge, ok := err.(*gio.Error)
		if !ok {
			ge = gio.Errorf(gio.ClassRuntime, "%v", err)
		}
		return fail(ge, nil)
	}
	if rec == any(struct{}{}) {
		return Result{Status: StatusOK, Meta: []byte{'{', '}'}, Body: body} // json.Marshal's output, without its cost
	}
	meta, jerr := json.Marshal(rec)
	if jerr != nil {
		return fail(gio.Errorf(gio.ClassRuntime, "%v", jerr), nil)
	}
	return Result{Status: StatusOK, Meta: meta, Body: body}
}

func fail(rec any, body []byte) Result {
	meta, err := json.Marshal(rec)
	if err != nil {
		meta = []byte(`{"class":"runtime","msg":"unencodable error"}`)
	}
	return Result{Status: StatusError, Meta: meta, Body: body}
}
