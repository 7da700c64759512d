package sim

import (
	"bytes"
	"compress/lzw"
	"fmt"
	"net"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// The model's message sizes are those of real encodings: the structs below
// mirror, field for field, the messages Serf and memberlist put on the
// wire (msgpack maps keyed by the Go field names, after a one-byte message
// type), and are encoded with the same msgpack library. Only the sizes are
// used; the model never decodes them.

// Serf message types, the first byte of each Serf message.
const (
	wireSerfJoin      = 1
	wireSerfPushPull  = 2
	wireSerfUserEvent = 3
)

// memberlist message types.
const (
	wireMLPing     = 0
	wireMLAck      = 2
	wireMLAlive    = 4
	wireMLPushPull = 6
	wireMLCompress = 9
)

// Mirrors of Serf's messages.
type (
	mirrorJoin struct {
		LTime uint64
		Node  string
	}
	mirrorUserEvent struct {
		LTime   uint64
		Name    string
		Payload []byte
		CC      bool
	}
	mirrorEventSlot struct {
		LTime  uint64
		Events []mirrorEventEntry
	}
	mirrorEventEntry struct {
		Name    string
		Payload []byte
	}
	mirrorPushPull struct {
		LTime        uint64
		StatusLTimes map[string]uint64
		LeftMembers  []string
		EventLTime   uint64
		Events       []*mirrorEventSlot
		QueryLTime   uint64
	}
)

// Mirrors of memberlist's messages.
type (
	mirrorAlive struct {
		Incarnation uint32
		Node        string
		Addr        []byte
		Port        uint16
		Meta        []byte
		Vsn         []uint8
	}
	mirrorPing struct {
		SeqNo      uint32
		Node       string
		SourceAddr []byte `codec:",omitempty"`
		SourcePort uint16 `codec:",omitempty"`
		SourceNode string `codec:",omitempty"`
	}
	mirrorAck struct {
		SeqNo   uint32
		Payload []byte
	}
	mirrorCoordinate struct {
		Vec        []float64
		Error      float64
		Adjustment float64
		Height     float64
	}
	mirrorPushPullHeader struct {
		Nodes        int
		UserStateLen int
		Join         bool
	}
	mirrorCompress struct {
		Algo int
		Buf  []byte
	}
	mirrorPushNodeState struct {
		Name        string
		Addr        []byte
		Port        uint16
		Meta        []byte
		Incarnation uint32
		State       int
		Vsn         []uint8
	}
)

// modelNodeName is a realistic member name, as long as a host name in a
// data centre usually is.
func modelNodeName(i int) string { return fmt.Sprintf("web-%05d.prod-east-1.internal", i) }

// modelAddr is a member's IPv4 address; only its length matters.
func modelAddr(i int) []byte { return net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).To4() }

// modelMeta is the encoded tags of a member: Serf's magic byte then the
// msgpack map, here with two short tags.
func modelMeta() []byte {
	b, err := msgpackEncode(0xff, map[string]string{"role": "web", "dc": "east"})
	if err != nil {
		return nil
	}
	return b
}

var modelVsn = []uint8{1, 5, 5, 2, 5, 4}

// msgpackEncode returns prefix followed by v in msgpack, as memberlist and
// Serf encode their messages (a zero handle, the old time format). Map keys
// are sorted, which changes no size but makes the compressed size of a
// state the same on every run.
func msgpackEncode(prefix byte, v any) ([]byte, error) {
	h := &codec.MsgpackHandle{}
	h.TimeNotBuiltin = true
	h.Canonical = true
	var buf []byte
	if err := codec.NewEncoderBytes(&buf, h).Encode(v); err != nil {
		return nil, fmt.Errorf("sim: encode %T: %w", v, err)
	}
	return append([]byte{prefix}, buf...), nil
}

// MessageSizes are the encoded sizes, in bytes, the model uses.
type MessageSizes struct {
	// UserEvent is a user event with a short name and payload.
	UserEvent int
	// JoinIntent is a Serf join intent.
	JoinIntent int
	// Alive is memberlist's alive message for one member.
	Alive int
	// Ping and Ack are a probe and its answer (carrying a coordinate).
	Ping, Ack int
	// StateSmall is one side of a push-pull from a member that knows
	// only itself (a member that just restarted).
	StateSmall int
	// StateFull is one side of a push-pull of a member that knows all N;
	// StateFullLZW the same as memberlist sends it with compression on
	// (its LAN default): LZW, in a compress message.
	StateFull, StateFullLZW int
}

// modelEventPayload is the payload of the model's user events.
var modelEventPayload = []byte("v1.42.7")

// messageSizes encodes real-shaped messages for a cluster of n members.
// The full push-pull state is n pushNodeStates and a Serf state listing n
// members and its event ring of ring slots, events of them in use (the
// rest are encoded as nil, as Serf sends them).
func messageSizes(n, events, ring int) (MessageSizes, error) {
	var s MessageSizes
	meta := modelMeta()
	ev, err := msgpackEncode(wireSerfUserEvent, &mirrorUserEvent{LTime: 1 << 20, Name: "deploy-9999", Payload: modelEventPayload})
	if err != nil {
		return s, err
	}
	s.UserEvent = len(ev)
	join, err := msgpackEncode(wireSerfJoin, &mirrorJoin{LTime: 1 << 20, Node: modelNodeName(n - 1)})
	if err != nil {
		return s, err
	}
	s.JoinIntent = len(join)
	alive, err := msgpackEncode(wireMLAlive, &mirrorAlive{Incarnation: 1 << 10, Node: modelNodeName(n - 1), Addr: modelAddr(n - 1), Port: 7946, Meta: meta, Vsn: modelVsn})
	if err != nil {
		return s, err
	}
	s.Alive = len(alive)
	ping, err := msgpackEncode(wireMLPing, &mirrorPing{SeqNo: 1 << 20, Node: modelNodeName(n - 1), SourceAddr: modelAddr(0), SourcePort: 7946, SourceNode: modelNodeName(0)})
	if err != nil {
		return s, err
	}
	s.Ping = len(ping)
	coord, err := msgpackEncode(0, &mirrorCoordinate{Vec: []float64{0.001, -0.002, 0.003, 0.0004, -0.005, 0.0006, 0.007, -0.0008}, Error: 0.31, Adjustment: 0.0001, Height: 0.00002})
	if err != nil {
		return s, err
	}
	ack, err := msgpackEncode(wireMLAck, &mirrorAck{SeqNo: 1 << 20, Payload: coord})
	if err != nil {
		return s, err
	}
	s.Ack = len(ack)
	small, err := encodeState(1, 0, ring, meta)
	if err != nil {
		return s, err
	}
	full, err := encodeState(n, events, ring, meta)
	if err != nil {
		return s, err
	}
	s.StateSmall, s.StateFull = len(small), len(full)
	if s.StateFullLZW, err = lzwSize(full); err != nil {
		return s, err
	}
	return s, nil
}

// encodeState is what one side of a push-pull sends: memberlist's header
// and one pushNodeState per member, then Serf's state.
func encodeState(n, events, ring int, meta []byte) ([]byte, error) {
	pp := mirrorPushPull{LTime: 1 << 20, StatusLTimes: make(map[string]uint64, n), EventLTime: 1 << 16, QueryLTime: 1 << 10}
	var nodes []byte
	for i := 0; i < n; i++ {
		ns, err := msgpackEncode(0, &mirrorPushNodeState{Name: modelNodeName(i), Addr: modelAddr(i), Port: 7946, Meta: meta, Incarnation: 1 << 10, State: 0, Vsn: modelVsn})
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, ns[1:]...)
		pp.StatusLTimes[modelNodeName(i)] = 1<<20 + uint64(i)
	}
	pp.Events = make([]*mirrorEventSlot, ring)
	for i := 0; i < events && i < ring; i++ {
		pp.Events[i] = &mirrorEventSlot{LTime: 1<<16 + uint64(i), Events: []mirrorEventEntry{{Name: fmt.Sprintf("deploy-%d", i), Payload: modelEventPayload}}}
	}
	serfState, err := msgpackEncode(wireSerfPushPull, &pp)
	if err != nil {
		return nil, err
	}
	out, err := msgpackEncode(wireMLPushPull, &mirrorPushPullHeader{Nodes: n, UserStateLen: len(serfState), Join: false})
	if err != nil {
		return nil, err
	}
	out = append(out, nodes...)
	return append(out, serfState...), nil
}

// lzwSize is the size of b as memberlist compresses a stream: LZW (LSB
// first, 8-bit literals) wrapped in a compress message.
func lzwSize(b []byte) (int, error) {
	var buf bytes.Buffer
	w := lzw.NewWriter(&buf, lzw.LSB, 8)
	if _, err := w.Write(b); err != nil {
		return 0, fmt.Errorf("sim: compress: %w", err)
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("sim: compress: %w", err)
	}
	c, err := msgpackEncode(wireMLCompress, &mirrorCompress{Algo: 0, Buf: buf.Bytes()})
	if err != nil {
		return 0, err
	}
	return len(c), nil
}
