package boundary

import (
	"encoding/json"
	"strings"
)

// ProcPoolSpec is what Python asks for when it creates a process pool: one
// JSON record (fast_proc_new), field names as tagged here. Python learns the
// names from Table; DecodeSpec refuses a record with a field missing or
// unknown.
type ProcPoolSpec struct {
	Workers          int       `json:"workers"`
	MaxTasksPerChild int       `json:"max_tasks_per_child"` // 0: no limit
	Depth            int       `json:"depth"`
	Start            StartMode `json:"start"`
	// StartForkedZygote: the zygote to adopt (pid, command and reply fds).
	ZygotePid   int `json:"zygote_pid"`
	ZygoteCmdFd int `json:"zygote_cmd_fd"`
	ZygoteRepFd int `json:"zygote_rep_fd"`
	// Commands that start a zygote / a worker: arguments joined by NUL bytes
	// (base64 in JSON: they are file system bytes, not text).
	ZygoteArgv  []byte `json:"zygote_argv"`
	WorkerArgv  []byte `json:"worker_argv"`
	InitPayload []byte `json:"init_payload"`
	InitFds     []int  `json:"init_fds"` // sent to every worker with INIT (duplicated here)
	// Per-task fates (procpool.Config): every task's deadline in
	// nanoseconds (0: none), fail only the task of a worker that dies, and
	// keep the launcher so that workers can always be replaced.
	TaskTimeoutNs   int64 `json:"task_timeout_ns"`
	FailTaskOnDeath bool  `json:"fail_task_on_death"`
	Replaceable     bool  `json:"replaceable"`
	// MaxWorkerMemory: bytes of resident memory above which a worker is
	// replaced between tasks; 0: no limit.
	MaxWorkerMemory int64 `json:"max_worker_memory"`
	// WorkerEnv: the environment of workers started by exec (StartExec)
	// and of the shared fresh zygote (StartFreshZygote, when this pool
	// starts it), "KEY=value" each: the program's when the pool started.
	// Go's os.Environ() is a copy made when the Go runtime started, which
	// misses every later change (os.environ, putenv).
	WorkerEnv [][]byte `json:"worker_env"`
}

// Env is WorkerEnv as strings.
func (s ProcPoolSpec) Env() []string {
	env := make([]string, len(s.WorkerEnv))
	for i, entry := range s.WorkerEnv {
		env[i] = string(entry)
	}
	return env
}

// DecodeSpec reads the record Python sent for a new pool.
func DecodeSpec(record []byte) (ProcPoolSpec, error) {
	var spec ProcPoolSpec
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(record, &fields); err != nil {
		return spec, Invalidf("process pool spec: %v", err)
	}
	want := jsonFields(reflectSpec)
	for _, name := range want {
		if _, ok := fields[name]; !ok {
			return spec, Invalidf("process pool spec: no field %q", name)
		}
	}
	if len(fields) != len(want) {
		return spec, Invalidf("process pool spec: %d fields, want %d: %v", len(fields), len(want), want)
	}
	if err := json.Unmarshal(record, &spec); err != nil {
		return spec, Invalidf("process pool spec: %v", err)
	}
	return spec, nil
}

// Argv splits a command of a spec.
func Argv(joined []byte) []string { return strings.Split(string(joined), "\x00") }
