package client

import (
	"errors"
	"testing"
)

func TestMonitorJSON(t *testing.T) {
	tests := []struct {
		name      string
		agentErr  string
		wantLines []string
		wantErr   error
	}{
		{"our agent streams JSON lines", "", []string{`{"@level":"info","@message":"x"}`}, nil},
		{"a Serf 0.10 agent refuses", "Unsupported command", nil, ErrMonitorJSONUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startScripted(t, func(a *scriptedConn) {
				a.handshake()
				var mr MonitorRequest
				h := a.request(&mr)
				if h.Command != MonitorJSONCommand || mr.LogLevel != "info" {
					t.Errorf("agent got %+v %+v", h, mr)
				}
				a.reply(h.Seq, tt.agentErr, nil)
				if tt.agentErr != "" {
					return // a real agent hangs up after an unknown command
				}
				for _, l := range tt.wantLines {
					a.reply(h.Seq, "", &LogRecord{Log: l})
				}
				a.waitClosed()
			})
			c, err := NewRPCClient(addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			lines := make(chan string)
			_, err = c.MonitorJSON("info", lines)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("MonitorJSON: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if _, ok := receive(t, lines); ok {
					t.Error("channel open after a refusal")
				}
				return
			}
			for _, want := range tt.wantLines {
				if got, _ := receive(t, lines); got != want {
					t.Errorf("line %q, want %q", got, want)
				}
			}
		})
	}
}
