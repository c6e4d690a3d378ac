package panics_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gofutures/gofutures/gofutures/panics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTry(t *testing.T) {
	sentinel := errors.New("sentinel")
	tests := []struct {
		name      string
		f         func()
		wantPanic bool
		wantMsg   string
		wantErr   error
	}{
		{name: "no panic", f: func() {}},
		{name: "string value", f: func() { panic("boom") }, wantPanic: true, wantMsg: "go panic: boom"},
		{name: "error value", f: func() { panic(sentinel) }, wantPanic: true, wantMsg: "go panic: sentinel", wantErr: sentinel},
		{name: "runtime error", f: func() {
			var m map[string]int
			m["x"] = 1
		}, wantPanic: true, wantMsg: "assignment to entry in nil map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := panics.Try(tt.f)
			if !tt.wantPanic {
				assert.Nil(t, r)
				return
			}
			require.NotNil(t, r)
			assert.Contains(t, r.Error(), tt.wantMsg)
			assert.Contains(t, string(r.Stack), "panics_test.go", "stack names the panicking frame")
			if tt.wantErr != nil {
				assert.ErrorIs(t, r, tt.wantErr)
			}
		})
	}
}

func TestCatch(t *testing.T) {
	f := func() (err error) {
		defer panics.Catch(&err)
		panic("inside")
	}
	err := f()
	var r *panics.Recovered
	require.ErrorAs(t, err, &r)
	assert.Equal(t, "inside", r.Value)
}

func ExampleTry() {
	r := panics.Try(func() { panic("worker exploded") })
	fmt.Println(r.Value)
	// Output: worker exploded
}

func TestGo(t *testing.T) {
	tests := []struct {
		name      string
		f         func()
		onPanic   func(*panics.Recovered)
		wantValue any
	}{
		{name: "no panic", f: func() {}},
		{name: "panic reaches onPanic", f: func() { panic("in a goroutine") }, wantValue: "in a goroutine"},
		{name: "onPanic panics too", f: func() { panic("first") }, onPanic: func(*panics.Recovered) { panic("second") }},
	}
	// Go returns at once; a panic it failed to recover would end this test
	// binary, so each case also waits for the goroutine's very end.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan *panics.Recovered, 1)
			onPanic := func(r *panics.Recovered) { done <- r }
			if tt.wantValue == nil {
				onPanic = tt.onPanic
			}
			if onPanic == nil {
				onPanic = func(*panics.Recovered) {}
			}
			ended := make(chan struct{})
			wrapped := func(r *panics.Recovered) {
				defer close(ended)
				onPanic(r)
			}
			panics.Go(func() {
				defer func() {
					if tt.name == "no panic" {
						close(ended)
					}
				}()
				tt.f()
			}, wrapped)
			<-ended // the process is still alive: the panic did not abort it
			if tt.wantValue == nil {
				return
			}
			r := <-done
			assert.Equal(t, tt.wantValue, r.Value)
			assert.Contains(t, string(r.Stack), "panics_test.go", "stack names the panicking frame")
		})
	}
}
