package serf

import (
	"fmt"
	"net"
	"sync"
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

// Encoders and decoders are pooled: building one costs a large allocation,
// and gossip encodes and decodes small messages all the time. A pooled
// encoder keeps its scratch buffer unless it grew past pooledBufferMax, so a
// big push/pull does not stay pinned in the pool.
const pooledBufferMax = 64 << 10

type pooledEncoder struct {
	enc *codec.Encoder
	buf []byte
}

var encoderPool = sync.Pool{New: func() interface{} {
	pe := &pooledEncoder{buf: make([]byte, 0, 512)}
	pe.enc = codec.NewEncoderBytes(&pe.buf, gossipHandle)
	return pe
}}

var decoderPool = sync.Pool{New: func() interface{} {
	return codec.NewDecoderBytes([]byte{}, gossipHandle)
}}

// encodeWithPrefix returns prefix followed by the msgpack form of v, in a
// slice of exactly that length.
func encodeWithPrefix(prefix []byte, v interface{}) ([]byte, error) {
	pe := encoderPool.Get().(*pooledEncoder)
	pe.enc.ResetBytes(&pe.buf)
	if err := pe.enc.Encode(v); err != nil {
		return nil, err
	}
	out := make([]byte, len(prefix)+len(pe.buf))
	copy(out, prefix)
	copy(out[len(prefix):], pe.buf)
	if cap(pe.buf) <= pooledBufferMax {
		encoderPool.Put(pe)
	}
	return out, nil
}

// decodeFirst decodes the first msgpack value of buf into out and returns
// how many bytes it took. buf must be non-empty: ResetBytes ignores a nil
// slice and would leave the decoder on its previous input.
func decodeFirst(buf []byte, out interface{}) (n int, err error) {
	dec := decoderPool.Get().(*codec.Decoder)
	dec.ResetBytes(buf)
	if err := dec.Decode(out); err != nil {
		return 0, err // the decoder is dropped: nothing of a failed run is reused
	}
	n = dec.NumBytesRead()
	dec.ResetBytes([]byte{}) // do not keep buf alive from the pool
	decoderPool.Put(dec)
	return n, nil
}

// encodeMessage returns the type byte followed by the msgpack form of msg.
func encodeMessage(t messageType, msg interface{}) ([]byte, error) {
	buf, err := encodeWithPrefix([]byte{uint8(t)}, msg)
	if err != nil {
		return nil, fmt.Errorf("encode %s message: %w", t, err)
	}
	return buf, nil
}

// decodeMessage decodes one msgpack value from buf (the bytes after the type
// byte) into out. It never panics on hostile input.
func decodeMessage(buf []byte, out interface{}) (err error) {
	if err := checkDeclaredLengths(buf); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decode: malformed message: %v", r)
		}
	}()
	_, err = decodeFirst(buf, out)
	return err
}

// checkDeclaredLengths walks the first msgpack value in buf, without
// allocating, and fails if it is cut short or if any string, array or map
// declares more bytes or elements than the input still holds.
//
// go-msgpack sizes its first allocation from a declared length, capped only
// by MaxInitLen elements, so without this walk a dozen hostile bytes that
// claim a 4-billion-entry map cost megabytes before the decoder notices the
// input is short. After it, every allocation is backed by real input.
func checkDeclaredLengths(buf []byte) error {
	pos := 0
	for pending := 1; pending > 0; pending-- {
		if pos >= len(buf) {
			return fmt.Errorf("msgpack value truncated at byte %d", pos)
		}
		c := buf[pos]
		pos++
		var sizeLen, dataLen, elems int // elems counts values that follow
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c <= 0x8f:
			elems = 2 * int(c&0x0f)
		case c <= 0x9f:
			elems = int(c & 0x0f)
		case c <= 0xbf:
			dataLen = int(c & 0x1f)
		case c == 0xc4 || c == 0xd9:
			sizeLen = 1
		case c == 0xc5 || c == 0xda || c == 0xdc || c == 0xde:
			sizeLen = 2
		case c == 0xc6 || c == 0xdb || c == 0xdd || c == 0xdf:
			sizeLen = 4
		case c >= 0xc7 && c <= 0xc9: // ext 8/16/32: length, type, data
			sizeLen, dataLen = 1<<(c-0xc7), 1
		case c == 0xcc || c == 0xd0:
			dataLen = 1
		case c == 0xcd || c == 0xd1:
			dataLen = 2
		case c == 0xca || c == 0xce || c == 0xd2:
			dataLen = 4
		case c == 0xcb || c == 0xcf || c == 0xd3:
			dataLen = 8
		case c >= 0xd4 && c <= 0xd8: // fixext: type, then 1..16 bytes
			dataLen = 1 + 1<<(c-0xd4)
		default:
			return fmt.Errorf("invalid msgpack byte %#x at byte %d", c, pos-1)
		}
		if sizeLen > 0 {
			if len(buf)-pos < sizeLen {
				return fmt.Errorf("msgpack length truncated at byte %d", pos)
			}
			var size uint64
			for _, b := range buf[pos : pos+sizeLen] {
				size = size<<8 | uint64(b)
			}
			pos += sizeLen
			if size > uint64(len(buf)-pos) {
				return fmt.Errorf("msgpack value at byte %d declares length %d, %d bytes left", pos, size, len(buf)-pos)
			}
			n := int(size)
			switch c {
			case 0xdc, 0xdd:
				elems = n
			case 0xde, 0xdf:
				elems = 2 * n
			default:
				dataLen += n
			}
		}
		if dataLen > len(buf)-pos {
			return fmt.Errorf("msgpack value at byte %d declares %d bytes, %d left", pos, dataLen, len(buf)-pos)
		}
		pos += dataLen
		// Every pending value needs at least one byte.
		if elems > len(buf)-pos-(pending-1) {
			return fmt.Errorf("msgpack container at byte %d declares %d values, %d bytes left", pos, elems, len(buf)-pos)
		}
		pending += elems
	}
	return nil
}

// encodeFilter returns one encoded query filter.
func encodeFilter(f filterType, filt interface{}) ([]byte, error) {
	buf, err := encodeWithPrefix([]byte{uint8(f)}, filt)
	if err != nil {
		return nil, fmt.Errorf("encode filter: %w", err)
	}
	return buf, nil
}

// encodeRelayMessage wraps an encoded message for a relay node: the relay
// type byte, the header naming the destination, then the message itself.
func encodeRelayMessage(t messageType, addr net.UDPAddr, nodeName string, msg interface{}) ([]byte, error) {
	head, err := encodeWithPrefix([]byte{uint8(messageRelayType)}, relayHeader{DestAddr: addr, DestName: nodeName})
	if err != nil {
		return nil, fmt.Errorf("encode relay header: %w", err)
	}
	buf, err := encodeWithPrefix(append(head, uint8(t)), msg)
	if err != nil {
		return nil, fmt.Errorf("encode relayed message: %w", err)
	}
	return buf, nil
}

// decodeRelayHeader reads the header of a relay message (the bytes after
// the relay type byte) and returns it with the rest of the buffer, which is
// forwarded unchanged.
func decodeRelayHeader(buf []byte) (h relayHeader, rest []byte, err error) {
	if err := checkDeclaredLengths(buf); err != nil {
		return h, nil, fmt.Errorf("decode relay header: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decode relay header: malformed message: %v", r)
		}
	}()
	n, err := decodeFirst(buf, &h)
	if err != nil {
		return h, nil, fmt.Errorf("decode relay header: %w", err)
	}
	if n < 0 || n > len(buf) {
		return h, nil, fmt.Errorf("decode relay header: bad length %d", n)
	}
	return h, buf[n:], nil
}
