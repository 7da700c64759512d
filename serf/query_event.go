package serf

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Query is a query delivered to the application. The application answers
// it at most once, before its deadline, with Respond.
type Query struct {
	LTime   LamportTime
	Name    string
	Payload []byte

	serf        *Serf
	id          uint32
	addr        []byte
	port        uint16
	sourceNode  string
	deadline    time.Time
	relayFactor uint8

	respLock  sync.Mutex
	responded bool
}

// EventType implements Event.
func (q *Query) EventType() EventType { return EventQuery }

// String implements Event.
func (q *Query) String() string { return fmt.Sprintf("query: %s", q.Name) }

// ID is the originator's random identifier of the query.
func (q *Query) ID() uint32 { return q.id }

// SourceNode is the name of the node that sent the query.
func (q *Query) SourceNode() string { return q.sourceNode }

// Deadline is this node's own deadline: its receipt time plus the timeout.
func (q *Query) Deadline() time.Time { return q.deadline }

// sourceAddr is the originator's gossip address, where answers go.
func (q *Query) sourceAddr() net.UDPAddr {
	return net.UDPAddr{IP: q.addr, Port: int(q.port)}
}

// Errors returned by Respond.
var (
	errResponseSent     = errors.New("response already sent")
	errResponsePastDead = errors.New("response is past the deadline")
)

// Respond sends buf as this node's answer to the originator, once.
func (q *Query) Respond(buf []byte) error {
	q.respLock.Lock()
	defer q.respLock.Unlock()
	// Serf 0.10 words every Respond error with this prefix, even for user
	// queries; handlers' logs and RPC clients show it.
	if q.responded {
		return fmt.Errorf("failed to respond to key query: %w", errResponseSent)
	}
	if !q.deadline.IsZero() && time.Now().After(q.deadline) {
		return fmt.Errorf("failed to respond to key query: %w", errResponsePastDead)
	}
	if q.serf == nil {
		return errors.New("query has no serf instance")
	}
	resp := messageQueryResponse{LTime: q.LTime, ID: q.id, From: q.serf.config.NodeName, Payload: buf}
	if err := q.serf.sendQueryResponse(q, resp); err != nil {
		return fmt.Errorf("failed to respond to key query: %w", err)
	}
	q.responded = true
	return nil
}
