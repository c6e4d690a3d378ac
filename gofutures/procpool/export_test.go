package procpool

import "sync/atomic"

// PanicOnceAt makes the next goroutine of the package that reaches site
// (see hook) panic, once; PanicOnceAt("") removes the hook.
func PanicOnceAt(site string) {
	if site == "" {
		panicHook.Store(nil)
		return
	}
	var fired atomic.Bool
	h := func(at string) {
		if at == site && fired.CompareAndSwap(false, true) {
			panic("injected panic at " + site)
		}
	}
	panicHook.Store(&h)
}
