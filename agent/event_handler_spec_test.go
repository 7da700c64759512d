package agent

import (
	"reflect"
	"testing"
)

func TestParseEventScript(t *testing.T) {
	cases := []struct {
		spec string
		want []EventScript
	}{
		{"handler.sh", []EventScript{{EventFilter{"*", ""}, "handler.sh"}}},
		{"=handler.sh", []EventScript{{EventFilter{"*", ""}, "handler.sh"}}},
		{"*=handler.sh", []EventScript{{EventFilter{"*", ""}, "handler.sh"}}},
		{"member-join=join.sh", []EventScript{{EventFilter{"member-join", ""}, "join.sh"}}},
		{"member-join,member-leave=h.sh", []EventScript{
			{EventFilter{"member-join", ""}, "h.sh"}, {EventFilter{"member-leave", ""}, "h.sh"}}},
		{"user=u.sh", []EventScript{{EventFilter{"user", ""}, "u.sh"}}},
		{"user:=u.sh", []EventScript{{EventFilter{"user", ""}, "u.sh"}}},
		{"user:deploy=deploy.sh", []EventScript{{EventFilter{"user", "deploy"}, "deploy.sh"}}},
		{"user:a:b=x", []EventScript{{EventFilter{"user", "a:b"}, "x"}}},
		{"query=q.sh", []EventScript{{EventFilter{"query", ""}, "q.sh"}}},
		{"query:load=uptime", []EventScript{{EventFilter{"query", "load"}, "uptime"}}},
		{"*=FOO=1 run.sh", []EventScript{{EventFilter{"*", ""}, "FOO=1 run.sh"}}},
		{"FOO=1 run.sh", []EventScript{{EventFilter{"FOO", ""}, "1 run.sh"}}},
		{"member-join=", []EventScript{{EventFilter{"member-join", ""}, ""}}},
		{"", []EventScript{{EventFilter{"*", ""}, ""}}},
		{"a,,b=x", []EventScript{{EventFilter{"a", ""}, "x"}, {EventFilter{"", ""}, "x"}, {EventFilter{"b", ""}, "x"}}},
		{"*,user=run.sh", []EventScript{{EventFilter{"*", ""}, "run.sh"}, {EventFilter{"user", ""}, "run.sh"}}},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			if got := ParseEventScript(tc.spec); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseEventHandlers(t *testing.T) {
	got, err := ParseEventHandlers([]string{"a.sh", "member-join,user:deploy=b.sh", "query:load=c.sh"})
	if err != nil {
		t.Fatal(err)
	}
	want := []EventScript{
		{EventFilter{"*", ""}, "a.sh"},
		{EventFilter{"member-join", ""}, "b.sh"},
		{EventFilter{"user", "deploy"}, "b.sh"},
		{EventFilter{"query", "load"}, "c.sh"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	if got, err := ParseEventHandlers(nil); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v, %v", got, err)
	}

	bad := []struct {
		spec string
		want string
	}{
		{"FOO=1 run.sh", "Invalid event script: Event 'FOO' invoking '1 run.sh'"},
		{"member-join, member-leave=h.sh", "Invalid event script: Event ' member-leave' invoking 'h.sh'"},
		{"member-join,,member-leave=h.sh", "Invalid event script: Event '' invoking 'h.sh'"},
		{"users:deploy=d.sh", "Invalid event script: Event 'users:deploy' invoking 'd.sh'"},
		{"*:x=d.sh", "Invalid event script: Event '*:x' invoking 'd.sh'"},
		{"Member-Join=d.sh", "Invalid event script: Event 'Member-Join' invoking 'd.sh'"},
		{"member-joined=d.sh", "Invalid event script: Event 'member-joined' invoking 'd.sh'"},
	}
	for _, tc := range bad {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := ParseEventHandlers([]string{"ok.sh", tc.spec})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestEventFilterValid(t *testing.T) {
	for _, ev := range []string{"member-join", "member-leave", "member-failed", "member-update", "member-reap", "user", "query", "*"} {
		if !(EventFilter{Event: ev}).Valid() {
			t.Errorf("%q not valid", ev)
		}
	}
	for _, ev := range []string{"", "member", "users", "USER", " user", "*:", "member-join "} {
		if (EventFilter{Event: ev}).Valid() {
			t.Errorf("%q valid", ev)
		}
	}
}

func TestEventFilterMatches(t *testing.T) {
	cases := []struct {
		filter    string
		eventType string
		name      string
		want      bool
	}{
		{"*", "member-join", "", true},
		{"*", "user", "deploy", true},
		{"*", "query", "load", true},
		{"member-join", "member-join", "", true},
		{"member-join", "member-leave", "", false},
		{"member-failed", "member-failed", "", true},
		{"member-reap", "member-reap", "", true},
		{"member-update", "member-join", "", false},
		{"user", "user", "anything", true},
		{"user:", "user", "anything", true},
		{"user", "query", "x", false},
		{"user:deploy", "user", "deploy", true},
		{"user:deploy", "user", "deploy2", false},
		{"user:deploy", "user", "Deploy", false},
		{"user:deploy", "query", "deploy", false},
		{"query", "query", "load", true},
		{"query:load", "query", "load", true},
		{"query:load", "query", "other", false},
		{"query:load", "user", "load", false},
	}
	for _, tc := range cases {
		f := ParseEventFilter(tc.filter)
		if len(f) != 1 {
			t.Fatalf("%q parsed to %d filters", tc.filter, len(f))
		}
		if got := f[0].Matches(tc.eventType, tc.name); got != tc.want {
			t.Errorf("%q.Matches(%q, %q) = %v, want %v", tc.filter, tc.eventType, tc.name, got, tc.want)
		}
	}
}

func TestEventFilterStrings(t *testing.T) {
	cases := []struct {
		f        EventFilter
		str, key string
	}{
		{EventFilter{"*", ""}, "*", "*:"},
		{EventFilter{"member-join", ""}, "member-join", "member-join:"},
		{EventFilter{"user", "deploy"}, "user:deploy", "user:deploy"},
		{EventFilter{"query", "load"}, "query:load", "query:load"},
	}
	for _, tc := range cases {
		if got := tc.f.String(); got != tc.str {
			t.Errorf("String() = %q, want %q", got, tc.str)
		}
		if got := tc.f.StatsKey(); got != tc.key {
			t.Errorf("StatsKey() = %q, want %q", got, tc.key)
		}
	}
	s := EventScript{EventFilter{"user", "deploy"}, "deploy.sh"}
	if got := s.String(); got != "Event 'user:deploy' invoking 'deploy.sh'" {
		t.Errorf("EventScript.String() = %q", got)
	}
	s = EventScript{EventFilter{"*", ""}, "h.sh"}
	if got := s.String(); got != "Event '*' invoking 'h.sh'" {
		t.Errorf("EventScript.String() = %q", got)
	}
}
