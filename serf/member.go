package serf

import (
	"net"
	"time"
)

// MemberStatus is the state of a member as Serf sees it. The numeric values
// travel on the wire (conflict responses) and over RPC, so they are fixed.
type MemberStatus int

const (
	StatusNone MemberStatus = iota
	StatusAlive
	StatusLeaving
	StatusLeft
	StatusFailed
)

// String returns the name Serf prints for the status.
func (s MemberStatus) String() string {
	switch s {
	case StatusNone:
		return "none"
	case StatusAlive:
		return "alive"
	case StatusLeaving:
		return "leaving"
	case StatusLeft:
		return "left"
	case StatusFailed:
		return "failed"
	default:
		return "unknown"
	}
}

// Member is one node of the cluster. The field names are also the msgpack
// keys of the conflict response, so they must not be renamed.
type Member struct {
	Name   string
	Addr   net.IP
	Port   uint16
	Tags   map[string]string
	Status MemberStatus

	// ProtocolMin/Max/Cur are memberlist's protocol versions of the node.
	ProtocolMin uint8
	ProtocolMax uint8
	ProtocolCur uint8

	// DelegateMin/Max/Cur are the Serf protocol versions of the node.
	DelegateMin uint8
	DelegateMax uint8
	DelegateCur uint8
}

// memberState is Serf's private record of a member: the public view plus the
// Lamport time of the newest intent accepted for it and when it went away.
type memberState struct {
	Member
	statusLTime LamportTime // LTime of the newest accepted intent
	leaveTime   time.Time   // when memberlist reported it gone
}

// clone returns a copy of the public member that shares nothing mutable.
func (m *Member) clone() Member {
	c := *m
	if m.Addr != nil {
		c.Addr = append(net.IP(nil), m.Addr...)
	}
	if m.Tags != nil {
		c.Tags = make(map[string]string, len(m.Tags))
		for k, v := range m.Tags {
			c.Tags[k] = v
		}
	}
	return c
}
