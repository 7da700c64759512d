package serf

import (
	"fmt"
)

// EventType tells the kind of an Event delivered on Config.EventCh.
type EventType int

const (
	EventMemberJoin EventType = iota
	EventMemberLeave
	EventMemberFailed
	EventMemberUpdate
	EventMemberReap
	EventUser
	EventQuery
)

// String returns the name Serf uses for the event type (also SERF_EVENT).
func (t EventType) String() string {
	switch t {
	case EventMemberJoin:
		return "member-join"
	case EventMemberLeave:
		return "member-leave"
	case EventMemberFailed:
		return "member-failed"
	case EventMemberUpdate:
		return "member-update"
	case EventMemberReap:
		return "member-reap"
	case EventUser:
		return "user"
	case EventQuery:
		return "query"
	default:
		return fmt.Sprintf("unknown event type: %d", int(t))
	}
}

// Event is what Serf delivers to the application: a *MemberEvent, a
// UserEvent or a *Query.
type Event interface {
	EventType() EventType
	String() string
}

// MemberEvent reports a change to one or more members. Serf itself puts
// one member in each event; the member coalescer groups them.
type MemberEvent struct {
	Type    EventType
	Members []Member
}

// EventType implements Event.
func (m MemberEvent) EventType() EventType { return m.Type }

// String implements Event.
func (m MemberEvent) String() string { return m.Type.String() }

// UserEvent is a custom event fired by some member with UserEvent.
type UserEvent struct {
	LTime    LamportTime
	Name     string
	Payload  []byte
	Coalesce bool
}

// EventType implements Event.
func (u UserEvent) EventType() EventType { return EventUser }

// String implements Event.
func (u UserEvent) String() string { return fmt.Sprintf("user-event: %s", u.Name) }
