package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneAgentGC(t *testing.T) {
	cases := []struct {
		name string
		gogc string
		want int
	}{
		{"default", "", agentGCPercent},
		{"operator's GOGC wins", "100", 77},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := debug.SetGCPercent(77)
			defer debug.SetGCPercent(old)
			tuneAgentGC(func(string) string { return tc.gogc })
			if got := debug.SetGCPercent(77); got != tc.want {
				t.Errorf("GC percent = %d, want %d", got, tc.want)
			}
		})
	}
}
