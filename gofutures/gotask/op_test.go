package gotask_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/gofutures/gofutures/gofutures/gio"
	"github.com/gofutures/gofutures/gofutures/gotask"
)

func TestRunOutputCopiesOnlyWhenBothOutputsHoldBytes(t *testing.T) {
	out, errs := []byte("out"), []byte("err")
	for _, tc := range []struct {
		name     string
		res      gio.RunResult
		want     string
		sameAs   []byte // the body is this slice itself, not a copy
		wantCopy bool
	}{
		{name: "stdout only", res: gio.RunResult{Stdout: out}, want: "out", sameAs: out},
		{name: "stderr only", res: gio.RunResult{Stderr: errs}, want: "err", sameAs: errs},
		{name: "both", res: gio.RunResult{Stdout: out, Stderr: errs}, want: "outerr", wantCopy: true},
		{name: "neither", res: gio.RunResult{}, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := gotask.RunOutput(tc.res)
			assert.Equal(t, tc.want, string(got))
			if tc.sameAs != nil {
				assert.Same(t, &tc.sameAs[0], &got[0])
			}
			if tc.wantCopy {
				assert.NotSame(t, &out[0], &got[0])
			}
		})
	}
}
