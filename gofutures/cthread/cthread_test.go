package cthread_test

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofutures/gofutures/gofutures/cthread"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// onThread runs fn on a new C thread and waits for it.
func onThread(t *testing.T, stack uint64, fn func()) {
	t.Helper()
	done := make(chan struct{})
	require.NoError(t, cthread.Start(stack, func() {
		defer close(done)
		fn()
	}))
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the thread's function never finished")
	}
}

func TestStackSize(t *testing.T) {
	var defaultSize uint64
	onThread(t, 0, func() { defaultSize = cthread.StackSize() })
	require.NotZero(t, defaultSize, "the platform default")
	for _, tc := range []struct {
		name string
		size uint64
	}{
		{"64 KiB", 64 << 10},
		{"1 MiB", 1 << 20},
		{"32 MiB", 32 << 20},
		{"512 MiB", 512 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got uint64
			onThread(t, tc.size, func() { got = cthread.StackSize() })
			// glibc may hand out a cached stack of up to four times the
			// size asked for, as it does for CPython's threads.
			assert.GreaterOrEqual(t, got, tc.size)
			assert.LessOrEqual(t, got, 4*tc.size)
		})
	}
}

func TestRunsOnItsOwnLockedThread(t *testing.T) {
	caller := syscall.Gettid()
	var first, later int
	onThread(t, 0, func() {
		first = syscall.Gettid()
		time.Sleep(time.Millisecond) // a goroutine that could move would move here
		later = syscall.Gettid()
	})
	assert.NotEqual(t, caller, first)
	assert.Equal(t, first, later, "the function stays on its thread")
}

func TestFailedCreateIsAnErrorAndNeverRuns(t *testing.T) {
	for _, tc := range []struct {
		name string
		size uint64
	}{
		{"stack larger than the address space", 1 << 62},
		{"stack below PTHREAD_STACK_MIN", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran := make(chan struct{}, 1)
			err := cthread.Start(tc.size, func() { ran <- struct{}{} })
			require.Error(t, err)
			assert.ErrorIs(t, err, cthread.ErrStart)
			var errno syscall.Errno
			assert.ErrorAs(t, err, &errno)
			select {
			case <-ran:
				t.Fatal("the function ran although no thread was created")
			case <-time.After(50 * time.Millisecond):
			}
		})
	}
}

func TestPanicEndsOnlyItsThread(t *testing.T) {
	done := make(chan struct{})
	require.NoError(t, cthread.Start(0, func() {
		defer close(done)
		panic("boom")
	}))
	<-done
	ok := false
	onThread(t, 0, func() { ok = true })
	assert.True(t, ok, "threads still start after a panic")
}

func TestManyThreadsAtOnce(t *testing.T) {
	for _, n := range []int{1, 16, 256} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var started, finished sync.WaitGroup
			gate := make(chan struct{})
			tids := make([]int, n)
			started.Add(n)
			finished.Add(n)
			for i := range n {
				require.NoError(t, cthread.Start(256<<10, func() {
					defer finished.Done()
					tids[i] = syscall.Gettid()
					started.Done()
					<-gate // all alive at once
				}))
			}
			started.Wait()
			close(gate)
			finished.Wait()
			distinct := map[int]bool{}
			for _, tid := range tids {
				distinct[tid] = true
			}
			assert.Len(t, distinct, n, "one thread each")
		})
	}
}

func ExampleStart() {
	done := make(chan string)
	if err := cthread.Start(8<<20, func() { done <- "ran on a C thread" }); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-done)
	// Output: ran on a C thread
}
