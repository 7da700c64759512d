package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func decodeJSONLines(t *testing.T, out string) []map[string]interface{} {
	t.Helper()
	var objs []map[string]interface{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var obj map[string]interface{}
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("line %q is not one JSON object: %v", line, err)
		}
		objs = append(objs, obj)
	}
	return objs
}

func TestJSONLogWriterShapes(t *testing.T) {
	tests := []struct {
		name, line                      string
		wantLevel, wantModule, wantText string
	}{
		{"member join", "2026/12/01 20:00:00 [INFO] serf: EventMemberJoin: a 1.2.3.4\n", "info", "serf", "EventMemberJoin: a 1.2.3.4"},
		{"memberlist debug", "2026/12/01 20:00:00 [DEBUG] memberlist: Stream connection from=127.0.0.1:5000\n", "debug", "memberlist", "Stream connection from=127.0.0.1:5000"},
		{"dotted module", "2026/12/01 20:00:00 [WARN] agent.ipc: Dropping logs to 127.0.0.1:1\n", "warn", "agent.ipc", "Dropping logs to 127.0.0.1:1"},
		{"err level", "2026/12/01 20:00:00 [ERR] agent.mdns: Failed to join: boom\n", "error", "agent.mdns", "Failed to join: boom"},
		{"trace", "2026/12/01 20:00:00 [TRACE] agent: tick\n", "trace", "agent", "tick"},
		{"no module", "2026/12/01 20:00:00 [INFO] Some text: with colon\n", "info", "", "Some text: with colon"},
		{"no level", "plain text\n", "info", "", "plain text"},
		{"microseconds", "2026/12/01 20:00:00.123456 [INFO] serf: x\n", "info", "serf", "x"},
		{"quotes and braces", "2026/12/01 20:00:00 [INFO] serf: a \"b\" {c}\n", "info", "serf", "a \"b\" {c}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := NewJSONLogWriter(&out)
			if n, err := w.Write([]byte(tt.line)); err != nil || n != len(tt.line) {
				t.Fatalf("Write = %d, %v", n, err)
			}
			objs := decodeJSONLines(t, out.String())
			if len(objs) != 1 {
				t.Fatalf("%d objects, want 1: %s", len(objs), out.String())
			}
			obj := objs[0]
			if obj["@level"] != tt.wantLevel || obj["@message"] != tt.wantText {
				t.Errorf("got %v", obj)
			}
			if module, _ := obj["@module"].(string); module != tt.wantModule {
				t.Errorf("@module = %q, want %q", module, tt.wantModule)
			}
			ts, _ := obj["@timestamp"].(string)
			if _, err := time.Parse(time.RFC3339, ts); err != nil || !strings.HasSuffix(ts, "Z") || len(ts) != len("2026-12-01T20:00:00.000Z") {
				t.Errorf("@timestamp %q is not RFC 3339 UTC with milliseconds", ts)
			}
		})
	}
}

func TestLineTime(t *testing.T) {
	now := time.Date(2026, 12, 1, 20, 0, 1, 234_000_000, time.UTC)
	tests := []struct {
		name       string
		when, want time.Time
	}{
		{"fresh line gets now with its milliseconds", now.Truncate(time.Second), now},
		{"line of the previous second keeps its date", now.Add(-time.Second).Truncate(time.Second), now.Add(-time.Second).Truncate(time.Second)},
		{"replayed old line keeps its date", now.Add(-time.Minute).Truncate(time.Second), now.Add(-time.Minute).Truncate(time.Second)},
		{"no date", time.Time{}, now},
		{"date in the future keeps its date", now.Add(time.Hour), now.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lineTime(tt.when, now); !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("lineTime = %v, want %v in UTC", got, tt.want)
			}
		})
	}
}

// Writes that split or join lines still give one object per line, and a
// line that never ends is converted once it is 64 KiB long.
func TestJSONLogWriterLineBoundaries(t *testing.T) {
	var out bytes.Buffer
	w := NewJSONLogWriter(&out)
	for _, chunk := range []string{"[INFO] serf: one\n[WARN] serf: tw", "o\n", "[ERR] agent: three\n"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	objs := decodeJSONLines(t, out.String())
	var msgs []string
	for _, o := range objs {
		msgs = append(msgs, o["@message"].(string))
	}
	if strings.Join(msgs, ",") != "one,two,three" {
		t.Errorf("messages %v", msgs)
	}

	out.Reset()
	long := strings.Repeat("x", maxPartialLogLine+10)
	if _, err := w.Write([]byte(long)); err != nil {
		t.Fatal(err)
	}
	if out.Len() == 0 || len(w.partial) >= maxPartialLogLine {
		t.Errorf("a line with no end is held whole: %d bytes out, %d held", out.Len(), len(w.partial))
	}
}

// For syslog the object follows the level, so the priority is kept, and
// SyslogWriter's parsing leaves exactly the JSON object.
func TestJSONSyslogWriterKeepsLevel(t *testing.T) {
	var out bytes.Buffer
	w := NewJSONSyslogWriter(&out)
	if _, err := w.Write([]byte("2026/12/01 20:00:00 [WARN] memberlist: Refuting a suspect message\n")); err != nil {
		t.Fatal(err)
	}
	level, msg := splitLogLine(out.Bytes())
	if level != "WARN" {
		t.Errorf("level %q, want WARN; line %q", level, out.String())
	}
	obj := decodeJSONLines(t, string(msg))[0]
	if obj["@module"] != "memberlist" || obj["@level"] != "warn" {
		t.Errorf("got %v", obj)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestJSONLogWriterReportsWriteErrors(t *testing.T) {
	w := NewJSONLogWriter(failingWriter{})
	if _, err := w.Write([]byte("[INFO] serf: x\n")); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err = %v, want the wrapped writer's error", err)
	}
}

func TestJSONLineFormatter(t *testing.T) {
	f := newJSONLineFormatter()
	for i := 0; i < 2; i++ {
		got := f.format("2026/12/01 20:00:00 [INFO] serf: EventMemberJoin: a 1.2.3.4\n")
		if strings.Contains(got, "\n") {
			t.Fatalf("formatted line %q has a newline", got)
		}
		obj := decodeJSONLines(t, got)[0]
		if obj["@module"] != "serf" || obj["@message"] != "EventMemberJoin: a 1.2.3.4" {
			t.Errorf("got %v", obj)
		}
	}
}

func FuzzJSONLogWriter(f *testing.F) {
	f.Add([]byte("2026/12/01 20:00:00 [INFO] serf: EventMemberJoin: a 1.2.3.4\n"))
	f.Add([]byte("[\n]\n: \n"))
	f.Fuzz(func(t *testing.T, p []byte) {
		var out bytes.Buffer
		w := NewJSONLogWriter(&out)
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
		if out.Len() == 0 {
			return
		}
		for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
			if !json.Valid([]byte(line)) {
				t.Fatalf("invalid JSON line %q", line)
			}
		}
	})
}
