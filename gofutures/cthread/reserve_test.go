package cthread_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gofutures/gofutures/gofutures/cthread"
)

func threadCount(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/task")
	require.NoError(t, err)
	return len(entries)
}

// The reserved Ms stay: the process runs at least that many threads, and a
// second reservation reuses them instead of starting more.
func TestReserveGoThreadsKeepsIdleThreads(t *testing.T) {
	cthread.ReserveGoThreads(6)
	after := threadCount(t)
	require.GreaterOrEqual(t, after, 6)
	cthread.ReserveGoThreads(6)
	require.LessOrEqual(t, threadCount(t), after+1, "a second reservation reuses the idle threads")
}
