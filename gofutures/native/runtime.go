package native

import (
	"runtime"

	"github.com/gofutures/gofutures/gofutures/pybridge"

	"github.com/gofutures/gofutures/gofutures/panics"
)

// Goroutines returns the number of live goroutines, for leak tests.
func Goroutines() (n int64, err error) {
	defer panics.Catch(&err)
	return int64(runtime.NumGoroutine()), nil
}

// DebugPanic panics inside an exported call with the given message: fault
// injection, so tests can check that the panic reaches Python as an
// exception with the Go stack and the interpreter survives.
func DebugPanic(message string) (ok bool, err error) {
	defer panics.Catch(&err)
	panic(message)
}

// InstallFastPath publishes the GIL-holding submit builtins on
// gofutures._native; called once when the extension is loaded.
func InstallFastPath() (ok bool, err error) {
	defer panics.Catch(&err)
	return true, pybridge.InstallFastPath()
}
