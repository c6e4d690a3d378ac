package pybridge

/*
#cgo CFLAGS: -fno-fast-math
int gf_install_fastpath(void);
void gf_set_thread_hooks(const char *module, const char *start, const char *run,
                         const char *fail, const char *stop);
void gf_set_pump_hook(const char *module, const char *deliver);
void gf_set_gotask_hook(const char *module, const char *deliver);
*/
import "C"

import (
	"errors"
	"sync"

	"github.com/gofutures/gofutures/gofutures/boundary"
	"github.com/gofutures/gofutures/gofutures/cthread"
)

// setHooks hands C the names of the Python hooks it calls (boundary.Thread,
// boundary.Pump, boundary.GoTask), once: the C strings live as long as the process.
var setHooks = sync.OnceFunc(func() {
	t, p := boundary.Thread, boundary.Pump
	C.gf_set_thread_hooks(C.CString(t.Module), C.CString(t.Start), C.CString(t.Run),
		C.CString(t.Fail), C.CString(t.Stop))
	C.gf_set_pump_hook(C.CString(p.Module), C.CString(p.Deliver))
	g := boundary.GoTask
	C.gf_set_gotask_hook(C.CString(g.Module), C.CString(g.Deliver))
})

// InstallFastPath publishes the submit builtins (fastpath.c) on
// gofutures._native, after reserving Go's threads (cthread.ReserveGoThreads). Call it
// once, after loading the extension, from a thread that may have released
// the GIL.
func InstallFastPath() error {
	cthread.ReserveGoThreads(reservedProcs() + cthread.SpareGoThreads)
	setHooks()
	if C.gf_install_fastpath() != 1 {
		return errors.New("could not install the gofutures fast path")
	}
	return nil
}
