package serf

import (
	"testing"
	"time"
)

// FuzzQueryResponse feeds arbitrary query responses and acks to a member
// with a query running, both as raw gossip (type byte 5, then msgpack)
// and as decoded responses aimed at the running query. It must never
// panic or block, and the query only ever hands out an answer once per
// node, with the bytes that node sent.
func FuzzQueryResponse(f *testing.F) {
	s := fuzzNode(f, nil)
	d := &delegate{serf: s}
	q, err := s.Query("fuzz", nil, &QueryParam{RequestAck: true, Timeout: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(q.Close)
	resp := messageQueryResponse{LTime: q.lTime, ID: q.id, From: "n1", Payload: []byte("pong")}
	good, err := encodeMessage(messageQueryResponseType, &resp)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good[1:], "n1", []byte("pong"), false)
	f.Add(good[1:], "n2", []byte(nil), true)
	for _, h := range []string{"", "c0", "80", "85 a5 466c616773 01 a4 46726f6d a2 6e32 a2 4944 2a a5 4c54696d65 05 a7 5061796c6f6164 c0",
		"81 a7 5061796c6f6164 db ffffffff", "81 a4 46726f6d db ffffffff"} {
		f.Add(codecHex(f, h), "n3", []byte("x"), false)
	}
	seen := map[string]bool{}
	f.Fuzz(func(t *testing.T, raw []byte, from string, payload []byte, ack bool) {
		d.NotifyMsg(append([]byte{byte(messageQueryResponseType)}, raw...))
		r := messageQueryResponse{LTime: q.lTime, ID: q.id, From: from, Payload: payload}
		if ack {
			r.Flags = queryFlagAck
		}
		s.handleQueryResponse(&r)
		// Drain what arrived; the channels hold one answer (one member).
		for {
			select {
			case got := <-q.ResponseCh():
				if seen[got.From] {
					t.Fatalf("second response from %q", got.From)
				}
				seen[got.From] = true
				if got.From == from && !ack && string(got.Payload) != string(payload) {
					t.Fatalf("response from %q carries %x, sent %x", from, got.Payload, payload)
				}
				continue
			case <-q.AckCh():
				continue
			default:
			}
			break
		}
	})
}
