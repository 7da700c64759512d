package command

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/serfclone/serf/client"
	"github.com/serfclone/serf/client/clienttest"
)

// -log-json asks for "monitor-json" and prints what the agent sends; an
// agent without it (a Serf 0.10 agent answers "Unsupported command") is
// refused with a clear error and exit 1.
func TestMonitorLogJSON(t *testing.T) {
	line := `{"@level":"info","@message":"bye","@module":"agent","@timestamp":"2026-11-27T00:00:00.000Z"}`
	t.Run("supported", func(t *testing.T) {
		tr := script(t, fromClient(2), reply(t, 2, "", nil), fromClient(2), reply(t, 3, "", nil),
			reply(t, 3, "", &client.LogRecord{Log: line}))
		a := startAgent(t, tr, clienttest.Options{Mode: clienttest.ReadOnly, CloseAtEnd: true})
		got := runCommand(t, "monitor", "-log-json", "-rpc-addr="+a.Addr())
		if got.code != 1 || !strings.HasPrefix(got.stdout, line+"\n") {
			t.Fatalf("exit %d, stdout %q", got.code, got.stdout)
		}
		var hdr client.RequestHeader
		sent(t, a, 4, &hdr)
		if hdr.Command != client.MonitorJSONCommand {
			t.Errorf("command %q, want %q", hdr.Command, client.MonitorJSONCommand)
		}
	})
	t.Run("Serf 0.10 agent", func(t *testing.T) {
		tr := script(t, fromClient(2), reply(t, 2, "", nil), fromClient(2), reply(t, 3, "Unsupported command", nil))
		a := startAgent(t, tr, clienttest.Options{Mode: clienttest.ReadOnly, CloseAtEnd: true})
		got := runCommand(t, "monitor", "-log-json", "-rpc-addr="+a.Addr())
		want := "Error starting monitor: " + client.ErrMonitorJSONUnsupported.Error() + "; the agent said: Unsupported command\n"
		assertOutput(t, got, 1, want)
	})
}

func TestFormatEventJSON(t *testing.T) {
	event := map[string]interface{}{
		"Event": "member-join",
		"Members": []interface{}{map[interface{}]interface{}{
			"Name": "a", "Addr": []byte{127, 0, 0, 1}, "Tags": map[interface{}]interface{}{"role": "web"},
		}},
		"Payload": []byte("deploy"),
		"Binary":  []byte{0xff, 0xfe},
	}
	var obj struct {
		Level string `json:"@level"`
		Event struct {
			Event   string
			Payload string
			Binary  []byte
			Members []struct {
				Name, Addr string
				Tags       map[string]string
			}
		} `json:"event"`
	}
	out := formatEventJSON(event)
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	e := obj.Event
	if e.Event != "member-join" || e.Payload != "deploy" || string(e.Binary) != "\xff\xfe" ||
		len(e.Members) != 1 || e.Members[0].Addr != "127.0.0.1" || e.Members[0].Tags["role"] != "web" {
		t.Errorf("got %s", out)
	}
}
