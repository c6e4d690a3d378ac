package pybridge

/*
#cgo CFLAGS: -fno-fast-math
int gf_install_fastpath(void);
*/
import "C"

import (
	"errors"
	"runtime"

	"github.com/gofutures/gofutures/gofutures/cthread"
)

// InstallFastPath publishes the submit builtins (fastpath.c) on
// gofutures._native, after reserving Go's threads (cthread.ReserveGoThreads). Call it
// once, after loading the extension, from a thread that may have released
// the GIL.
func InstallFastPath() error {
	cthread.ReserveGoThreads(runtime.GOMAXPROCS(0) + cthread.SpareGoThreads)
	if C.gf_install_fastpath() != 1 {
		return errors.New("could not install the gofutures fast path")
	}
	return nil
}
