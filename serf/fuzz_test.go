package serf

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"
)

// fuzzSeeds returns captured Serf payloads (type byte first) and node metas
// from the gossip vectors, or nothing when the vectors are not available.
func fuzzSeeds() (payloads, metas [][]byte) {
	dir, err := findGossipVectorsDir()
	if err != nil {
		return nil, nil
	}
	files, err := listGossipVectorFiles(dir)
	if err != nil {
		return nil, nil
	}
	for _, f := range files {
		doc, err := readVectorJSON(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			continue
		}
		items, err := collectVectorItems(doc)
		if err != nil {
			continue
		}
		for _, s := range items.serf {
			payloads = append(payloads, s.raw)
		}
		for _, m := range items.metas {
			metas = append(metas, m.raw)
		}
	}
	return payloads, metas
}

// fuzzSpecPayloads are hand-built messages of each kind plus hostile shapes, so
// the targets have seeds even without the vector files.
var fuzzSpecPayloads = []string{
	"01 82 a5 4c54696d65 07 a4 4e6f6465 a2 6e31",
	"00 83 a5 4c54696d65 08 a4 4e6f6465 a2 6e31 a5 5072756e65 c3",
	"03 84 a2 4343 c3 a5 4c54696d65 03 a4 4e616d65 a3 646570 a7 5061796c6f6164 a2 7631",
	"05 85 a5 466c616773 01 a4 46726f6d a2 6e32 a2 4944 2a a5 4c54696d65 05 a7 5061796c6f6164 c0",
	"09 82 a8 4465737441646472 83 a2 4950 a4 0a000001 a4 506f7274 d1 1f0a a4 5a6f6e65 a0 a8 446573744e616d65 a2 6e31" +
		"05 85 a5 466c616773 01 a4 46726f6d a2 6e32 a2 4944 2a a5 4c54696d65 05 a7 5061796c6f6164 c0",
	"06 c0",
	"02 81 a6 4576656e7473 dd ffffffff",
	"02 81 ac 5374617475734c54696d6573 df ffffffff",
	"04 81 a7 46696c74657273 91 db ffffffff",
}

// fuzzMessageTarget returns a fresh value to decode a body of type t into,
// or nil for a type that never carries a body of its own.
func fuzzMessageTarget(t messageType) interface{} {
	switch t {
	case messageLeaveType:
		return new(messageLeave)
	case messageJoinType:
		return new(messageJoin)
	case messagePushPullType:
		return new(messagePushPull)
	case messageUserEventType:
		return new(messageUserEvent)
	case messageQueryType:
		return new(messageQuery)
	case messageQueryResponseType:
		return new(messageQueryResponse)
	case messageConflictResponseType:
		return new(Member)
	case messageKeyRequestType:
		return new(keyRequest)
	case messageKeyResponseType:
		return new(nodeKeyResponse)
	}
	return nil
}

// fuzzRoundTrip checks that a value decoded from fuzz input encodes and
// decodes back to itself.
func fuzzRoundTrip(t *testing.T, typ messageType, v interface{}) {
	t.Helper()
	enc, err := encodeMessage(typ, v)
	if err != nil {
		t.Fatalf("re-encode %T: %v", v, err)
	}
	again := reflect.New(reflect.TypeOf(v).Elem()).Interface()
	if err := decodeMessage(enc[1:], again); err != nil {
		t.Fatalf("decode of our own encoding %x: %v", enc, err)
	}
	if !reflect.DeepEqual(again, v) {
		t.Fatalf("round trip changed %T:\n got  %#v\n want %#v", v, again, v)
	}
}

// FuzzDecodeMessage feeds a type byte and a body to the decoder of that
// message type (relay: header, then the relayed message). A body of an
// unknown type goes to every decoder.
func FuzzDecodeMessage(f *testing.F) {
	payloads, _ := fuzzSeeds()
	for _, p := range payloads {
		f.Add(p)
	}
	for _, h := range fuzzSpecPayloads {
		f.Add(codecHex(f, h))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		typ, body := messageType(data[0]), data[1:]
		if typ == messageRelayType {
			_, rest, err := decodeRelayHeader(body)
			if err != nil || len(rest) == 0 {
				return
			}
			if target := fuzzMessageTarget(messageType(rest[0])); target != nil && decodeMessage(rest[1:], target) == nil {
				fuzzRoundTrip(t, messageType(rest[0]), target)
			}
			return
		}
		if target := fuzzMessageTarget(typ); target != nil {
			if decodeMessage(body, target) == nil {
				fuzzRoundTrip(t, typ, target)
			}
			return
		}
		for code := messageLeaveType; code <= messageKeyResponseType; code++ {
			target := fuzzMessageTarget(code)
			if decodeMessage(body, target) == nil {
				fuzzRoundTrip(t, code, target)
			}
		}
	})
}

// FuzzDecodeTags feeds node meta to decodeTags: legacy meta must become a
// role, tagged meta must round-trip.
func FuzzDecodeTags(f *testing.F) {
	_, metas := fuzzSeeds()
	for _, m := range metas {
		f.Add(m)
	}
	for _, h := range []string{"", "776562", "ff80", "ff 81 a4 726f6c65 a3 776562", "ff c0", "ff df ffffffff", "ff 81 db ffffffff"} {
		f.Add(codecHex(f, h))
	}
	f.Fuzz(func(t *testing.T, meta []byte) {
		tags, err := decodeTags(meta)
		if len(meta) == 0 || meta[0] != tagMagicByte {
			if err != nil || len(tags) != 1 || tags["role"] != string(meta) {
				t.Fatalf("legacy meta %x gave %v, %v", meta, tags, err)
			}
			return
		}
		if err != nil {
			return
		}
		enc, err := encodeTags(tags, 5)
		if err != nil {
			t.Fatalf("re-encode %v: %v", tags, err)
		}
		again, err := decodeTags(enc)
		if err != nil {
			t.Fatalf("decode of our own meta %x: %v", enc, err)
		}
		if len(again) != len(tags) || (len(tags) > 0 && !reflect.DeepEqual(again, tags)) {
			t.Fatalf("round trip changed tags: %v -> %v", tags, again)
		}
	})
}

// FuzzDecodeRelayHeader checks that a relay header decodes without panics,
// that the rest is the unread tail of the input, and that the header
// survives re-encoding.
func FuzzDecodeRelayHeader(f *testing.F) {
	payloads, _ := fuzzSeeds()
	for _, p := range payloads {
		if len(p) > 0 && messageType(p[0]) == messageRelayType {
			f.Add(p[1:])
		}
	}
	f.Add(codecHex(f, "82 a8 4465737441646472 83 a2 4950 a4 0a000001 a4 506f7274 d1 1f0a a4 5a6f6e65 a0 a8 446573744e616d65 a2 6e31 05 c0"))
	f.Add(codecHex(f, "81 a8 4465737441646472 81 a2 4950 db ffffffff"))
	f.Fuzz(func(t *testing.T, buf []byte) {
		h, rest, err := decodeRelayHeader(buf)
		if err != nil {
			return
		}
		if len(rest) > len(buf) || !bytes.Equal(rest, buf[len(buf)-len(rest):]) {
			t.Fatalf("rest %x is not the tail of %x", rest, buf)
		}
		enc, err := encodeRelayMessage(messageQueryResponseType, h.DestAddr, h.DestName, &messageQueryResponse{})
		if err != nil {
			t.Fatalf("re-encode %#v: %v", h, err)
		}
		h2, rest2, err := decodeRelayHeader(enc[1:])
		if err != nil {
			t.Fatalf("decode of our own header %x: %v", enc, err)
		}
		if !reflect.DeepEqual(h2, h) || len(rest2) == 0 || messageType(rest2[0]) != messageQueryResponseType {
			t.Fatalf("round trip changed the header: %#v -> %#v (rest %x)", h, h2, rest2)
		}
	})
}

// FuzzDecodeFilter decodes query filters the way the query handler does:
// type byte, then a node list or a tag filter.
func FuzzDecodeFilter(f *testing.F) {
	payloads, _ := fuzzSeeds()
	for _, p := range payloads {
		if len(p) == 0 || messageType(p[0]) != messageQueryType {
			continue
		}
		var q messageQuery
		if decodeMessage(p[1:], &q) == nil {
			for _, filt := range q.Filters {
				f.Add(filt)
			}
		}
	}
	for _, h := range []string{"00 92 a2 6e31 a2 6e32", "01 82 a4 45787072 a5 5e77656224 a3 546167 a4 726f6c65", "00 dd ffffffff", "01 c0", "02 90"} {
		f.Add(codecHex(f, h))
	}
	f.Fuzz(func(t *testing.T, filt []byte) {
		if len(filt) == 0 {
			return
		}
		var v interface{}
		switch filterType(filt[0]) {
		case filterNodeType:
			v = new([]string)
		case filterTagType:
			v = new(filterTag)
		default:
			return
		}
		if decodeMessage(filt[1:], v) != nil {
			return
		}
		enc, err := encodeFilter(filterType(filt[0]), v)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", v, err)
		}
		again := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if err := decodeMessage(enc[1:], again); err != nil {
			t.Fatalf("decode of our own filter %x: %v", enc, err)
		}
		if !reflect.DeepEqual(again, v) {
			t.Fatalf("round trip changed the filter: %#v -> %#v", v, again)
		}
	})
}
