package pybridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/pool"
	"github.com/gofutures/gofutures/gofutures/procpool"
)

// The values that cross the Python/C/Go boundary are defined here, once.
// Python reads them from Contract when the extension loads
// (gofutures._native.contract); C only passes them through, except where
// gf_bridge.h says otherwise. tests/test_contract.py checks every side.

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
// when the extension loads (gf_set_error_factories).
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

// errInvalid is the sentinel of invalid arguments; errorKind maps it.
var errInvalid = errors.New("invalid argument")

// invalidf returns an error matching errInvalid with this message.
func invalidf(format string, args ...any) error {
	return &kindError{errInvalid, fmt.Sprintf(format, args...)}
}

// kindError is an error of a sentinel with its own message.
type kindError struct {
	sentinel error
	msg      string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.sentinel }

// errorKind maps an error to the Python exception it becomes and that
// exception's message: the one place where Go errors get their kinds.
func errorKind(err error) (ErrKind, string) {
	var recovered *panics.Recovered
	var broken *procpool.BrokenError
	switch {
	case err == nil:
		return ErrNone, ""
	case errors.As(err, &recovered):
		return ErrPanic, err.Error()
	case errors.As(err, &broken):
		return ErrBrokenProcessPool, broken.Facts
	case errors.Is(err, pool.ErrShutdown), errors.Is(err, procpool.ErrShutdown):
		return ErrShutdown, err.Error()
	case errors.Is(err, pool.ErrBroken):
		return ErrBrokenThreadPool, err.Error()
	case errors.Is(err, pool.ErrNoThread):
		return ErrNoThread, pool.ErrNoThread.Error()
	case errors.Is(err, errInvalid):
		return ErrInvalid, err.Error()
	}
	return ErrOther, err.Error()
}

// Hooks are the functions of the Python side that C calls, by module; the
// thread pool's and the pump's (gf_bridge.c, gf_pump.c). Python hands them
// to C when the extension loads.
var Hooks = map[string][]string{
	"gofutures.thread":  {"_worker_start", "_run_task", "_fail_task", "_worker_stop"},
	"gofutures.process": {"_deliver"},
}

// contract is what Contract returns: name -> value tables.
type contract struct {
	Fail       map[string]int      `json:"fail"`
	Event      map[string]int      `json:"event"`
	Cause      map[string]int      `json:"cause"`
	Start      map[string]int      `json:"start"`
	Error      map[string]int      `json:"error"`
	Hooks      map[string][]string `json:"hooks"`
	SpecFields []string            `json:"spec_fields"`
	// PumpClose is what gofutures.process._deliver returns to have the pool
	// closed.
	PumpClose int `json:"pump_close"`
}

// Contract returns, as JSON, every value Python shares with Go and C.
func Contract() string {
	c := contract{
		Fail: map[string]int{"BROKEN": int(FailBroken), "PANIC": int(FailPanic)},
		Event: map[string]int{
			"RESULT": int(procpool.EventResult), "ERROR": int(procpool.EventError),
			"BROKEN": int(procpool.EventBroken),
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
		Hooks:      Hooks,
		SpecFields: jsonFields(reflectSpec),
		PumpClose:  pumpCloseRequested,
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
