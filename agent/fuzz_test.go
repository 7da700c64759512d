package agent

import (
	"bytes"
	"strings"
	"testing"
)

func FuzzDecodeConfig(f *testing.F) {
	f.Add([]byte(fullJSON))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"NODE_NAME": "a", "node_name": "b"}`))
	f.Add([]byte(`{"protocol": 1e300, "retry_max_attempts": -1e300}`))
	f.Add([]byte(`{"tags": {"a": 1}, "mdns": {"x": true}, "start_join": "a"}`))
	f.Add([]byte(`{"retry_interval": "5x"}`))
	f.Add([]byte("\xef\xbb\xbf{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeConfig(bytes.NewReader(data))
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		merged := MergeConfig(MergeConfig(DefaultConfig(), c), &Config{Protocol: -1, EnableCompression: true})
		if merged.Tags == nil {
			t.Fatal("merged tags are nil")
		}
		if merged.Protocol <= 0 {
			t.Fatalf("merged protocol %d", merged.Protocol)
		}
		if len(merged.StartJoin) != len(c.StartJoin) || len(merged.EventHandlers) != len(c.EventHandlers) {
			t.Fatal("lists lost in merge")
		}
		// Accessors must not panic on any decoded value.
		_, _ = ParseEventHandlers(merged.EventHandlers)
		_, _ = merged.EncryptBytes()
		_, _ = ValidateLogLevel(merged.LogLevel)
	})
}

func FuzzParseEventHandlers(f *testing.F) {
	for _, s := range []string{
		"handler.sh", "=x", "member-join,member-leave=h.sh", "user:deploy=d.sh", "query:=q",
		"*=FOO=1 run.sh", "a,,b=", "user:a,query:b,*=x", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		scripts := ParseEventScript(spec)
		filter, script, found := strings.Cut(spec, "=")
		if !found {
			filter, script = "", spec
		}
		wantN := 1
		if filter != "" {
			wantN = strings.Count(filter, ",") + 1
		}
		if len(scripts) != wantN {
			t.Fatalf("%q: %d entries, want %d", spec, len(scripts), wantN)
		}
		allValid := true
		for _, s := range scripts {
			if s.Script != script {
				t.Fatalf("%q: script %q, want %q", spec, s.Script, script)
			}
			if s.Name != "" && s.Event != EventUser && s.Event != EventQuery {
				t.Fatalf("%q: name %q on event %q", spec, s.Name, s.Event)
			}
			allValid = allValid && s.Valid()
			_ = s.String()
			_ = s.Matches(s.Event, s.Name)
		}
		parsed, err := ParseEventHandlers([]string{spec})
		if (err == nil) != allValid {
			t.Fatalf("%q: err = %v, all valid = %v", spec, err, allValid)
		}
		if err == nil && len(parsed) != len(scripts) {
			t.Fatalf("%q: %d parsed, want %d", spec, len(parsed), len(scripts))
		}
		for _, s := range parsed {
			if !s.Matches(s.Event, s.Name) {
				t.Fatalf("%q: %+v does not match its own event", spec, s)
			}
		}
	})
}
