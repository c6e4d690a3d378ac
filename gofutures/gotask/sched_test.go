package gotask_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gofutures/gofutures/gofutures/gotask"
	"github.com/gofutures/gofutures/gofutures/httpc"
	"github.com/gofutures/gofutures/gofutures/internal/taskstats"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Sched's sink that delivers at once and records the order.
type recorder struct {
	mu      sync.Mutex
	done    []int64
	results map[int64]gotask.Result
	got     chan int64
}

func newRecorder() *recorder {
	return &recorder{results: map[int64]gotask.Result{}, got: make(chan int64, 1000)}
}

func (r *recorder) sink(c gotask.Completion) {
	r.mu.Lock()
	r.done = append(r.done, c.ID)
	r.results[c.ID] = c.Result
	r.mu.Unlock()
	go func() { // deliver later, as the pump does
		c.Sched.Delivered(c.ID)
		r.got <- c.ID
	}()
}

// holder is a Sched's sink that keeps completions undelivered until the
// test delivers them.
type holder struct {
	mu   sync.Mutex
	held []gotask.Completion
}

func (h *holder) sink(c gotask.Completion) {
	h.mu.Lock()
	h.held = append(h.held, c)
	h.mu.Unlock()
}

func (h *holder) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held)
}

func sleepTask(id int64, seconds float64) gotask.Task {
	meta, _ := json.Marshal(map[string]float64{"seconds": seconds})
	return gotask.Task{ID: id, Kind: gotask.KindSleep, Meta: meta}
}

// submitSleeps submits tasks 1..n, each a sleep of seconds.
func submitSleeps(t *testing.T, s *gotask.Sched, n int64, seconds float64) {
	t.Helper()
	for id := int64(1); id <= n; id++ {
		_, err := s.Submit(sleepTask(id, seconds))
		require.NoError(t, err)
	}
}

func TestSchedRunsAtMostMaxAtOnce(t *testing.T) {
	rec := newRecorder()
	s := gotask.NewSched(2, nil, rec.sink)
	var startedNow []bool
	for id := int64(1); id <= 5; id++ {
		seconds := 0.0
		if id <= 2 {
			seconds = 1 // long enough to look at the queue behind them
		}
		now, err := s.Submit(sleepTask(id, seconds))
		require.NoError(t, err)
		startedNow = append(startedNow, now)
	}
	assert.Equal(t, []bool{true, true, false, false, false}, startedNow)
	assert.Equal(t, 5, s.Pending())
	for _, tc := range []struct {
		name    string
		id      int64
		started bool
	}{
		{"running", 1, true},
		{"running too", 2, true},
		{"queued", 3, false},
		{"queued last", 5, false},
		{"unknown", 99, false},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.started, s.Started(tc.id)) })
	}
	assert.Empty(t, s.Shutdown(false))
	require.True(t, s.Wait(10*time.Second))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.ElementsMatch(t, []int64{1, 2, 3, 4, 5}, rec.done, "every queued task runs")
	for _, r := range rec.results {
		assert.Equal(t, gotask.StatusOK, r.Status)
	}
}

func TestSchedStartsInFIFOOrder(t *testing.T) {
	rec := newRecorder()
	s := gotask.NewSched(1, nil, rec.sink) // one runner: tasks finish in the order they start
	submitSleeps(t, s, 5, 0.01)
	assert.Empty(t, s.Shutdown(false))
	require.True(t, s.Wait(10*time.Second))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Equal(t, []int64{1, 2, 3, 4, 5}, rec.done, "queued tasks start in FIFO order")
}

func TestSchedStartedUntilDelivered(t *testing.T) {
	var h holder
	s := gotask.NewSched(1, nil, h.sink)
	_, err := s.Submit(sleepTask(1, 0))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return h.count() == 1 }, 10*time.Second, time.Millisecond)
	assert.True(t, s.Started(1), "finished, not yet delivered")
	s.Delivered(1)
	assert.False(t, s.Started(1), "delivered: forgotten")
	s.Shutdown(false)
	assert.True(t, s.Wait(time.Second))
}

func TestSchedCancelAndShutdown(t *testing.T) {
	rec := newRecorder()
	s := gotask.NewSched(1, nil, rec.sink)
	submitSleeps(t, s, 4, 0.1)
	for _, tc := range []struct {
		name string
		id   int64
		want bool
	}{
		{"running", 1, false},
		{"queued", 2, true},
		{"again", 2, true},
		{"unknown", 99, true},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, s.Cancel(tc.id)) })
	}
	assert.Equal(t, []int64{3, 4}, s.Shutdown(true))
	_, err := s.Submit(sleepTask(5, 0))
	assert.ErrorIs(t, err, gotask.ErrShutdown)
	require.True(t, s.Wait(10*time.Second))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Equal(t, []int64{1}, rec.done)
}

func TestSchedSkipsTasksCancelledInTheQueue(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cancel    []int64
		wantRun   []int64
		wantQueue int
	}{
		{"middle", []int64{3}, []int64{1, 2, 4, 5}, 3},
		{"oldest", []int64{2}, []int64{1, 3, 4, 5}, 3},
		{"newest", []int64{5}, []int64{1, 2, 3, 4}, 3},
		{"alternate", []int64{2, 4}, []int64{1, 3, 5}, 2},
		{"every queued", []int64{2, 3, 4, 5}, []int64{1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			s := gotask.NewSched(1, nil, rec.sink) // task 1 runs; 2-5 wait
			submitSleeps(t, s, 5, 0.05)
			for _, id := range tc.cancel {
				assert.True(t, s.Cancel(id))
			}
			assert.Equal(t, tc.wantQueue, s.Queued())
			assert.Equal(t, tc.wantQueue+1, s.Pending())
			assert.Empty(t, s.Shutdown(false))
			require.True(t, s.Wait(10*time.Second))
			rec.mu.Lock()
			defer rec.mu.Unlock()
			assert.Equal(t, tc.wantRun, rec.done, "the rest run in FIFO order")
		})
	}
}

func TestSchedShutdownReturnsOnlyTasksStillQueued(t *testing.T) {
	rec := newRecorder()
	s := gotask.NewSched(1, nil, rec.sink)
	submitSleeps(t, s, 6, 0.05)
	assert.True(t, s.Cancel(3))
	assert.True(t, s.Cancel(5))
	assert.Equal(t, []int64{2, 4, 6}, s.Shutdown(true))
	assert.Zero(t, s.Queued())
	require.True(t, s.Wait(10*time.Second))
}

func TestSchedCountsInItsPoolsCounters(t *testing.T) {
	counters := &taskstats.Counters{}
	rec := newRecorder()
	s := gotask.NewSched(1, counters, rec.sink)
	_, err := s.Submit(gotask.Task{ID: 1, Kind: gotask.KindSleep, Meta: []byte("{")}) // fails: a bad record
	require.NoError(t, err)
	require.Eventually(t, func() bool { return counters.Snapshot().Failed == 1 }, 10*time.Second, time.Millisecond)
	for _, task := range []gotask.Task{
		sleepTask(2, 0.5),
		sleepTask(3, 0), // cancelled below
		sleepTask(4, 0), // taken back by Shutdown(cancel)
	} {
		_, err := s.Submit(task)
		require.NoError(t, err)
	}
	require.True(t, s.Cancel(3))
	assert.Equal(t, []int64{4}, s.Shutdown(true), "task 2 still runs")
	require.True(t, s.Wait(10*time.Second))
	snap := counters.Snapshot()
	assert.Equal(t, taskstats.Snapshot{Submitted: 4, Completed: 1, Failed: 1, Cancelled: 2, P50: snap.P50, P99: snap.P99}, snap)
	require.NotNil(t, snap.P99)
	assert.GreaterOrEqual(t, *snap.P99, 0.5*0.9, "the sleep's run time (the histogram's resolution is 6.25%)")
	_, err = s.Submit(sleepTask(5, 0))
	require.ErrorIs(t, err, gotask.ErrShutdown)
	assert.Equal(t, int64(4), counters.Snapshot().Submitted, "a refused submit is not counted")
}

func TestSchedDoneWaitsForDelivery(t *testing.T) {
	var h holder
	s := gotask.NewSched(4, nil, h.sink)
	_, err := s.Submit(sleepTask(1, 0))
	require.NoError(t, err)
	s.Shutdown(false)
	assert.False(t, s.Wait(200*time.Millisecond), "done before its result was delivered")
	h.mu.Lock()
	require.Len(t, h.held, 1)
	h.held[0].Sched.Delivered(h.held[0].ID)
	h.mu.Unlock()
	assert.True(t, s.Wait(time.Second))
}

func TestSleepRecordReadsAsEncodingJSONDoes(t *testing.T) {
	for _, meta := range []string{
		`{"seconds":0.02}`, `{"seconds":-1.5}`, `{"seconds":1e-05}`, `{"seconds":0}`, // Python's form: read directly
		`{"seconds": 0.5}`, `{"seconds":0.1,"x":1}`, `{"x":1,"seconds":2}`, // other forms
		`{"seconds":Infinity}`, `{"seconds":-inf}`, `{"seconds":nan}`, `{"seconds":1e400}`, // not JSON numbers
		`{"seconds":.5}`, `{"seconds":+1}`, `{"seconds":}`, `{"seconds":0x10}`, `not json`,
	} {
		t.Run(meta, func(t *testing.T) {
			var want struct {
				Seconds float64 `json:"seconds"`
			}
			wantErr := json.Unmarshal([]byte(meta), &want)
			got, err := gotask.SleepSeconds([]byte(meta))
			if wantErr != nil {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, want.Seconds, got)
		})
	}
}

func TestHTTPRecordReadsAsEncodingJSONDoes(t *testing.T) {
	// Python's form: a cached prefix, then ,"url":<JSON string>}.
	prefix := `{"method":"GET","headers":[["User-Agent","gofutures"],["X-A","1, \"two\""]],"timeout":5.0,` +
		`"follow_redirects":true,"max_redirects":30,"verify":true,"ca_bundle":"","max_conns_host":0,"max_idle_host":0,"has_body":false`
	other := `{"method":"POST","headers":[],"timeout":0,"follow_redirects":false,"max_redirects":0,"verify":false,` +
		`"ca_bundle":"/ca.pem","max_conns_host":2,"max_idle_host":0,"has_body":true`
	var metas []string
	for _, url := range []string{
		`"http://127.0.0.1:8080/a?b=1&c=2"`, `"http://h/1"`, `"http://h/2"`, // plain: read directly
		`"http://h/\"q\""`, `"http://h/\u00e9"`, `"http://h/é"`, "\"http://h/\xff\"", `"http://h/\\"`, // escapes, non-ASCII, invalid UTF-8
		`""`, `"http://h/\t"`,
	} {
		metas = append(metas, prefix+`,"url":`+url+`}`, other+`,"url":`+url+`}`)
	}
	metas = append(metas,
		`{"url":"http://h/first","method":"GET"}`,                   // url not last
		prefix+`,"url":"http://h/x","has_body":true}`,               // a field after url
		prefix+`,"url":"http://h/x"`,                                // no closing brace
		prefix+`,"url":http://h/x}`,                                 // url not a string
		`{"method":"GET","url":"http://h/a","url":"http://h/b"}`,    // last url wins
		`{"method":"GET","headers":[["a","b"]],,"url":"http://h/"}`, // bad prefix
		`not json`, `{}`,
	)
	for _, meta := range metas {
		t.Run(meta, func(t *testing.T) {
			var want struct {
				httpc.Request
				HasBody bool `json:"has_body"`
			}
			wantErr := json.Unmarshal([]byte(meta), &want)
			for range 2 { // decoded, then from the cache
				got, err := gotask.DecodeHTTPRecordJSON([]byte(meta))
				if wantErr != nil {
					assert.Error(t, err)
					continue
				}
				require.NoError(t, err)
				wantJSON, err := json.Marshal(want)
				require.NoError(t, err)
				assert.JSONEq(t, string(wantJSON), string(got))
			}
		})
	}
}

func TestDoRecoversAndReportsErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kind  gotask.Kind
		meta  string
		class string
	}{
		{"bad record", gotask.KindSleep, "{", "value"},
		{"sleep past Duration", gotask.KindSleep, `{"seconds":1e10}`, "value"}, // not at once
		{"timeout past Duration", gotask.KindRun, `{"argv":["dHJ1ZQ=="],"timeout":1e10,"has_timeout":true}`, "value"},
		{"unknown kind", gotask.Kind(99), "{}", "value"},
		{"missing file", gotask.KindRead, `{"path":"L25vL3N1Y2g="}`, "os"},
		{"bad url", gotask.KindHTTP, `{"method":"GET","url":"http://[::1","verify":true}`, "value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := gotask.Do(t.Context(), tc.kind, []byte(tc.meta), nil)
			require.Equal(t, gotask.StatusError, r.Status)
			var rec map[string]any
			require.NoError(t, json.Unmarshal(r.Meta, &rec))
			assert.Equal(t, tc.class, rec["class"])
		})
	}
}

func TestDoRecoversAPanic(t *testing.T) {
	gotask.PanicNext()
	r := gotask.Do(t.Context(), gotask.KindSleep, []byte(`{"seconds":0}`), nil)
	require.Equal(t, gotask.StatusError, r.Status)
	var rec map[string]string
	require.NoError(t, json.Unmarshal(r.Meta, &rec))
	assert.Equal(t, "panic", rec["class"])
	assert.Contains(t, rec["msg"], "go panic: gotask: injected panic")
	assert.Contains(t, rec["msg"], "gotask.do(")
}
