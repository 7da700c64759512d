package main

import (
	"os"
	"testing"
	"time"
)

// The agent runs its Go code on one CPU unless told otherwise, and
// -max-procs (max_procs) sets another number; it says which at DEBUG.
func TestIntegrationMaxProcs(t *testing.T) {
	cases := []struct {
		name  string
		extra []string
		want  string
	}{
		{name: "default", want: "GOMAXPROCS is 1"},
		{name: "flag", extra: []string{"-max-procs=2"}, want: "GOMAXPROCS is 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if len(tc.extra) == 0 && os.Getenv("GOMAXPROCS") != "" {
				t.Skip("GOMAXPROCS is set in this environment, so it decides")
			}
			a := startAgent(t, "procs-"+tc.name, tc.extra...)
			if err := a.proc.WaitOutput(tc.want, 10*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}
