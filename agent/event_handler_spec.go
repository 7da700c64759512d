package agent

import (
	"fmt"
	"strings"
)

// Event type strings as seen by handlers (SERF_EVENT) and filters.
const (
	EventMemberJoin   = "member-join"
	EventMemberLeave  = "member-leave"
	EventMemberFailed = "member-failed"
	EventMemberUpdate = "member-update"
	EventMemberReap   = "member-reap"
	EventUser         = "user"
	EventQuery        = "query"
	// EventAll matches every event.
	EventAll = "*"
)

// EventFilter selects events by type and, for user events and queries,
// optionally by exact name. Event is a type string or "*"; Name is only
// meaningful with "user" and "query" (empty means any name).
type EventFilter struct {
	Event string
	Name  string
}

// ParseEventFilter splits a comma-separated filter list (of a handler spec,
// or the RPC stream "Type"). An empty list means "*". Items are not
// trimmed; "user:<name>" and "query:<name>" carry a name. The results are
// not validated: check each with Valid.
func ParseEventFilter(spec string) []EventFilter {
	if spec == "" {
		spec = EventAll
	}
	items := strings.Split(spec, ",")
	filters := make([]EventFilter, 0, len(items))
	for _, item := range items {
		f := EventFilter{Event: item}
		if name, ok := strings.CutPrefix(item, EventUser+":"); ok {
			f = EventFilter{Event: EventUser, Name: name}
		} else if name, ok := strings.CutPrefix(item, EventQuery+":"); ok {
			f = EventFilter{Event: EventQuery, Name: name}
		}
		filters = append(filters, f)
	}
	return filters
}

// Valid reports whether the filter's event type is one Serf knows.
func (f EventFilter) Valid() bool {
	switch f.Event {
	case EventMemberJoin, EventMemberLeave, EventMemberFailed, EventMemberUpdate,
		EventMemberReap, EventUser, EventQuery, EventAll:
		return true
	}
	return false
}

// Matches reports whether an event of type eventType ("member-join",
// "user", "query", ...) passes the filter. userOrQueryName is the user
// event's or query's name and is ignored for member events. "*" matches
// everything; a named user/query filter needs the exact name.
func (f EventFilter) Matches(eventType string, userOrQueryName string) bool {
	if f.Event == EventAll {
		return true
	}
	if f.Event != eventType {
		return false
	}
	if (f.Event == EventUser || f.Event == EventQuery) && f.Name != "" {
		return f.Name == userOrQueryName
	}
	return true
}

// String is the filter as written in a spec: "member-join", "user",
// "user:deploy".
func (f EventFilter) String() string {
	if f.Name != "" {
		return f.Event + ":" + f.Name
	}
	return f.Event
}

// StatsKey is the filter's key in the "event_handlers" section of the stats
// RPC: "<event>:<name>", e.g. "*:", "member-join:", "user:deploy".
func (f EventFilter) StatsKey() string {
	return f.Event + ":" + f.Name
}

// EventScript is one handler entry: a filter and the shell command to run.
// A spec with several filters gives one EventScript per filter.
type EventScript struct {
	EventFilter
	Script string
}

// String describes the entry as Serf does in errors:
// "Event 'user:deploy' invoking 'deploy.sh'".
func (s EventScript) String() string {
	return fmt.Sprintf("Event '%s' invoking '%s'", s.EventFilter.String(), s.Script)
}

// ParseEventScript parses one handler spec "[FILTERS=]COMMAND", split at the
// first "=", into one entry per filter, without validating the filters.
func ParseEventScript(spec string) []EventScript {
	filter, script, found := strings.Cut(spec, "=")
	if !found {
		filter, script = "", spec
	}
	filters := ParseEventFilter(filter)
	scripts := make([]EventScript, 0, len(filters))
	for _, f := range filters {
		scripts = append(scripts, EventScript{EventFilter: f, Script: script})
	}
	return scripts
}

// ParseEventHandlers parses handler specs in order. The
// first entry with an unknown event type fails the whole list with
// "Invalid event script: Event '<filter>' invoking '<command>'".
func ParseEventHandlers(specs []string) ([]EventScript, error) {
	var scripts []EventScript
	for _, spec := range specs {
		for _, s := range ParseEventScript(spec) {
			if !s.Valid() {
				return nil, fmt.Errorf("Invalid event script: %s", s)
			}
			scripts = append(scripts, s)
		}
	}
	return scripts, nil
}
