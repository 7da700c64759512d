package client

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"reflect"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// codecMembers is what the codec alone makes of a members reply: the
// reference decodeMembersReply must match.
func codecMembers(t testing.TB, raw []byte) ([]Member, error) {
	t.Helper()
	var resp MembersResponse
	err := codec.NewDecoderBytes(raw, newRPCHandle()).Decode(&resp)
	return resp.Members, err
}

func encodeRPC(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := codec.NewEncoder(&buf, newRPCHandle()).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func randomMembers(r *rand.Rand, n int) MembersResponse {
	statuses := []string{"alive", "leaving", "left", "failed", ""}
	resp := MembersResponse{Members: make([]Member, n)}
	for i := range resp.Members {
		m := &resp.Members[i]
		m.Name = fmt.Sprintf("node-%d-%s", i, bytes.Repeat([]byte("x"), r.IntN(300)))
		if r.IntN(2) == 0 {
			m.Addr = net.IPv4(10, byte(i>>8), byte(i), 1)
		} else {
			m.Addr = net.IPv4(10, 0, byte(i), 1).To4()
		}
		m.Port = uint16(r.IntN(65536))
		switch r.IntN(4) {
		case 0:
			m.Tags = nil
		case 1:
			m.Tags = map[string]string{}
		default:
			m.Tags = map[string]string{}
			for j := 0; j < r.IntN(20); j++ {
				m.Tags[fmt.Sprintf("k%d", j)] = string(bytes.Repeat([]byte("v"), r.IntN(70000/(j+1)+1)%400))
			}
		}
		m.Status = statuses[r.IntN(len(statuses))]
		m.ProtocolMin, m.ProtocolMax, m.ProtocolCur = uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256))
		m.DelegateMin, m.DelegateMax, m.DelegateCur = uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256))
	}
	return resp
}

// TestMembersFastPathMatchesCodec: replies as an agent encodes them,
// of every size class, decode on the fast path to what the codec makes.
func TestMembersFastPathMatchesCodec(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 15, 16, 17, 200, 70000} {
		if testing.Short() && n > 1000 {
			continue
		}
		raw := encodeRPC(t, randomMembers(r, n))
		fast, err := decodeMembersFast(raw)
		if err != nil {
			t.Fatalf("%d members: the fast path declined: %v", n, err)
		}
		want, err := codecMembers(t, raw)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("%d members: fast path and codec differ", n)
		}
	}
}

// TestMembersOddRepliesFallBack: shapes the fast path does not take
// still decode exactly as the codec does, errors included.
func TestMembersOddRepliesFallBack(t *testing.T) {
	type loose struct {
		Members []map[string]any
		Extra   []any `codec:",omitempty"`
	}
	cases := []struct {
		name string
		raw  []byte
	}{
		{"nil members", encodeRPC(t, map[string]any{"Members": nil})},
		{"no members key", encodeRPC(t, map[string]any{"Other": 1})},
		{"unknown keys everywhere", encodeRPC(t, map[string]any{
			"Before":  []any{1, "x", map[string]any{"a": []byte{1}}, 1.5, -3, true, nil},
			"Members": []map[string]any{{"Name": "a", "Extra": map[string]any{"deep": []any{1, 2}}, "Port": 7946}},
		})},
		{"port as a float", encodeRPC(t, loose{Members: []map[string]any{{"Name": "a", "Port": 1.0}}})},
		{"port too large", encodeRPC(t, loose{Members: []map[string]any{{"Name": "a", "Port": 70000}}})},
		{"negative protocol", encodeRPC(t, loose{Members: []map[string]any{{"Name": "a", "ProtocolMin": -1}}})},
		{"name twice", []byte{0x81, 0xa7, 'M', 'e', 'm', 'b', 'e', 'r', 's', 0x91, 0x82, 0xa4, 'N', 'a', 'm', 'e', 0xa1, 'a', 0xa4, 'N', 'a', 'm', 'e', 0xa1, 'b'}},
		{"tags with a nil value", encodeRPC(t, loose{Members: []map[string]any{{"Name": "a", "Tags": map[string]any{"k": nil}}}})},
		{"tag value a number", encodeRPC(t, loose{Members: []map[string]any{{"Name": "a", "Tags": map[string]any{"k": 5}}}})},
		{"empty address", encodeRPC(t, loose{Members: []map[string]any{{"Name": "a", "Addr": []byte{}}}})},
		{"address as a string", encodeRPC(t, loose{Members: []map[string]any{{"Name": "a", "Addr": "1234"}}})},
		{"not a map", encodeRPC(t, []any{1, 2})},
		{"truncated", encodeRPC(t, randomMembers(rand.New(rand.NewPCG(3, 4)), 3))[:40]},
		{"count larger than the bytes", []byte{0x81, 0xa7, 'M', 'e', 'm', 'b', 'e', 'r', 's', 0xdd, 0x7f, 0xff, 0xff, 0xff}},
		{"trailing bytes", append(encodeRPC(t, MembersResponse{}), 0xc0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, gotErr := decodeMembersReply(tc.raw, newRPCHandle())
			want, wantErr := codecMembers(t, tc.raw)
			if (gotErr != nil) != (wantErr != nil) {
				t.Fatalf("error %v, codec's %v", gotErr, wantErr)
			}
			if gotErr == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("got %#v, codec made %#v", got, want)
			}
		})
	}
}

// FuzzMembersReply: any bytes decode as the codec decodes them (same
// members, or an error on both sides), without a panic.
func FuzzMembersReply(f *testing.F) {
	f.Add(encodeRPC(f, randomMembers(rand.New(rand.NewPCG(5, 6)), 3)))
	f.Add(encodeRPC(f, MembersResponse{}))
	f.Add([]byte{0x81, 0xa7, 'M', 'e', 'm', 'b', 'e', 'r', 's', 0xc0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 1<<16 {
			return
		}
		got, gotErr := decodeMembersReply(raw, newRPCHandle())
		if _, err := decodeMembersFast(raw); err != nil {
			return // the codec decided; nothing of ours to compare
		}
		want, wantErr := codecMembers(t, raw)
		if gotErr != nil || wantErr != nil {
			t.Fatalf("fast path took bytes the codec refuses: %v / %v", gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fast path %#v, codec %#v", got, want)
		}
	})
}

func BenchmarkDecodeMembers1000(b *testing.B) {
	raw := encodeRPC(b, randomMembers(rand.New(rand.NewPCG(7, 8)), 1000))
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := decodeMembersFast(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("codec", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := codecMembers(b, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
