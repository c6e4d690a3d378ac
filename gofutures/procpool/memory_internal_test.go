package procpool

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatm(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       int64
		err        string
	}{
		{"typical", "10473 3021 1533 760 0 1442 0\n", 3021, ""},
		{"no newline", "1 2 3 4 0 5 0", 2, ""},
		{"zero", "0 0 0 0 0 0 0\n", 0, ""},
		{"huge", "1 4611686018427387904 0 0 0 0 0", 1 << 62, ""},
		{"empty", "", 0, "fewer than 2 fields"},
		{"one field", "42\n", 0, "fewer than 2 fields"},
		{"not a number", "1 x 3", 0, `bad resident field "x"`},
		{"negative", "1 -2 3", 0, "bad resident field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatm([]byte(tc.line))
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestResidentBytesGrowsWithTouchedMemory(t *testing.T) {
	before, err := ResidentBytes(os.Getpid())
	require.NoError(t, err)
	assert.Positive(t, before)
	block := make([]byte, 64<<20)
	for i := range block {
		block[i] = 1 // resident only once touched
	}
	after, err := ResidentBytes(os.Getpid())
	require.NoError(t, err)
	assert.Greater(t, after-before, int64(48<<20))
	assert.Equal(t, byte(1), block[len(block)-1])
}

func TestResidentBytesOfNoProcess(t *testing.T) {
	_, err := ResidentBytes(1 << 30) // above pid_max
	assert.Error(t, err)
}
