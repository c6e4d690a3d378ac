// Package taskstats keeps a pool's task counters and latency histogram:
// what ThreadPoolExecutor.stats() and ProcessPoolExecutor.stats() report.
//
// Every update is an atomic add on memory allocated with the pool (no lock,
// no allocation per task); a Snapshot reads them without stopping writers,
// so counters read during activity may be a task apart from each other.
//
// Latency is measured from a task's start to its end as the pool sees them
// (the thread pool: the worker begins the Python call, the call returns; the
// process pool: the task is handed to its worker's connection, the worker's
// result or error is read). Durations go into a log-linear histogram of
// fixed size: 8 buckets per power of two of nanoseconds, so a percentile is
// within 1/16 (6.25%) of a duration of its bucket.
package taskstats

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Outcome is how a task that a worker took ended.
type Outcome int

const (
	Completed Outcome = 1 // it returned
	Failed    Outcome = 2 // it raised (or could not run)
	Cancelled Outcome = 3 // its future was cancelled before it ran
)

// subBits: 2**subBits buckets per power of two.
const subBits = 3

// numBuckets covers every int64 duration in nanoseconds.
const numBuckets = (64 - subBits + 1) << subBits

// Histogram counts durations in log-linear buckets. Its zero value is
// ready; Record is safe for concurrent use and never allocates.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
}

// bucket returns the bucket of a duration of ns nanoseconds (ns >= 0).
func bucket(ns uint64) int {
	if ns < 1<<subBits {
		return int(ns)
	}
	e := bits.Len64(ns) - 1 // ns is in [2**e, 2**(e+1))
	sub := (ns >> (e - subBits)) & (1<<subBits - 1)
	return (e-subBits+1)<<subBits | int(sub)
}

// bounds returns the smallest duration of bucket i and the bucket's width.
func bounds(i int) (lower, width uint64) {
	if i < 1<<subBits {
		return uint64(i), 1
	}
	e := i>>subBits + subBits - 1
	sub := uint64(i & (1<<subBits - 1))
	return 1<<e | sub<<(e-subBits), 1 << (e - subBits)
}

// Record counts one duration; a negative one counts as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucket(uint64(d))].Add(1)
}

// Quantiles returns the durations at each quantile of qs (each in [0, 1]):
// the middle of the bucket that holds the ceil(q*n)-th smallest duration.
// ok is false when nothing was recorded.
func (h *Histogram) Quantiles(qs ...float64) (ds []time.Duration, ok bool) {
	var counts [numBuckets]uint64
	var total uint64
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return nil, false
	}
	ds = make([]time.Duration, len(qs))
	for j, q := range qs {
		rank := uint64(q * float64(total))
		if float64(rank) < q*float64(total) {
			rank++
		}
		rank = max(rank, 1)
		var seen uint64
		for i, c := range counts {
			seen += c
			if seen >= rank {
				lower, width := bounds(i)
				ds[j] = time.Duration(lower + width/2)
				break
			}
		}
	}
	return ds, true
}

// epoch makes Now monotonic (time.Since reads the monotonic clock).
var epoch = time.Now()

// Now is a task's start time for Done: monotonic nanoseconds.
func Now() int64 { return int64(time.Since(epoch)) }

// Counters are one pool's task counters. The zero value is ready.
type Counters struct {
	submitted atomic.Int64 // by submitters: a cache line of its own
	_         [56]byte
	running   atomic.Int64 // the rest, by workers
	completed atomic.Int64
	failed    atomic.Int64
	cancelled atomic.Int64
	restarts  atomic.Int64
	latency   Histogram
}

// Submitted counts n tasks accepted (negative: taken back before they ran).
func (c *Counters) Submitted(n int) { c.submitted.Add(int64(n)) }

// Cancelled counts n tasks the pool dropped, cancelled, before they ran.
func (c *Counters) Cancelled(n int) { c.cancelled.Add(int64(n)) }

// Failed counts n tasks that failed without running or ending (the pool
// broke, a panic in Go).
func (c *Counters) Failed(n int) { c.failed.Add(int64(n)) }

// Restarted counts a worker started to replace another.
func (c *Counters) Restarted() { c.restarts.Add(1) }

// Start counts a task as running and returns its start time for Done.
func (c *Counters) Start() int64 { return c.StartAt(Now()) }

// StartAt is Start for a task that starts at now (Now's value): a worker
// that runs tasks back to back starts the next one when Done ended the
// last (one clock read per task).
func (c *Counters) StartAt(now int64) int64 {
	c.running.Add(1)
	return now
}

// NotRun takes back the Start of a task that did not run after all (its
// worker failed to start; whoever fails the task counts it).
func (c *Counters) NotRun() { c.running.Add(-1) }

// Done ends a task that Start counted as running and returns the time it
// ended.
func (c *Counters) Done(o Outcome, start int64) (end int64) {
	c.running.Add(-1)
	return c.Finish(o, start)
}

// Finish counts a task's outcome and, unless it was cancelled, its latency
// since start (Now's value when it started), for pools that count running
// tasks themselves; it returns the time it ended.
func (c *Counters) Finish(o Outcome, start int64) (end int64) {
	end = Now()
	switch o {
	case Completed:
		c.completed.Add(1)
	case Cancelled:
		c.cancelled.Add(1)
		return end
	default:
		c.failed.Add(1)
	}
	c.latency.Record(time.Duration(end - start))
	return end
}

// Snapshot is what stats() returns (as JSON; the field names are the keys
// of its dict). P50 and P99 are seconds, nil until a task has finished.
type Snapshot struct {
	Submitted      int64    `json:"submitted"`
	Queued         int64    `json:"queued"`
	Running        int64    `json:"running"`
	Completed      int64    `json:"completed"`
	Failed         int64    `json:"failed"`
	Cancelled      int64    `json:"cancelled"`
	Workers        int64    `json:"workers"`
	WorkerRestarts int64    `json:"worker_restarts"`
	P50            *float64 `json:"p50"`
	P99            *float64 `json:"p99"`
}

// Snapshot reads the counters; the caller fills Queued and Workers (and
// Running, if it counts running tasks itself).
func (c *Counters) Snapshot() Snapshot {
	s := Snapshot{
		Submitted:      c.submitted.Load(),
		Running:        c.running.Load(),
		Completed:      c.completed.Load(),
		Failed:         c.failed.Load(),
		Cancelled:      c.cancelled.Load(),
		WorkerRestarts: c.restarts.Load(),
	}
	if ds, ok := c.latency.Quantiles(0.5, 0.99); ok {
		p50, p99 := ds[0].Seconds(), ds[1].Seconds()
		s.P50, s.P99 = &p50, &p99
	}
	return s
}
