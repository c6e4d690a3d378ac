package procpool

import (
	"bytes"
	"errors"
	"os"
	"strconv"
)

// Memory limit (Config.MaxWorkerMemory): after each task a worker reports,
// its slot reads the worker's resident set size from /proc/<pid>/statm (one
// small read, about 10 us) and, if it passed the limit, gives the worker no
// more tasks: the worker is sent EXIT once idle and replaced through the
// same path as a worker at its task quota (max_tasks_per_child), so no task
// is lost or failed.

// pageSize is the unit of /proc/<pid>/statm.
var pageSize = int64(os.Getpagesize())

// quotaLeftLocked reports whether the current worker may take more tasks:
// below its task quota and not over the memory limit. pool.mu must be held.
func (s *slot) quotaLeftLocked() bool {
	quota := s.pool.cfg.MaxTasksPerChild
	return (quota == 0 || s.sent < quota) && !s.overMemory
}

// checkMemory marks the slot's worker for replacement if its resident set
// passed Config.MaxWorkerMemory. Called by the reader after a result, before
// it hands the worker its next task; a worker whose size cannot be read
// (it is exiting) is left alone: its end shows on its connection.
func (s *slot) checkMemory(proc Proc) {
	limit := s.pool.cfg.MaxWorkerMemory
	if limit <= 0 {
		return
	}
	rss, err := ResidentBytes(proc.Pid())
	if err != nil || rss <= limit {
		return
	}
	s.pool.mu.Lock()
	if s.proc == proc {
		s.overMemory = true
	}
	s.pool.mu.Unlock()
}

// ResidentBytes returns the resident set size of process pid in bytes, as
// /proc/<pid>/statm reports it (pages shared with other processes, such as
// those a forked worker still shares with its zygote, included). Linux only.
func ResidentBytes(pid int) (int64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, err
	}
	pages, err := parseStatm(data)
	if err != nil {
		return 0, err
	}
	return pages * pageSize, nil
}

// parseStatm returns the resident field (the second, in pages) of a
// /proc/<pid>/statm line: "size resident shared text lib data dt".
func parseStatm(data []byte) (int64, error) {
	fields := bytes.Fields(data)
	if len(fields) < 2 {
		return 0, errors.New("statm: fewer than 2 fields")
	}
	pages, err := strconv.ParseInt(string(fields[1]), 10, 64)
	if err != nil || pages < 0 {
		return 0, errors.New("statm: bad resident field " + strconv.Quote(string(fields[1])))
	}
	return pages, nil
}
