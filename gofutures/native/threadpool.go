package native

import (
	"strconv"
	"strings"

	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/pybridge"
)

// ThreadPoolsWithGoTasks returns the ids of the thread pools whose Go tasks
// are not all delivered yet, space separated: interpreter exit waits for
// them, also for a pool whose Python workers are all gone.
func ThreadPoolsWithGoTasks() (ids string, err error) {
	defer panics.Catch(&err)
	var b strings.Builder
	for i, id := range pybridge.GoTaskPools() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String(), nil
}
