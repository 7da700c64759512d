package serf

import (
	"bytes"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// codecFields returns the keys and raw value bytes of the top-level map of
// an encoded message (type byte first), in wire order.
func codecFields(t *testing.T, msg []byte) (keys []string, values map[string][]byte) {
	t.Helper()
	b := msg[1:]
	hdr, count, isMap, err := msgpackHeader(b)
	if err != nil || !isMap {
		t.Fatalf("message body is not a map: %x (%v)", b, err)
	}
	pos := hdr
	values = map[string][]byte{}
	for i := 0; i < count; i++ {
		_, kn, err := canonicalMsgpack(b[pos:], 0)
		if err != nil {
			t.Fatal(err)
		}
		var key string
		if err := decodeMessage(b[pos:pos+kn], &key); err != nil {
			t.Fatal(err)
		}
		pos += kn
		_, vn, err := canonicalMsgpack(b[pos:], 0)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
		values[key] = b[pos : pos+vn]
		pos += vn
	}
	if pos != len(b) {
		t.Fatalf("%d trailing bytes after the message", len(b)-pos)
	}
	return keys, values
}

// codecField returns the raw msgpack bytes of one top-level field.
func codecField(t *testing.T, msg []byte, key string) []byte {
	t.Helper()
	_, values := codecFields(t, msg)
	v, ok := values[key]
	if !ok {
		t.Fatalf("no field %q in %x", key, msg)
	}
	return v
}

// codecRoundTrip encodes msg, decodes it into a new value of the same type
// and returns the encoding and the decoded value.
func codecRoundTrip(t *testing.T, typ messageType, msg interface{}) ([]byte, interface{}) {
	t.Helper()
	enc, err := encodeMessage(typ, msg)
	if err != nil {
		t.Fatalf("encode %T: %v", msg, err)
	}
	if enc[0] != uint8(typ) {
		t.Fatalf("type byte %d, want %d", enc[0], typ)
	}
	out := reflect.New(reflect.TypeOf(msg).Elem())
	if err := decodeMessage(enc[1:], out.Interface()); err != nil {
		t.Fatalf("decode %T: %v", msg, err)
	}
	return enc, out.Interface()
}

func TestMessageRoundTrip(t *testing.T) {
	nodeFilter, err := encodeFilter(filterNodeType, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	tagFilter, err := encodeFilter(filterTagType, &filterTag{Tag: "role", Expr: "^web$"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		typ  messageType
		msg  interface{}
	}{
		{"leave", messageLeaveType, &messageLeave{LTime: 9, Node: "n1"}},
		{"leave prune", messageLeaveType, &messageLeave{LTime: 1 << 40, Node: "n1", Prune: true}},
		{"join", messageJoinType, &messageJoin{LTime: 300, Node: "node-ü"}},
		{"user event", messageUserEventType, &messageUserEvent{LTime: 7, Name: "deploy", Payload: []byte{0, 1, 0xff}, CC: true}},
		{"user event no payload", messageUserEventType, &messageUserEvent{LTime: 7, Name: "deploy"}},
		{"push-pull", messagePushPullType, &messagePushPull{
			LTime:        12,
			StatusLTimes: map[string]LamportTime{"a": 1, "b": 1 << 33, "c": 0},
			LeftMembers:  []string{"c"},
			EventLTime:   5,
			Events: []*userEvents{nil, {LTime: 1, Events: []userEvent{{Name: "x", Payload: []byte("1")}, {Name: "y"}}}, nil,
				{LTime: 3, Events: []userEvent{}}},
			QueryLTime: 4,
		}},
		{"query", messageQueryType, &messageQuery{
			LTime: 3, ID: 1<<31 - 1, Addr: net.ParseIP("::ffff:10.0.0.1"), Port: 65535, SourceNode: "src",
			Filters: [][]byte{nodeFilter, tagFilter}, Flags: queryFlagAck | queryFlagNoBroadcast, RelayFactor: 255,
			Timeout: -time.Second, Name: "_serf_ping", Payload: []byte("p"),
		}},
		{"query response", messageQueryResponseType, &messageQueryResponse{LTime: 3, ID: 99, From: "n2", Flags: queryFlagAck, Payload: []byte{}}},
		{"conflict member", messageConflictResponseType, &Member{
			Name: "n1", Addr: net.IP{127, 0, 0, 1}, Port: 7946, Tags: map[string]string{"role": "db", "dc": "x"},
			Status: StatusLeft, ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 5,
		}},
		{"key request", messageKeyRequestType, &keyRequest{Key: bytes.Repeat([]byte{7}, 32)}},
		{"key response", messageKeyResponseType, &nodeKeyResponse{Result: true, Message: "ok", Keys: []string{"k1", "k2"}, PrimaryKey: "k1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got := codecRoundTrip(t, tc.typ, tc.msg)
			if !reflect.DeepEqual(got, tc.msg) {
				t.Fatalf("round trip changed the message:\n got  %#v\n want %#v", got, tc.msg)
			}
		})
	}
}

// TestMessageFieldOrder pins the wire keys of every struct: all fields,
// named as in Serf, in ascending byte order.
func TestMessageFieldOrder(t *testing.T) {
	tests := []struct {
		msg  interface{}
		keys string
	}{
		{&messageLeave{}, "LTime Node Prune"},
		{&messageJoin{}, "LTime Node"},
		{&messagePushPull{}, "EventLTime Events LTime LeftMembers QueryLTime StatusLTimes"},
		{&userEvents{}, "Events LTime"},
		{&userEvent{}, "Name Payload"},
		{&messageUserEvent{}, "CC LTime Name Payload"},
		{&messageQuery{}, "Addr Filters Flags ID LTime Name Payload Port RelayFactor SourceNode Timeout"},
		{&messageQueryResponse{}, "Flags From ID LTime Payload"},
		{&Member{}, "Addr DelegateCur DelegateMax DelegateMin Name Port ProtocolCur ProtocolMax ProtocolMin Status Tags"},
		{&filterTag{}, "Expr Tag"},
		{&relayHeader{}, "DestAddr DestName"},
		{&net.UDPAddr{}, "IP Port Zone"},
		{&keyRequest{}, "Key"},
		{&nodeKeyResponse{}, "Keys Message PrimaryKey Result"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%T", tc.msg), func(t *testing.T) {
			enc, err := encodeMessage(0, tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			keys, _ := codecFields(t, enc)
			if got := strings.Join(keys, " "); got != tc.keys {
				t.Fatalf("wire keys %q, want %q", got, tc.keys)
			}
		})
	}
}

// TestMessageNilVersusEmpty checks that nil and empty values keep their
// distinct wire forms (c0 against a0 or 90) and survive decoding.
func TestMessageNilVersusEmpty(t *testing.T) {
	tests := []struct {
		name  string
		typ   messageType
		msg   interface{}
		field string
		wire  string
	}{
		{"event payload nil", messageUserEventType, &messageUserEvent{}, "Payload", "c0"},
		{"event payload empty", messageUserEventType, &messageUserEvent{Payload: []byte{}}, "Payload", "a0"},
		{"query payload nil", messageQueryType, &messageQuery{}, "Payload", "c0"},
		{"query payload empty", messageQueryType, &messageQuery{Payload: []byte{}}, "Payload", "a0"},
		{"query addr nil", messageQueryType, &messageQuery{}, "Addr", "c0"},
		{"query filters nil", messageQueryType, &messageQuery{}, "Filters", "c0"},
		{"query filters empty", messageQueryType, &messageQuery{Filters: [][]byte{}}, "Filters", "90"},
		{"query filter entry empty", messageQueryType, &messageQuery{Filters: [][]byte{{}}}, "Filters", "91a0"},
		{"ack payload nil", messageQueryResponseType, &messageQueryResponse{Flags: queryFlagAck}, "Payload", "c0"},
		{"response payload empty", messageQueryResponseType, &messageQueryResponse{Payload: []byte{}}, "Payload", "a0"},
		{"left members nil", messagePushPullType, &messagePushPull{}, "LeftMembers", "c0"},
		{"left members empty", messagePushPullType, &messagePushPull{LeftMembers: []string{}}, "LeftMembers", "90"},
		{"status ltimes nil", messagePushPullType, &messagePushPull{}, "StatusLTimes", "c0"},
		{"status ltimes empty", messagePushPullType, &messagePushPull{StatusLTimes: map[string]LamportTime{}}, "StatusLTimes", "80"},
		{"event ring slots nil", messagePushPullType, &messagePushPull{Events: make([]*userEvents, 3)}, "Events", "93c0c0c0"},
		{"list-keys request key", messageKeyRequestType, &keyRequest{Key: []byte{}}, "Key", "a0"},
		{"key response keys nil", messageKeyResponseType, &nodeKeyResponse{}, "Keys", "c0"},
		{"member tags nil", messageConflictResponseType, &Member{}, "Tags", "c0"},
		{"member tags empty", messageConflictResponseType, &Member{Tags: map[string]string{}}, "Tags", "80"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, got := codecRoundTrip(t, tc.typ, tc.msg)
			if raw := codecField(t, enc, tc.field); !bytes.Equal(raw, codecHex(t, tc.wire)) {
				t.Errorf("%s encodes as %x, want %s", tc.field, raw, tc.wire)
			}
			// DeepEqual tells a nil slice or map from an empty one.
			if !reflect.DeepEqual(got, tc.msg) {
				t.Errorf("decoded %#v, want %#v", got, tc.msg)
			}
		})
	}
}

// TestMessageStringForms checks gossip's string family for both string and
// []byte fields: fixstr, then str16 from 32 bytes on (never str8 d9), then
// str32.
func TestMessageStringForms(t *testing.T) {
	tests := []struct {
		n    int
		head string
	}{
		{0, "a0"},
		{1, "a1"},
		{31, "bf"},
		{32, "da0020"},
		{33, "da0021"},
		{44, "da002c"},
		{255, "da00ff"},
		{256, "da0100"},
		{65535, "daffff"},
		{65536, "db00010000"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			s := strings.Repeat("x", tc.n)
			want := append(codecHex(t, tc.head), s...)

			enc, got := codecRoundTrip(t, messageUserEventType, &messageUserEvent{Name: s, Payload: []byte(s)})
			for _, field := range []string{"Name", "Payload"} {
				if raw := codecField(t, enc, field); !bytes.Equal(raw, want) {
					t.Errorf("%s of %d bytes starts %x, want %s", field, tc.n, raw[:min(len(raw), 5)], tc.head)
				}
			}
			ev := got.(*messageUserEvent)
			if ev.Name != s || string(ev.Payload) != s {
				t.Errorf("round trip lost bytes")
			}
		})
	}
}

// TestMessageIntegerForms checks that unsigned fields use fixint/cc-cf and
// signed ones (Timeout, Status, the relay port) use fixint/d0-d3.
func TestMessageIntegerForms(t *testing.T) {
	tests := []struct {
		name  string
		typ   messageType
		msg   interface{}
		field string
		wire  string
	}{
		{"ltime fixint", messageJoinType, &messageJoin{LTime: 127}, "LTime", "7f"},
		{"ltime uint8", messageJoinType, &messageJoin{LTime: 128}, "LTime", "cc80"},
		{"ltime uint16", messageJoinType, &messageJoin{LTime: 256}, "LTime", "cd0100"},
		{"ltime uint32", messageJoinType, &messageJoin{LTime: 1 << 16}, "LTime", "ce00010000"},
		{"ltime uint64", messageJoinType, &messageJoin{LTime: 1 << 32}, "LTime", "cf0000000100000000"},
		{"query id", messageQueryType, &messageQuery{ID: 658771027}, "ID", "ce27440c53"},
		{"port", messageQueryType, &messageQuery{Port: 19101}, "Port", "cd4a9d"},
		{"relay factor", messageQueryType, &messageQuery{RelayFactor: 200}, "RelayFactor", "ccc8"},
		{"timeout zero", messageQueryType, &messageQuery{}, "Timeout", "00"},
		{"timeout fixint", messageQueryType, &messageQuery{Timeout: 127}, "Timeout", "7f"},
		{"timeout int16", messageQueryType, &messageQuery{Timeout: 128}, "Timeout", "d10080"},
		{"timeout 2s", messageQueryType, &messageQuery{Timeout: 2 * time.Second}, "Timeout", "d277359400"},
		{"timeout 3.2s", messageQueryType, &messageQuery{Timeout: 3200 * time.Millisecond}, "Timeout", "d300000000bebc2000"},
		{"timeout negative", messageQueryType, &messageQuery{Timeout: -1}, "Timeout", "ff"},
		{"member status", messageConflictResponseType, &Member{Status: StatusFailed}, "Status", "04"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, got := codecRoundTrip(t, tc.typ, tc.msg)
			if raw := codecField(t, enc, tc.field); !bytes.Equal(raw, codecHex(t, tc.wire)) {
				t.Errorf("%s encodes as %x, want %s", tc.field, raw, tc.wire)
			}
			if !reflect.DeepEqual(got, tc.msg) {
				t.Errorf("decoded %#v, want %#v", got, tc.msg)
			}
		})
	}

	t.Run("relay port", func(t *testing.T) {
		enc, err := encodeRelayMessage(messageQueryResponseType, net.UDPAddr{IP: net.IP{127, 0, 0, 1}, Port: 19402}, "node-a", &messageQueryResponse{})
		if err != nil {
			t.Fatal(err)
		}
		if want := codecHex(t, "a4 506f7274 d1 4bca"); !bytes.Contains(enc, want) {
			t.Fatalf("relay header %x lacks signed port %x", enc, want)
		}
	})
}

// TestMessageDecodeLenient checks that decoding is lenient, as in Serf:
// unknown keys are skipped, missing keys stay zero, nil gives the zero
// struct, and the new-spec str8 and bin forms are accepted.
func TestMessageDecodeLenient(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want messageUserEvent
	}{
		{"unknown keys skipped", "83 a4 4e616d65 a1 78 a5 4578747261 92 01 81 a1 61 c0 a2 4343 c3", messageUserEvent{Name: "x", CC: true}},
		{"missing keys zero", "81 a5 4c54696d65 05", messageUserEvent{LTime: 5}},
		{"nil is the zero struct", "c0", messageUserEvent{}},
		{"empty map", "80", messageUserEvent{}},
		{"str8 and bin accepted", "82 a4 4e616d65 d9 01 61 a7 5061796c6f6164 c4 02 0102", messageUserEvent{Name: "a", Payload: []byte{1, 2}}},
		{"key order free", "82 a7 5061796c6f6164 a1 70 a4 4e616d65 a1 6e", messageUserEvent{Name: "n", Payload: []byte("p")}},
		{"keys are case-sensitive", "81 a4 6e616d65 a1 78", messageUserEvent{}},
		{"trailing bytes ignored", "81 a2 4343 c3 ffff", messageUserEvent{CC: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got messageUserEvent
			if err := decodeMessage(codecHex(t, tc.hex), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decoded %#v, want %#v", got, tc.want)
			}
		})
	}
}

// codecDecodeTargets returns a fresh value of every type a Serf message body
// can be decoded into.
func codecDecodeTargets() []interface{} {
	return []interface{}{
		new(messageLeave), new(messageJoin), new(messagePushPull), new(messageUserEvent),
		new(messageQuery), new(messageQueryResponse), new(Member), new(keyRequest),
		new(nodeKeyResponse), new(filterTag), new([]string), new(map[string]string), new(relayHeader),
	}
}

// TestMessageDecodeMalformed feeds broken bodies to every message type:
// each must give an error, never a panic.
func TestMessageDecodeMalformed(t *testing.T) {
	tests := []struct {
		name string
		hex  string
	}{
		{"nil buffer", ""},
		{"never-used byte c1", "c1"},
		{"truncated map", "82 a4 4e616d65"},
		{"truncated key", "81 a5 4c54"},
		{"truncated str16", "81 a4 4e616d65 da 0010 41"},
		{"truncated uint64", "81 a5 4c54696d65 cf 0000"},
		{"truncated array", "81 a6 4576656e7473 93 c0"},
		{"map32 claim", "df ffffffff"},
		{"array32 claim", "dd ffffffff"},
		{"str32 claim", "db ffffffff"},
		{"bin32 claim", "c6 ffffffff"},
		{"ext32 claim", "c9 ffffffff 01"},
		{"fixext truncated", "d8 01 00"},
		{"c1 inside", "81 a1 58 c1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := codecHex(t, tc.hex)
			if tc.hex == "" {
				buf = nil
			}
			for _, out := range codecDecodeTargets() {
				if err := decodeMessage(buf, out); err == nil {
					t.Errorf("%T: decoded %x without error", out, buf)
				}
			}
			if _, _, err := decodeRelayHeader(buf); err == nil {
				t.Errorf("relay header: decoded %x without error", buf)
			}
		})
	}
}

// TestMessageDecodeWrongTypes feeds well-formed msgpack of the wrong shape:
// the decoder may reject it or coerce it, but must not panic.
func TestMessageDecodeWrongTypes(t *testing.T) {
	for _, h := range []string{
		"a3 616263", "92 01 02", "01", "ff", "cb 3ff0000000000000", "c3",
		"81 a5 4c54696d65 ff",                  // negative into an unsigned field
		"81 a5 4c54696d65 cb 3ff0000000000000", // float into an unsigned field
		"81 a6 4576656e7473 91 a3 616263",      // string as a ring slot
		"81 a6 4576656e7473 91 91 01",          // array as a ring slot
		"81 ac 5374617475734c54696d6573 92 01 02",
		"81 a4 54616773 81 01 02",             // integer tag key
		"81 a7 46696c74657273 91 81 a1 61 01", // map as a filter
		"81 a8 4465737441646472 a3 616263",    // string as DestAddr
		"81 01 02",                            // integer field key
		"81 c0 c0",                            // nil field key
		"d4 01 01",                            // fixext
	} {
		for _, out := range codecDecodeTargets() {
			_ = decodeMessage(codecHex(t, h), out) // must return, with or without error
		}
		_, _, _ = decodeRelayHeader(codecHex(t, h))
	}
}

// TestMessageHostileLengthClaims sends tiny messages that declare huge
// strings, arrays and maps. Each must be rejected without allocating more
// than a trifle: before checkDeclaredLengths, go-msgpack pre-allocated up
// to MaxInitLen elements (megabytes for maps and struct slices) per claim.
func TestMessageHostileLengthClaims(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		out  func() interface{}
	}{
		{"push-pull Events array32", "81 a6 4576656e7473 dd ffffffff", func() interface{} { return new(messagePushPull) }},
		{"push-pull StatusLTimes map32", "81 ac 5374617475734c54696d6573 df ffffffff", func() interface{} { return new(messagePushPull) }},
		{"push-pull LeftMembers array32", "81 ab 4c6566744d656d62657273 dd ffffffff", func() interface{} { return new(messagePushPull) }},
		{"push-pull slot Events array32", "81 a6 4576656e7473 91 81 a6 4576656e7473 dd ffffffff", func() interface{} { return new(messagePushPull) }},
		{"push-pull Events array16 of nils", "81 a6 4576656e7473 dc ffff c0c0c0", func() interface{} { return new(messagePushPull) }},
		{"user event Payload str32", "81 a7 5061796c6f6164 db ffffffff", func() interface{} { return new(messageUserEvent) }},
		{"user event Payload bin32", "81 a7 5061796c6f6164 c6 ffffffff", func() interface{} { return new(messageUserEvent) }},
		{"user event Name str32", "81 a4 4e616d65 db ffffffff", func() interface{} { return new(messageUserEvent) }},
		{"query Filters array32", "81 a7 46696c74657273 dd ffffffff", func() interface{} { return new(messageQuery) }},
		{"query filter str32", "81 a7 46696c74657273 91 db ffffffff", func() interface{} { return new(messageQuery) }},
		{"member Tags map32", "81 a4 54616773 df ffffffff", func() interface{} { return new(Member) }},
		{"tags map32", "df ffffffff", func() interface{} { return new(map[string]string) }},
		{"node filter array32", "dd ffffffff", func() interface{} { return new([]string) }},
		{"key response Keys array32", "81 a4 4b657973 dd ffffffff", func() interface{} { return new(nodeKeyResponse) }},
		{"unknown key map32", "81 a1 58 df ffffffff", func() interface{} { return new(messageJoin) }},
		{"top-level map32", "df ffffffff a1 58", func() interface{} { return new(messageJoin) }},
		{"relay DestAddr IP str32", "81 a8 4465737441646472 81 a2 4950 db ffffffff", func() interface{} { return new(relayHeader) }},
	}
	const rounds = 50
	start := time.Now()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := codecHex(t, tc.hex)
			// A rejected message costs an error value, not the 0.5-5 MB per
			// message an unchecked claim used to cost. The lowest of three
			// trials keeps other goroutines' allocations out of the figure.
			best := uint64(1 << 62)
			for trial := 0; trial < 3; trial++ {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				for i := 0; i < rounds; i++ {
					if err := decodeMessage(buf, tc.out()); err == nil {
						t.Fatalf("decoded %x without error", buf)
					}
				}
				runtime.ReadMemStats(&after)
				best = min(best, (after.TotalAlloc-before.TotalAlloc)/rounds)
			}
			if best > 16<<10 {
				t.Errorf("rejecting %x allocated %d bytes per message", buf, best)
			}
		})
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("rejecting %d hostile messages took %s", rounds*len(tests), d)
	}
}

// TestMessageDeclaredLengthsAccepted checks that the length walk accepts
// every valid form, including claims that use the input exactly.
func TestMessageDeclaredLengthsAccepted(t *testing.T) {
	for _, h := range []string{
		"00", "7f", "e0", "c0", "c2", "c3", "cc ff", "cd ffff", "ce ffffffff", "cf ffffffffffffffff",
		"d0 80", "d1 8000", "d2 80000000", "d3 8000000000000000", "ca 00000000", "cb 0000000000000000",
		"a0", "a1 41", "d9 01 41", "da 0001 41", "db 00000001 41", "c4 01 41", "c5 0001 41", "c6 00000001 41",
		"c7 01 05 41", "c8 0001 05 41", "c9 00000001 05 41", "d4 05 41", "d5 05 4141", "d6 05 41414141",
		"d7 05 4141414141414141", "d8 05 41414141414141414141414141414141",
		"90", "91 c0", "dc 0002 c0c0", "dd 00000002 c0c0", "80", "81 c0c0", "de 0001 c0c0", "df 00000001 c0c0",
		"92 91 91 90 81 a1 61 92 01 02",
	} {
		if err := checkDeclaredLengths(codecHex(t, h)); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
}

func TestMessageRelayHeaderRest(t *testing.T) {
	head, err := encodeRelayMessage(messageQueryResponseType, net.UDPAddr{IP: net.IP{10, 0, 0, 1}, Port: 7946}, "n1", &messageQueryResponse{ID: 1})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := encodeMessage(messageQueryResponseType, &messageQueryResponse{ID: 1})
	if err != nil {
		t.Fatal(err)
	}
	header := head[1 : len(head)-len(resp)]
	want := relayHeader{DestAddr: net.UDPAddr{IP: net.IP{10, 0, 0, 1}, Port: 7946}, DestName: "n1"}

	tests := []struct {
		name string
		rest []byte
	}{
		{"query response", resp},
		{"nothing after the header", []byte{}},
		{"garbage is passed on untouched", []byte{0xc1, 0xff, 0x00}},
		{"another relay", head},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := append(append([]byte{}, header...), tc.rest...)
			h, rest, err := decodeRelayHeader(buf)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(h, want) {
				t.Errorf("header %#v, want %#v", h, want)
			}
			if !bytes.Equal(rest, tc.rest) {
				t.Errorf("rest %x, want %x", rest, tc.rest)
			}
			if len(rest) > 0 && &rest[0] != &buf[len(header)] {
				t.Errorf("rest is a copy; it should be the tail of the input")
			}
		})
	}

	t.Run("truncated header", func(t *testing.T) {
		for i := 0; i < len(header); i++ {
			if _, _, err := decodeRelayHeader(header[:i]); err == nil {
				t.Errorf("header cut to %d bytes decoded without error", i)
			}
		}
	})
}

// TestMessageDecodedBytesOwnTheirMemory guards against zero-copy decoding:
// memberlist may reuse a packet buffer after NotifyMsg returns, so decoded
// []byte fields must not alias the input.
func TestMessageDecodedBytesOwnTheirMemory(t *testing.T) {
	enc, err := encodeMessage(messageQueryType, &messageQuery{Addr: net.IP{1, 2, 3, 4}, Payload: []byte("payload"), Filters: [][]byte{[]byte("f")}})
	if err != nil {
		t.Fatal(err)
	}
	var q messageQuery
	if err := decodeMessage(enc[1:], &q); err != nil {
		t.Fatal(err)
	}
	for i := range enc {
		enc[i] = 'X'
	}
	if string(q.Payload) != "payload" || !bytes.Equal(q.Addr, []byte{1, 2, 3, 4}) || string(q.Filters[0]) != "f" {
		t.Fatalf("decoded fields changed with the input buffer: %#v", q)
	}
}

// TestMessageCodecConcurrent runs the pooled encoders and decoders from
// many goroutines; with -race it checks that pooled state is never shared.
func TestMessageCodecConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				want := &messageUserEvent{LTime: LamportTime(g*1000 + i), Name: fmt.Sprintf("ev-%d-%d", g, i), Payload: bytes.Repeat([]byte{byte(g)}, i)}
				enc, err := encodeMessage(messageUserEventType, want)
				if err != nil {
					errs <- err
					return
				}
				var got messageUserEvent
				if err := decodeMessage(enc[1:], &got); err != nil {
					errs <- err
					return
				}
				if got.LTime != want.LTime || got.Name != want.Name || !bytes.Equal(got.Payload, want.Payload) {
					errs <- fmt.Errorf("goroutine %d round %d: got %#v", g, i, got)
					return
				}
				if i%50 == 0 {
					_ = decodeMessage([]byte{0xdf, 0xff}, &got) // failures must not poison the pools
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMessageQueryFlags(t *testing.T) {
	tests := []struct {
		flags            uint32
		ack, noBroadcast bool
		responseIsAck    bool
	}{
		{0, false, false, false},
		{queryFlagAck, true, false, true},
		{queryFlagNoBroadcast, false, true, false},
		{queryFlagAck | queryFlagNoBroadcast, true, true, true},
	}
	for _, tc := range tests {
		q := messageQuery{Flags: tc.flags}
		r := messageQueryResponse{Flags: tc.flags}
		if q.Ack() != tc.ack || q.NoBroadcast() != tc.noBroadcast || r.Ack() != tc.responseIsAck {
			t.Errorf("flags %d: Ack %v NoBroadcast %v response Ack %v", tc.flags, q.Ack(), q.NoBroadcast(), r.Ack())
		}
	}
}

func TestMessageTypeCodes(t *testing.T) {
	// The codes are the type bytes on the wire, Serf's values.
	tests := []struct {
		typ  messageType
		code uint8
		name string
	}{
		{messageLeaveType, 0, "leave"},
		{messageJoinType, 1, "join"},
		{messagePushPullType, 2, "push-pull"},
		{messageUserEventType, 3, "user-event"},
		{messageQueryType, 4, "query"},
		{messageQueryResponseType, 5, "query-response"},
		{messageConflictResponseType, 6, "conflict-response"},
		{messageKeyRequestType, 7, "key-request"},
		{messageKeyResponseType, 8, "key-response"},
		{messageRelayType, 9, "relay"},
		{messageType(200), 200, "unknown(200)"},
	}
	for _, tc := range tests {
		if uint8(tc.typ) != tc.code || tc.typ.String() != tc.name {
			t.Errorf("type %d %q, want %d %q", uint8(tc.typ), tc.typ, tc.code, tc.name)
		}
	}
	if filterNodeType != 0 || filterTagType != 1 {
		t.Errorf("filter codes %d/%d, want 0/1", filterNodeType, filterTagType)
	}
}
