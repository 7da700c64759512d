package main

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/serfclone/serf/testutil"
)

// The shell runs serf with COMP_LINE set to complete a word; serf then
// prints the candidates, one per line, and exits 0. (Installing touches
// the real user's shell start-up files, so it is not tested here.)
func TestShellCompletion(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	noAgent := ln.Addr().String()
	ln.Close()

	tests := []struct {
		line     string
		want     []string // each must be offered
		wantNone bool
	}{
		{"serf mem", []string{"members"}, false},
		{"serf -autocomplete-in", []string{"-autocomplete-install"}, false},
		{"serf members -form", []string{"-format"}, false},
		{"serf members -format ", []string{"json", "text"}, false},
		{"serf monitor -log-level ", []string{"trace", "debug", "info", "warn", "err"}, false},
		{"serf monitor -log-", []string{"-log-level", "-log-json"}, false},
		{"serf agent -metrics", []string{"-metrics-addr"}, false},
		{"serf agent -profile ", []string{"lan", "wan", "local"}, false},
		{"serf force-leave -rpc-addr=" + noAgent + " ", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			env := []string{"COMP_LINE=" + tt.line, "COMP_POINT=" + strconv.Itoa(len(tt.line))}
			start := time.Now()
			stdout, stderr, code, err := testutil.Run(serfBin, t.TempDir(), env, 30*time.Second, "serf")
			if err != nil {
				t.Fatal(err)
			}
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			offered := strings.Fields(stdout)
			for _, w := range tt.want {
				if !slices.Contains(offered, w) {
					t.Errorf("%q not offered; got %q", w, offered)
				}
			}
			if tt.wantNone && len(offered) != 0 {
				t.Errorf("offered %q, want nothing", offered)
			}
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("completion took %v", took)
			}
		})
	}
}
