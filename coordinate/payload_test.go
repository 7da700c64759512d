package coordinate

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// The vectors in testdata/ are coordinate payloads captured from real
// Serf 0.10 agents.

type vectorCoordinate struct {
	Adjustment float64
	Error      float64
	Height     float64
	Vec        []float64
}

type vectorDecoded struct {
	PingVersion int              `json:"ping_version"`
	Coordinate  vectorCoordinate `json:"coordinate"`
}

// pingVector is one captured payload and what Serf says it contains.
type pingVector struct {
	name    string
	payload []byte
	want    vectorDecoded
}

func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read vector: %v", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in vector: %v", err)
	}
	return b
}

// loadPingVectors returns every ping payload found in the two vector files.
// The memberlist ack is decoded from the raw packet, so the test also checks
// that the payload hex in the file is really what travelled on the wire.
func loadPingVectors(t testing.TB) []pingVector {
	t.Helper()
	var direct struct {
		PayloadHex string        `json:"payload_hex"`
		Decoded    vectorDecoded `json:"decoded"`
		Initial    struct {
			PayloadHex string        `json:"payload_hex"`
			Decoded    vectorDecoded `json:"decoded"`
		} `json:"initial_coordinate_example"`
	}
	readJSON(t, "ping-payload-coordinate.json", &direct)

	var ack struct {
		PacketHex string `json:"packet_hex"`
		Message   struct {
			TypeByte   int           `json:"type_byte"`
			PayloadHex string        `json:"ack_payload_hex"`
			Decoded    vectorDecoded `json:"ack_payload_decoded"`
		} `json:"message"`
	}
	readJSON(t, "memberlist-ack-with-coordinate.json", &ack)

	packet := mustHex(t, ack.PacketHex)
	if len(packet) == 0 || int(packet[0]) != ack.Message.TypeByte {
		t.Fatalf("ack packet does not start with type byte %d", ack.Message.TypeByte)
	}
	// memberlist's ackResp: {SeqNo uint32, Payload []byte}.
	var ackResp struct {
		SeqNo   uint32
		Payload []byte
	}
	if err := codec.NewDecoderBytes(packet[1:], &codec.MsgpackHandle{}).Decode(&ackResp); err != nil {
		t.Fatalf("decode memberlist ack: %v", err)
	}
	if !bytes.Equal(ackResp.Payload, mustHex(t, ack.Message.PayloadHex)) {
		t.Fatalf("ack_payload_hex differs from the payload inside packet_hex")
	}

	return []pingVector{
		{"ping-payload-coordinate", mustHex(t, direct.PayloadHex), direct.Decoded},
		{"ping-payload-initial", mustHex(t, direct.Initial.PayloadHex), direct.Initial.Decoded},
		{"memberlist-ack-with-coordinate", ackResp.Payload, ack.Message.Decoded},
	}
}

func TestDecodePingPayloadVectors(t *testing.T) {
	for _, v := range loadPingVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			if v.want.PingVersion != PingVersion || v.payload[0] != PingVersion {
				t.Fatalf("vector version %d / byte %d, want %d", v.want.PingVersion, v.payload[0], PingVersion)
			}
			got, err := DecodePingPayload(v.payload)
			if err != nil {
				t.Fatalf("DecodePingPayload: %v", err)
			}
			want := &Coordinate{
				Vec:        v.want.Coordinate.Vec,
				Error:      v.want.Coordinate.Error,
				Adjustment: v.want.Coordinate.Adjustment,
				Height:     v.want.Coordinate.Height,
			}
			// JSON carries the shortest round-trip form, so equality is exact.
			if !sameCoordinate(got, want) {
				t.Fatalf("decoded %+v, want %+v", got, want)
			}
			if !got.IsValid() || !got.IsCompatibleWith(NewCoordinate(DefaultConfig())) {
				t.Fatal("captured coordinate is not usable with the default config")
			}
		})
	}
}

func TestEncodePingPayloadVectors(t *testing.T) {
	for _, v := range loadPingVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			c := &Coordinate{
				Vec:        v.want.Coordinate.Vec,
				Error:      v.want.Coordinate.Error,
				Adjustment: v.want.Coordinate.Adjustment,
				Height:     v.want.Coordinate.Height,
			}
			got, err := EncodePingPayload(c)
			if err != nil {
				t.Fatalf("EncodePingPayload: %v", err)
			}
			if !bytes.Equal(got, v.payload) {
				t.Fatalf("encoded\n%x\nwant\n%x", got, v.payload)
			}
			if len(got) != 130 { // the length Serf 0.10 sends for 8 dimensions
				t.Fatalf("payload is %d bytes, want 130", len(got))
			}
		})
	}
}

// TestEncodeInitialCoordinate checks the bytes of a fresh node without going
// through the JSON numbers.
func TestEncodeInitialCoordinate(t *testing.T) {
	var initial struct {
		Initial struct {
			PayloadHex string `json:"payload_hex"`
		} `json:"initial_coordinate_example"`
	}
	readJSON(t, "ping-payload-coordinate.json", &initial)
	got, err := EncodePingPayload(NewCoordinate(DefaultConfig()))
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, initial.Initial.PayloadHex); !bytes.Equal(got, want) {
		t.Fatalf("encoded\n%x\nwant\n%x", got, want)
	}
}

func TestEncodePingPayloadNil(t *testing.T) {
	if _, err := EncodePingPayload(nil); err == nil {
		t.Fatal("EncodePingPayload(nil) succeeded")
	}
}

// payloadWithDims builds a ping payload whose Vec holds n zero float64s.
func payloadWithDims(n int) []byte {
	buf := []byte{PingVersion, 0x81, 0xa3, 'V', 'e', 'c', 0xdc, byte(n >> 8), byte(n)}
	for range n {
		buf = append(buf, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	return buf
}

func TestDecodePingPayloadErrors(t *testing.T) {
	cases := []struct {
		name string
		buf  []byte
		want string
	}{
		{"nil", nil, "empty payload"},
		{"empty", []byte{}, "empty payload"},
		{"version 0", []byte{0x00, 0x80}, "Unsupported ping version: 0"},
		{"version 2", []byte{0x02, 0x80}, "Unsupported ping version: 2"},
		{"tag magic", []byte{0xff, 0x80}, "Unsupported ping version: 255"},
		{"version only", []byte{PingVersion}, "decode ping payload"},
		{"reserved byte", []byte{PingVersion, 0xc1}, "decode ping payload"},
		{"truncated float", []byte{PingVersion, 0x81, 0xa5, 'E', 'r', 'r', 'o', 'r', 0xcb, 0x3f}, "decode ping payload"},
		{"string as Error", []byte{PingVersion, 0x81, 0xa5, 'E', 'r', 'r', 'o', 'r', 0xa1, 'x'}, "decode ping payload"},
		{"array instead of map", []byte{PingVersion, 0x91, 0x01}, "decode ping payload"},
		{"huge array header", []byte{PingVersion, 0x81, 0xa3, 'V', 'e', 'c', 0xdd, 0xff, 0xff, 0xff, 0xff}, "decode ping payload"},
		{"huge map header", []byte{PingVersion, 0xdf, 0xff, 0xff, 0xff, 0xff}, "decode ping payload"},
		{"too many dimensions", payloadWithDims(MaxPayloadDimensionality + 1), "dimensions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodePingPayload(tc.buf)
			if err == nil {
				t.Fatalf("DecodePingPayload succeeded with %+v", got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestDecodePingPayloadLenient(t *testing.T) {
	cases := []struct {
		name string
		buf  []byte
		want *Coordinate
	}{
		// A msgpack nil decodes as the zero struct; Update then rejects it.
		{"nil value", []byte{PingVersion, 0xc0}, &Coordinate{}},
		{"empty map", []byte{PingVersion, 0x80}, &Coordinate{}},
		{"unknown key skipped", []byte{PingVersion, 0x81, 0xa1, 'X', 0x01}, &Coordinate{}},
		{"trailing bytes ignored", []byte{PingVersion, 0x80, 0xde, 0xad}, &Coordinate{}},
		{"max dimensions", payloadWithDims(MaxPayloadDimensionality), &Coordinate{Vec: make([]float64, MaxPayloadDimensionality)}},
		{"integer Error", []byte{PingVersion, 0x81, 0xa5, 'E', 'r', 'r', 'o', 'r', 0x01}, &Coordinate{Error: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodePingPayload(tc.buf)
			if err != nil {
				t.Fatalf("DecodePingPayload: %v", err)
			}
			if got.Vec == nil {
				got.Vec = []float64{}
			}
			if tc.want.Vec == nil {
				tc.want.Vec = []float64{}
			}
			if !sameCoordinate(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestPingPayloadRoundTrip covers values the vectors do not: negative zero,
// extremes and non-default dimensionality.
func TestPingPayloadRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		coord *Coordinate
	}{
		{"initial", NewCoordinate(DefaultConfig())},
		{"extremes", &Coordinate{Vec: []float64{math.MaxFloat64, -math.SmallestNonzeroFloat64, math.Copysign(0, -1)}, Error: 1.5, Adjustment: -0.25, Height: 1e-5}},
		{"no dimensions", &Coordinate{Vec: []float64{}, Error: 1}},
		{"NaN survives the wire", &Coordinate{Vec: []float64{math.NaN()}, Height: math.Inf(1)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			buf, err := EncodePingPayload(tc.coord)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			got, err := DecodePingPayload(buf)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !sameCoordinate(got, tc.coord) {
				t.Fatalf("round trip gave %+v, want %+v", got, tc.coord)
			}
		})
	}
}

func FuzzDecodePingPayload(f *testing.F) {
	for _, v := range loadPingVectors(f) {
		f.Add(v.payload)
	}
	f.Add([]byte{})
	f.Add([]byte{PingVersion})
	f.Add([]byte{PingVersion, 0xc0})
	f.Add([]byte{0x02, 0x80})
	f.Add([]byte{PingVersion, 0x81, 0xa3, 'V', 'e', 'c', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add(payloadWithDims(MaxPayloadDimensionality + 1))

	f.Fuzz(func(t *testing.T, buf []byte) {
		c, err := DecodePingPayload(buf)
		if err != nil {
			return
		}
		if len(c.Vec) > MaxPayloadDimensionality {
			t.Fatalf("accepted %d dimensions", len(c.Vec))
		}
		// Whatever we accept must re-encode and decode to the same values.
		again, err := EncodePingPayload(c)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		c2, err := DecodePingPayload(again)
		if err != nil {
			t.Fatalf("decode of re-encoded payload: %v", err)
		}
		if len(c.Vec) == 0 {
			c.Vec, c2.Vec = nil, nil // nil and empty encode differently
		}
		if !sameCoordinate(c, c2) {
			t.Fatalf("round trip changed %+v to %+v", c, c2)
		}
		// And a client must survive it (rejecting is fine).
		client, err := NewClient(DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if out, err := client.Update("fuzz", c, 0); err == nil && !out.IsValid() {
			t.Fatalf("Update produced an invalid coordinate %+v", out)
		}
		_ = client.DistanceTo(c)
	})
}

func BenchmarkEncodePingPayload(b *testing.B) {
	c := NewCoordinate(DefaultConfig())
	for i := range c.Vec {
		c.Vec[i] = float64(i) * 1e-4
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodePingPayload(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePingPayload(b *testing.B) {
	buf := loadPingVectors(b)[0].payload
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := DecodePingPayload(buf); err != nil {
			b.Fatal(err)
		}
	}
}
