package native

import (
	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/pybridge"
)

// InstallFastPath publishes the GIL-holding submit builtins on
// gofutures._native; called once when the extension is loaded.
func InstallFastPath() (ok bool, err error) {
	defer panics.Catch(&err)
	return true, pybridge.InstallFastPath()
}
