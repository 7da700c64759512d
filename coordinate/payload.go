package coordinate

import (
	"errors"
	"fmt"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// PingVersion is the first byte of every ping ack payload. Serf
// peers ignore payloads that start with anything else.
const PingVersion = 1

// MaxPayloadDimensionality is the longest Vec DecodePingPayload accepts.
// Serf uses 8 dimensions; anything far beyond that is garbage or an attack,
// and refusing it keeps a hostile ack from making every later comparison
// with that coordinate expensive.
const MaxPayloadDimensionality = 64

// encodeHandle is the handle Serf uses for the ping payload: a zero
// MsgpackHandle with TimeNotBuiltin set. Changing it changes the
// bytes on the wire.
//
// decodeHandle reads the same format but limits how many elements the decoder
// preallocates for an array, so a forged length header cannot make it
// allocate far more than the packet could hold.
//
// Both are set up once here and never modified afterwards; a handle only
// caches type information internally, under its own lock, so sharing them
// between goroutines is safe.
var (
	encodeHandle = newPingHandle(0)
	decodeHandle = newPingHandle(MaxPayloadDimensionality)
)

// newPingHandle builds the ping payload handle; maxInitLen affects only how
// much a decoder preallocates, never the bytes written.
func newPingHandle(maxInitLen int) *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.TimeNotBuiltin = true
	h.MaxInitLen = maxInitLen
	return h
}

// EncodePingPayload returns what the local node attaches to its probe acks:
// the PingVersion byte followed by the msgpack coordinate, byte-identical to
// Serf 0.10 (keys in name order, float64 as 0xcb).
func EncodePingPayload(c *Coordinate) ([]byte, error) {
	if c == nil {
		// Serf would send a msgpack nil here, which peers decode as an empty
		// coordinate and then reject; sending nothing is clearer.
		return nil, errors.New("encode ping payload: coordinate is nil")
	}
	// 1 version byte, a fixmap header, 4 keys (31 bytes), 3 floats (27
	// bytes) and the array: header plus 9 bytes per element.
	body := make([]byte, 0, 64+9*len(c.Vec))
	enc := codec.NewEncoderBytes(&body, encodeHandle)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encode ping payload: %w", err)
	}
	out := make([]byte, 1+len(body))
	out[0] = PingVersion
	copy(out[1:], body)
	return out, nil
}

// DecodePingPayload parses a peer's ack payload. It fails on an empty
// buffer, an unknown version, a msgpack error or a Vec longer than
// MaxPayloadDimensionality; it never panics, whatever the bytes. Bytes after
// the msgpack value are ignored, as Serf does.
//
// The returned coordinate is not checked for NaN/Inf or dimensionality; the
// Client does that in Update, which is where Serf counts rejections.
func DecodePingPayload(buf []byte) (*Coordinate, error) {
	if len(buf) == 0 {
		return nil, errors.New("decode ping payload: empty payload")
	}
	if buf[0] != PingVersion {
		// Capitalised to match Serf's log line, which operators grep for.
		return nil, fmt.Errorf("Unsupported ping version: %v", buf[0])
	}
	var coord Coordinate
	if err := codec.NewDecoderBytes(buf[1:], decodeHandle).Decode(&coord); err != nil {
		return nil, fmt.Errorf("decode ping payload: %w", err)
	}
	if len(coord.Vec) > MaxPayloadDimensionality {
		return nil, fmt.Errorf("decode ping payload: %d dimensions, at most %d allowed",
			len(coord.Vec), MaxPayloadDimensionality)
	}
	return &coord, nil
}
