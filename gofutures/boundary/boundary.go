// Package boundary defines, once, every value that crosses the
// Python/C/Go boundary of gofutures: the kinds of failures, events, causes,
// start modes and errors, the names of the Python hooks C calls, and the
// record Python sends to create a process pool. Python reads them from
// Table when the extension loads (gofutures._native.contract); C passes
// them through without knowing their values, except that an error kind of
// 0 (ErrNone) means no error. tests/test_contract.py checks that every side
// agrees.
//
// The package is plain Go (no cgo), so that its mapping of errors is tested
// with go test.
package boundary

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/gofutures/gofutures/gofutures/gio"
	"github.com/gofutures/gofutures/gofutures/gotask"
	"github.com/gofutures/gofutures/gofutures/httpc"
	"github.com/gofutures/gofutures/gofutures/internal/taskstats"
	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/pool"
	"github.com/gofutures/gofutures/gofutures/procpool"
)

// FailKind says why a thread pool fails a task it will not run: the kind
// argument of gofutures.thread._fail_task.
type FailKind int

const (
	FailBroken FailKind = 1 // the pool broke (a worker's initializer failed)
	FailPanic  FailKind = 2 // a Go panic; the message holds its stack
)

// StartMode says how a process pool starts its workers: ProcPoolSpec.Start.
type StartMode int

const (
	// StartForkedZygote forks workers from a zygote that Python forked from
	// the program for this pool (the 'fork' start method); the pool owns it.
	StartForkedZygote StartMode = 0
	// StartFreshZygote forks workers from a zygote interpreter started fresh
	// (by the first pool that needs one, then shared) rather than forked from
	// the program ('forkserver').
	StartFreshZygote StartMode = 1
	// StartExec executes a fresh interpreter per worker ('spawn').
	StartExec StartMode = 2
)

// ErrKind says which Python exception an error from Go becomes. The C fast
// path raises it directly: Python hands C one exception factory per kind
// when the extension loads (fast_set_error_factories in pybridge/fastpath.c).
type ErrKind int

const (
	ErrNone              ErrKind = 0
	ErrOther             ErrKind = 1 // RuntimeError
	ErrShutdown          ErrKind = 2 // RuntimeError: submit after shutdown
	ErrInvalid           ErrKind = 3 // ValueError: bad argument
	ErrNoThread          ErrKind = 4 // RuntimeError, as threading.Thread.start
	ErrBrokenThreadPool  ErrKind = 5 // BrokenThreadPool
	ErrBrokenProcessPool ErrKind = 6 // BrokenProcessPool; the message is procpool.BrokenFacts (JSON)
	ErrPanic             ErrKind = 7 // gofutures.GoPanicError
)

// ErrInvalidArg is the sentinel of invalid arguments; errorKind maps it.
var ErrInvalidArg = errors.New("invalid argument")

// invalidf returns an error matching ErrInvalidArg with this message.
func Invalidf(format string, args ...any) error {
	return &kindError{ErrInvalidArg, fmt.Sprintf(format, args...)}
}

// kindError is an error of a sentinel with its own message.
type kindError struct {
	sentinel error
	msg      string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.sentinel }

// Kind maps an error to the Python exception it becomes and that
// exception's message: the one place where Go errors get their kinds.
func Kind(err error) (ErrKind, string) {
	var recovered *panics.Recovered
	var broken *procpool.BrokenError
	switch {
	case err == nil:
		return ErrNone, ""
	case errors.As(err, &recovered):
		return ErrPanic, err.Error()
	case errors.As(err, &broken):
		return ErrBrokenProcessPool, broken.Facts
	case errors.Is(err, pool.ErrShutdown), errors.Is(err, procpool.ErrShutdown), errors.Is(err, gotask.ErrShutdown):
		return ErrShutdown, err.Error()
	case errors.Is(err, pool.ErrBroken):
		return ErrBrokenThreadPool, err.Error()
	case errors.Is(err, pool.ErrNoThread):
		return ErrNoThread, pool.ErrNoThread.Error()
	case errors.Is(err, ErrInvalidArg):
		return ErrInvalid, err.Error()
	}
	return ErrOther, err.Error()
}

// ThreadHooks are the functions of a Python module that the C half of a
// thread pool's worker calls (pybridge/gf_bridge.c): Start(pool, index) ->
// bool, Run(task) -> taskstats.Outcome, Fail(task, FailKind, message),
// Stop(pool, last).
type ThreadHooks struct{ Module, Start, Run, Fail, Stop string }

// PumpHooks is the function of a Python module that a process pool's
// completion pump calls (pybridge/gf_pump.c): Deliver(pool, [(EventKind,
// task, payload)]) -> PumpClose or 0.
type PumpHooks struct{ Module, Deliver string }

// GoTaskHooks is the function of a Python module that the Go tasks'
// completion pump calls (pybridge/gf_gotask.c): Deliver([(task, gotask.Status,
// meta, body)]).
type GoTaskHooks struct{ Module, Deliver string }

// The hooks C calls; pybridge hands C these names when the extension loads.
var (
	Thread = ThreadHooks{"gofutures.thread", "_worker_start", "_run_task", "_fail_task", "_worker_stop"}
	Pump   = PumpHooks{"gofutures.process", "_deliver"}
	GoTask = GoTaskHooks{"gofutures._gotask", "_deliver"}
)

// PumpClose is what Pump.Deliver returns to have the pool closed: it has no
// work left after shutdown.
const PumpClose = 1

// tables is what Table returns: name -> value tables.
type tables struct {
	Fail       map[string]int      `json:"fail"`
	Event      map[string]int      `json:"event"`
	Cause      map[string]int      `json:"cause"`
	Start      map[string]int      `json:"start"`
	Error      map[string]int      `json:"error"`
	Outcome    map[string]int      `json:"outcome"`
	Op         map[string]int      `json:"op"`
	OpStatus   map[string]int      `json:"op_status"`
	OpError    map[string]int      `json:"op_error"`
	Hooks      map[string][]string `json:"hooks"`
	SpecFields []string            `json:"spec_fields"`
	PumpClose  int                 `json:"pump_close"`
	// What separates the fields of an HTTP response record
	// (httpc.Response.AppendRecord).
	HTTPRecordSep string `json:"http_record_sep"`
}

// Table returns, as JSON, every value Python shares with Go and C.
func Table() string {
	c := tables{
		Fail: map[string]int{"BROKEN": int(FailBroken), "PANIC": int(FailPanic)},
		Event: map[string]int{
			"RESULT": int(procpool.EventResult), "ERROR": int(procpool.EventError),
			"BROKEN": int(procpool.EventBroken), "TIMEOUT": int(procpool.EventTimeout),
			"TERMINATED": int(procpool.EventTerminated), "DIED": int(procpool.EventDied),
		},
		Cause: map[string]int{
			"FAILURE": int(procpool.CauseFailure), "DIED_STARTING": int(procpool.CauseDiedStarting),
			"DIED_INITIALIZING":  int(procpool.CauseDiedInitializing),
			"DIED_RUNNING":       int(procpool.CauseDiedRunning),
			"INITIALIZER_RAISED": int(procpool.CauseInitializerRaised),
		},
		Start: map[string]int{
			"FORKED_ZYGOTE": int(StartForkedZygote), "FRESH_ZYGOTE": int(StartFreshZygote),
			"EXEC": int(StartExec),
		},
		Error: map[string]int{
			"OTHER": int(ErrOther), "SHUTDOWN": int(ErrShutdown), "INVALID": int(ErrInvalid),
			"NO_THREAD": int(ErrNoThread), "BROKEN_THREAD_POOL": int(ErrBrokenThreadPool),
			"BROKEN_PROCESS_POOL": int(ErrBrokenProcessPool), "PANIC": int(ErrPanic),
		},
		// What the thread pool's run hook returns: how the task ended.
		Outcome: map[string]int{
			"COMPLETED": int(taskstats.Completed), "FAILED": int(taskstats.Failed),
			"CANCELLED": int(taskstats.Cancelled),
		},
		Op:       map[string]int{},
		OpStatus: map[string]int{},
		OpError:  map[string]int{},
		Hooks: map[string][]string{
			Thread.Module: {Thread.Start, Thread.Run, Thread.Fail, Thread.Stop},
			Pump.Module:   {Pump.Deliver},
			GoTask.Module: {GoTask.Deliver},
		},
		SpecFields:    jsonFields(reflectSpec),
		PumpClose:     PumpClose,
		HTTPRecordSep: string(httpc.RecordSep),
	}
	for name, k := range gotask.Kinds {
		c.Op[name] = int(k)
	}
	for name, st := range gotask.Statuses {
		c.OpStatus[name] = int(st)
	}
	// Error classes are strings in Go's records; the table lists them so
	// that Python can be checked to handle each (values: their order).
	for i, class := range gio.Classes {
		c.OpError[string(class)] = i
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // maps and ints only: cannot happen
	}
	return string(b)
}

// jsonFields returns the JSON names of a struct's fields.
func jsonFields(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

// reflectSpec is the type of the spec record.
var reflectSpec = reflect.TypeOf(ProcPoolSpec{})
