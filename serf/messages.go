package serf

import (
	"bytes"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// messageType is the first byte of every Serf message. The values are the
// wire codes of Serf 0.10 and must never change.
type messageType uint8

const (
	messageLeaveType messageType = iota
	messageJoinType
	messagePushPullType
	messageUserEventType
	messageQueryType
	messageQueryResponseType
	messageConflictResponseType
	messageKeyRequestType
	messageKeyResponseType
	messageRelayType
)

// String names the message type for logs.
func (t messageType) String() string {
	switch t {
	case messageLeaveType:
		return "leave"
	case messageJoinType:
		return "join"
	case messagePushPullType:
		return "push-pull"
	case messageUserEventType:
		return "user-event"
	case messageQueryType:
		return "query"
	case messageQueryResponseType:
		return "query-response"
	case messageConflictResponseType:
		return "conflict-response"
	case messageKeyRequestType:
		return "key-request"
	case messageKeyResponseType:
		return "key-response"
	case messageRelayType:
		return "relay"
	default:
		return fmt.Sprintf("unknown(%d)", uint8(t))
	}
}

// Query flag bits (messageQuery.Flags and messageQueryResponse.Flags).
const (
	queryFlagAck         uint32 = 1 << 0 // ack requested / this response is an ack
	queryFlagNoBroadcast uint32 = 1 << 1 // receivers must not re-gossip
)

// filterType is the first byte of each encoded query filter.
type filterType uint8

const (
	filterNodeType filterType = iota
	filterTagType
)

// The message structs below are encoded as msgpack maps keyed by the Go
// field names, so field names are part of the wire format.

// messageJoin is a join intent.
type messageJoin struct {
	LTime LamportTime
	Node  string
}

// messageLeave is a leave intent; Prune asks every node to erase the member.
type messageLeave struct {
	LTime LamportTime
	Node  string
	Prune bool
}

// messagePushPull is Serf's part of memberlist's TCP state exchange.
type messagePushPull struct {
	LTime        LamportTime
	StatusLTimes map[string]LamportTime
	LeftMembers  []string
	EventLTime   LamportTime
	Events       []*userEvents
	QueryLTime   LamportTime
}

// userEvents holds the distinct events seen at one LTime: one ring slot.
type userEvents struct {
	LTime  LamportTime
	Events []userEvent
}

// userEvent is one event inside a ring slot.
type userEvent struct {
	Name    string
	Payload []byte
}

// messageUserEvent is a user event as gossiped. CC is "can coalesce".
type messageUserEvent struct {
	LTime   LamportTime
	Name    string
	Payload []byte
	CC      bool
}

// messageQuery is a query as gossiped.
type messageQuery struct {
	LTime       LamportTime
	ID          uint32
	Addr        []byte
	Port        uint16
	SourceNode  string
	Filters     [][]byte
	Flags       uint32
	RelayFactor uint8
	Timeout     time.Duration
	Name        string
	Payload     []byte
}

// Ack reports whether the originator asked for acks.
func (m *messageQuery) Ack() bool { return m.Flags&queryFlagAck != 0 }

// NoBroadcast reports whether receivers must not re-gossip the query.
func (m *messageQuery) NoBroadcast() bool { return m.Flags&queryFlagNoBroadcast != 0 }

// messageQueryResponse is an ack or a response, sent straight to the
// originator.
type messageQueryResponse struct {
	LTime   LamportTime
	ID      uint32
	From    string
	Flags   uint32
	Payload []byte
}

// Ack reports whether the message is an ack rather than a response.
func (m *messageQueryResponse) Ack() bool { return m.Flags&queryFlagAck != 0 }

// filterTag is the body of a tag filter: Expr must match tags[Tag].
type filterTag struct {
	Tag  string
	Expr string
}

// relayHeader precedes a relayed response and names its final destination.
type relayHeader struct {
	DestAddr net.UDPAddr
	DestName string
}

// keyRequest is the payload of the key-management queries.
type keyRequest struct {
	Key []byte
}

// nodeKeyResponse is one node's answer to a key-management query.
type nodeKeyResponse struct {
	Result     bool
	Message    string
	Keys       []string
	PrimaryKey string
}

// maxDecodeLen bounds the length of any collection the decoder allocates up
// front, so a few hostile bytes cannot ask for gigabytes.
const maxDecodeLen = 1 << 16

// newMsgpackHandle returns the handle Serf 0.10 uses for gossip: a zero
// MsgpackHandle (so []byte is written in the str family and str8 is never
// used) with the old time format.
func newMsgpackHandle() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.TimeNotBuiltin = true
	h.MaxInitLen = maxDecodeLen
	return h
}

// gossipHandle is shared by every encoder and decoder. A handle only caches
// immutable type information after its settings are fixed here, so sharing
// it is safe and saves rebuilding that cache on every message.
var gossipHandle = newMsgpackHandle()

// encodeMessage returns the type byte followed by the msgpack form of msg.
func encodeMessage(t messageType, msg interface{}) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(64)
	buf.WriteByte(uint8(t))
	if err := codec.NewEncoder(&buf, gossipHandle).Encode(msg); err != nil {
		return nil, fmt.Errorf("encode %s message: %w", t, err)
	}
	return buf.Bytes(), nil
}

// decodeMessage decodes one msgpack value from buf (the bytes after the type
// byte) into out. It never panics on hostile input.
func decodeMessage(buf []byte, out interface{}) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decode: malformed message: %v", r)
		}
	}()
	return codec.NewDecoderBytes(buf, gossipHandle).Decode(out)
}

// encodeFilter returns one encoded query filter.
func encodeFilter(f filterType, filt interface{}) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(uint8(f))
	if err := codec.NewEncoder(&buf, gossipHandle).Encode(filt); err != nil {
		return nil, fmt.Errorf("encode filter: %w", err)
	}
	return buf.Bytes(), nil
}

// encodeRelayMessage wraps an encoded message for a relay node: the relay
// type byte, the header naming the destination, then the message itself.
func encodeRelayMessage(t messageType, addr net.UDPAddr, nodeName string, msg interface{}) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(uint8(messageRelayType))
	enc := codec.NewEncoder(&buf, gossipHandle)
	if err := enc.Encode(relayHeader{DestAddr: addr, DestName: nodeName}); err != nil {
		return nil, fmt.Errorf("encode relay header: %w", err)
	}
	buf.WriteByte(uint8(t))
	if err := enc.Encode(msg); err != nil {
		return nil, fmt.Errorf("encode relayed message: %w", err)
	}
	return buf.Bytes(), nil
}

// decodeRelayHeader reads the header of a relay message (the bytes after
// the relay type byte) and returns it with the rest of the buffer, which is
// forwarded unchanged.
func decodeRelayHeader(buf []byte) (h relayHeader, rest []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decode relay header: malformed message: %v", r)
		}
	}()
	dec := codec.NewDecoderBytes(buf, gossipHandle)
	if err := dec.Decode(&h); err != nil {
		return h, nil, fmt.Errorf("decode relay header: %w", err)
	}
	n := dec.NumBytesRead()
	if n < 0 || n > len(buf) {
		return h, nil, fmt.Errorf("decode relay header: bad length %d", n)
	}
	return h, buf[n:], nil
}
