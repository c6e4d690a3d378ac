package native

import (
	"encoding/json"

	"github.com/gofutures/gofutures/gofutures/internal/taskstats"
	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/pybridge"
)

// ThreadPoolStats returns thread pool id's stats (taskstats.Snapshot) as
// JSON, or "" once they were released.
func ThreadPoolStats(id int64) (stats string, err error) {
	defer panics.Catch(&err)
	return statsJSON(pybridge.ThreadPoolStats(id))
}

// ProcPoolStats returns process pool id's stats (taskstats.Snapshot) as
// JSON, or "" once they were released.
func ProcPoolStats(id int64) (stats string, err error) {
	defer panics.Catch(&err)
	return statsJSON(pybridge.ProcPoolStats(id))
}

// ThreadPoolStatsRelease forgets thread pool id's stats (its executor is gone).
func ThreadPoolStatsRelease(id int64) (ok bool, err error) {
	defer panics.Catch(&err)
	pybridge.ReleaseThreadPoolStats(id)
	return true, nil
}

// ProcPoolStatsRelease forgets process pool id's stats (its executor is gone).
func ProcPoolStatsRelease(id int64) (ok bool, err error) {
	defer panics.Catch(&err)
	pybridge.ReleaseProcPoolStats(id)
	return true, nil
}

func statsJSON(s taskstats.Snapshot, ok bool) (string, error) {
	if !ok {
		return "", nil
	}
	b, err := json.Marshal(s)
	return string(b), err
}
