package pybridge

/*
#include "gf_inherited.h"
*/
import "C"

import (
	"os"
	"os/signal"
	"syscall"
)

// init puts back what Go's runtime changed in the process when it started
// (see gf_inherited.c), so that loading gofutures leaves the program as the
// stdlib leaves it:
//
//   - the soft open-file limit. syscall.Setrlimit also tells Go's own exec
//     (gofutures.io.run, spawned workers) to let children inherit the limit
//     as it is, as subprocess does. A program that wants more connections
//     open than its soft limit raises it (resource.setrlimit), as with any
//     Python client;
//   - SIGPIPE and SIGXFSZ ignored, as Python set them. Go keeps them as its
//     own (SIGXFSZ by asking os/signal for it), so the children Go starts
//     get their default actions, as subprocess's restore_signals gives them;
//     a write to a closed pipe or past the file size limit fails with EPIPE
//     or EFBIG in Go and in Python alike. A SIGXFSZ the program set
//     otherwise (its default action, a handler) is left alone.
func init() {
	if C.gf_xfsz_was_ignored() != 0 {
		signal.Notify(make(chan os.Signal, 1), syscall.SIGXFSZ)
	}
	C.gf_reignore_signals()
	restoreFileLimit()
}

func restoreFileLimit() {
	var soft, hard C.ulonglong
	if C.gf_inherited_file_limit(&soft, &hard) == 0 {
		return
	}
	var now syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now) != nil {
		return
	}
	if now.Cur == uint64(soft) || now.Max != uint64(hard) {
		return // unchanged, or changed by someone other than Go
	}
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: uint64(soft), Max: uint64(hard)})
}
