package command

import (
	"net"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/posener/complete"
	"github.com/serfclone/serf/client"
	"github.com/serfclone/serf/client/clienttest"
)

func predicted(p complete.Predictor, args complete.Args) []string {
	if p == nil {
		return nil
	}
	got := p.Predict(args)
	sort.Strings(got)
	return got
}

// Every flag of every command is offered, with its values where they can
// be known.
func TestFlagPredictors(t *testing.T) {
	tests := []struct {
		command, flag string
		want          []string // nil: no fixed set
	}{
		{"members", "-format", []string{"json", "text"}},
		{"members", "-status", []string{"alive", "failed", "leaving", "left"}},
		{"members", "-detailed", nil},
		{"info", "-format", []string{"json", "text"}},
		{"query", "-format", []string{"json", "text"}},
		{"monitor", "-log-level", []string{"debug", "err", "info", "trace", "warn"}},
		{"monitor", "-log-json", nil},
		{"event", "-coalesce", []string{"false", "true"}},
		{"agent", "-log-level", []string{"debug", "err", "info", "trace", "warn"}},
		{"agent", "-profile", []string{"lan", "local", "wan"}},
		{"agent", "-node", nil},
		{"force-leave", "-prune", nil},
	}
	for _, tt := range tests {
		t.Run(tt.command+" "+tt.flag, func(t *testing.T) {
			flags := flagPredictors(tt.command)
			p, ok := flags[tt.flag]
			if !ok {
				t.Fatalf("%s not offered; offered %d flags", tt.flag, len(flags))
			}
			if got := predicted(p, complete.Args{}); tt.want != nil && !slices.Equal(got, tt.want) {
				t.Errorf("values %v, want %v", got, tt.want)
			}
		})
	}
	// The lists are the real flag sets: each command offers exactly the
	// flags it accepts.
	for name := range builtins() {
		if got, want := len(flagPredictors(name)), len(commandFlags(name)); got != want {
			t.Errorf("%s: %d flags offered, %d accepted", name, got, want)
		}
	}
}

func TestTypedFlag(t *testing.T) {
	tests := []struct {
		name  string
		words []string
		want  string
	}{
		{"absent", []string{"force-leave"}, "fallback"},
		{"equals form", []string{"force-leave", "-rpc-addr=127.0.0.1:1"}, "127.0.0.1:1"},
		{"separate value", []string{"rtt", "-rpc-addr", "127.0.0.1:2", "a"}, "127.0.0.1:2"},
		{"double dash", []string{"rtt", "--rpc-addr=127.0.0.1:3"}, "127.0.0.1:3"},
		{"last wins", []string{"rtt", "-rpc-addr=127.0.0.1:4", "-rpc-addr=127.0.0.1:5"}, "127.0.0.1:5"},
		{"other flag with the prefix", []string{"rtt", "-rpc-auth=x"}, "fallback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := typedFlag(tt.words, "rpc-addr", "fallback"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// Node names come from the agent at the typed -rpc-addr; an agent that is
// away or silent gives nothing, within the timeout.
func TestNodeNamePredictor(t *testing.T) {
	p := nodeNamePredictor{timeout: 2 * time.Second}

	t.Run("agent answers", func(t *testing.T) {
		members := &client.MembersResponse{Members: []client.Member{
			member("node-b", 2, "alive", nil), member("node-a", 1, "failed", nil),
		}}
		a := startAgent(t, script(t, fromClient(1), reply(t, 2, "", members)), clienttest.Options{Mode: clienttest.ReadOnly})
		got := predicted(p, complete.Args{Completed: []string{"force-leave", "-rpc-addr=" + a.Addr()}})
		if !slices.Equal(got, []string{"node-a", "node-b"}) {
			t.Errorf("names %v", got)
		}
	})

	t.Run("no agent", func(t *testing.T) {
		if got := predicted(p, complete.Args{Completed: []string{"rtt", "-rpc-addr", closedAddr(t)}}); got != nil {
			t.Errorf("names %v from no agent", got)
		}
	})

	t.Run("agent never answers", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err == nil {
				accepted <- c
			}
			close(accepted)
		}()
		quick := nodeNamePredictor{timeout: 200 * time.Millisecond}
		start := time.Now()
		got := predicted(quick, complete.Args{Completed: []string{"rtt", "-rpc-addr=" + ln.Addr().String()}})
		if got != nil {
			t.Errorf("names %v from a silent agent", got)
		}
		if took := time.Since(start); took > testTimeout/2 {
			t.Errorf("took %v", took)
		}
		ln.Close()
		if c, ok := <-accepted; ok {
			c.Close()
		}
	})
}
