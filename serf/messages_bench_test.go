package serf

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"
)

// Fixtures sized like real traffic: short node names, a 4-byte IPv4
// address, payloads of a few dozen bytes, and a push/pull state from a
// 1,000-node cluster whose 512-slot event ring is full.

func benchJoin() *messageJoin { return &messageJoin{LTime: 12345, Node: "node-0042.dc1"} }

func benchLeave() *messageLeave { return &messageLeave{LTime: 12346, Node: "node-0042.dc1"} }

func benchUserEvent() *messageUserEvent {
	return &messageUserEvent{LTime: 987, Name: "deploy", Payload: bytes.Repeat([]byte("p"), 64), CC: true}
}

func benchQuery(tb testing.TB) *messageQuery {
	tb.Helper()
	nodes, err := encodeFilter(filterNodeType, []string{"node-0001.dc1", "node-0002.dc1"})
	if err != nil {
		tb.Fatal(err)
	}
	tag, err := encodeFilter(filterTagType, filterTag{Tag: "role", Expr: "^web$"})
	if err != nil {
		tb.Fatal(err)
	}
	return &messageQuery{
		LTime:       555,
		ID:          1417505175,
		Addr:        net.IP{10, 0, 0, 1},
		Port:        7946,
		SourceNode:  "node-0042.dc1",
		Filters:     [][]byte{nodes, tag},
		Flags:       queryFlagAck,
		RelayFactor: 1,
		Timeout:     3200 * time.Millisecond,
		Name:        "status-check",
		Payload:     bytes.Repeat([]byte("q"), 64),
	}
}

func benchQueryResponse() *messageQueryResponse {
	return &messageQueryResponse{LTime: 555, ID: 1417505175, From: "node-0007.dc1", Payload: bytes.Repeat([]byte("r"), 64)}
}

func benchRelayAddr() net.UDPAddr { return net.UDPAddr{IP: net.IP{10, 0, 0, 1}, Port: 7946} }

func benchPushPull() *messagePushPull {
	pp := &messagePushPull{
		LTime:        2000,
		StatusLTimes: make(map[string]LamportTime, 1000),
		EventLTime:   1024,
		Events:       make([]*userEvents, 512),
		QueryLTime:   700,
	}
	for i := 0; i < 1000; i++ {
		pp.StatusLTimes[fmt.Sprintf("node-%04d.dc1", i)] = LamportTime(1000 + i)
	}
	for i := 0; i < 10; i++ {
		pp.LeftMembers = append(pp.LeftMembers, fmt.Sprintf("node-%04d.dc1", 2000+i))
	}
	for slot := range pp.Events {
		lt := LamportTime(512 + slot)
		pp.Events[lt%512] = &userEvents{LTime: lt, Events: []userEvent{{Name: "deploy", Payload: []byte(fmt.Sprintf("build-%d", lt))}}}
	}
	return pp
}

func benchTags() map[string]string {
	return map[string]string{"role": "web", "dc": "east", "rack": "r1", "env": "prod"}
}

func benchEncode(b *testing.B, t messageType, msg interface{}) {
	b.Helper()
	b.ReportAllocs()
	buf, err := encodeMessage(t, msg)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := encodeMessage(t, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// benchDecode decodes the encoding of msg into a fresh value each time, as
// the message handlers do.
func benchDecode[T any](b *testing.B, t messageType, msg *T) {
	b.Helper()
	buf, err := encodeMessage(t, msg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := new(T)
		if err := decodeMessage(buf[1:], out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeJoin(b *testing.B) { benchEncode(b, messageJoinType, benchJoin()) }
func BenchmarkDecodeJoin(b *testing.B) { benchDecode(b, messageJoinType, benchJoin()) }

func BenchmarkEncodeLeave(b *testing.B) { benchEncode(b, messageLeaveType, benchLeave()) }
func BenchmarkDecodeLeave(b *testing.B) { benchDecode(b, messageLeaveType, benchLeave()) }

func BenchmarkEncodeUserEvent(b *testing.B) { benchEncode(b, messageUserEventType, benchUserEvent()) }
func BenchmarkDecodeUserEvent(b *testing.B) { benchDecode(b, messageUserEventType, benchUserEvent()) }

func BenchmarkEncodeQuery(b *testing.B) { benchEncode(b, messageQueryType, benchQuery(b)) }
func BenchmarkDecodeQuery(b *testing.B) { benchDecode(b, messageQueryType, benchQuery(b)) }

func BenchmarkEncodeQueryResponse(b *testing.B) {
	benchEncode(b, messageQueryResponseType, benchQueryResponse())
}
func BenchmarkDecodeQueryResponse(b *testing.B) {
	benchDecode(b, messageQueryResponseType, benchQueryResponse())
}

func BenchmarkEncodePushPull(b *testing.B) { benchEncode(b, messagePushPullType, benchPushPull()) }
func BenchmarkDecodePushPull(b *testing.B) { benchDecode(b, messagePushPullType, benchPushPull()) }

func BenchmarkEncodeRelay(b *testing.B) {
	resp, addr := benchQueryResponse(), benchRelayAddr()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := encodeRelayMessage(messageQueryResponseType, addr, "node-0042.dc1", resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRelay covers the relay node's work: read the header, keep
// the rest for forwarding. Decoding the forwarded response is the
// originator's BenchmarkDecodeQueryResponse.
func BenchmarkDecodeRelay(b *testing.B) {
	buf, err := encodeRelayMessage(messageQueryResponseType, benchRelayAddr(), "node-0042.dc1", benchQueryResponse())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := decodeRelayHeader(buf[1:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeTags(b *testing.B) {
	tags := benchTags()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := encodeTags(tags, 5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeTags(b *testing.B) {
	meta, err := encodeTags(benchTags(), 5)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(meta)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := decodeTags(meta); err != nil {
			b.Fatal(err)
		}
	}
}
