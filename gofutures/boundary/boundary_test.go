package boundary_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gofutures/gofutures/gofutures/boundary"
	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/gofutures/gofutures/gofutures/pool"
	"github.com/gofutures/gofutures/gofutures/procpool"
)

func TestKind(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		kind boundary.ErrKind
		msg  string
	}{
		{"nil", nil, boundary.ErrNone, ""},
		{"thread pool shut down", pool.ErrShutdown, boundary.ErrShutdown, pool.ErrShutdown.Error()},
		{"process pool shut down", procpool.ErrShutdown, boundary.ErrShutdown, procpool.ErrShutdown.Error()},
		{"thread pool broken", fmt.Errorf("ctx: %w", pool.ErrBroken), boundary.ErrBrokenThreadPool, "ctx: " + pool.ErrBroken.Error()},
		{"process pool broken", fmt.Errorf("ctx: %w", &procpool.BrokenError{Facts: `{"cause":3}`}), boundary.ErrBrokenProcessPool, `{"cause":3}`},
		{"no thread", fmt.Errorf("ctx: %w", pool.ErrNoThread), boundary.ErrNoThread, pool.ErrNoThread.Error()},
		{"invalid", boundary.Invalidf("bad %d", 7), boundary.ErrInvalid, "bad 7"},
		{"panic", &panics.Recovered{Value: "boom"}, boundary.ErrPanic, "go panic: boom\n\n"},
		{"panic of an error", &panics.Recovered{Value: pool.ErrShutdown}, boundary.ErrPanic, "go panic: " + pool.ErrShutdown.Error() + "\n\n"},
		{"other", errors.New("other"), boundary.ErrOther, "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind, msg := boundary.Kind(tc.err)
			assert.Equal(t, tc.kind, kind)
			assert.Equal(t, tc.msg, msg)
		})
	}
}

func TestTableListsEveryValueOnce(t *testing.T) {
	var table map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(boundary.Table()), &table))
	for _, tc := range []struct {
		name string
		want int
	}{
		{"fail", 2}, {"event", 6}, {"cause", 5}, {"start", 3}, {"error", int(boundary.ErrPanic)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var values map[string]int
			require.NoError(t, json.Unmarshal(table[tc.name], &values))
			assert.Len(t, values, tc.want)
			seen := map[int]bool{}
			for name, v := range values {
				assert.False(t, seen[v], "%s repeats value %d", name, v)
				seen[v] = true
			}
		})
	}
}

func TestDecodeSpec(t *testing.T) {
	record := func(edit func(map[string]any)) []byte {
		fields := map[string]any{
			"workers": 2, "max_tasks_per_child": 0, "depth": 1, "start": boundary.StartExec,
			"zygote_pid": 0, "zygote_cmd_fd": -1, "zygote_rep_fd": -1,
			"zygote_argv": "", "worker_argv": "YQBi", // base64 of "a\x00b"
			"init_payload": "", "init_fds": []int{5},
			"task_timeout_ns": 0, "fail_task_on_death": false, "replaceable": false,
			"max_worker_memory": 1 << 30, "worker_env": []string{"S0VZPXZhbHVl"}, // base64 of "KEY=value"
		}
		edit(fields)
		b, err := json.Marshal(fields)
		require.NoError(t, err)
		return b
	}
	spec, err := boundary.DecodeSpec(record(func(map[string]any) {}))
	require.NoError(t, err)
	assert.Equal(t, 2, spec.Workers)
	assert.Equal(t, boundary.StartExec, spec.Start)
	assert.Equal(t, []string{"a", "b"}, boundary.Argv(spec.WorkerArgv))
	assert.Equal(t, []int{5}, spec.InitFds)
	assert.Equal(t, int64(1<<30), spec.MaxWorkerMemory)
	assert.Equal(t, []string{"KEY=value"}, spec.Env())

	for _, tc := range []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"missing", func(f map[string]any) { delete(f, "depth") }, `no field "depth"`},
		{"unknown", func(f map[string]any) { f["extra"] = 1 }, "17 fields, want 16"},
		{"wrong type", func(f map[string]any) { f["workers"] = "two" }, "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := boundary.DecodeSpec(record(tc.edit))
			assert.ErrorIs(t, err, boundary.ErrInvalidArg)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}
