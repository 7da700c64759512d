package client

import (
	"bufio"
	"fmt"
	"io"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// newRPCHandle returns the msgpack settings of Serf's RPC protocol. They
// differ from the gossip settings: WriteExt makes []byte travel as msgpack
// bin and lets strings of 32-255 bytes use str8, which is what a real
// agent and CLI exchange. Decoding with these settings turns str into
// string and bin into []byte when the target is an interface{}.
//
// Each client gets its own handle rather than sharing a package variable:
// a handle caches type information, and keeping it per client keeps the
// package free of global state.
func newRPCHandle() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{WriteExt: true}
	h.TimeNotBuiltin = true
	return h
}

// frameReader decodes the agent's side of a connection: a plain sequence
// of msgpack objects, each reply being a ResponseHeader optionally
// followed by a body. Nothing on the wire says whether a body follows; the
// caller knows from the command.
type frameReader struct {
	br  *bufio.Reader
	dec *codec.Decoder
	// rawHint is the size of the last raw body read, the first guess of
	// the next one's: members replies of one cluster are alike.
	rawHint int
}

func newFrameReader(r io.Reader, h *codec.MsgpackHandle) *frameReader {
	br := bufio.NewReader(r)
	return &frameReader{br: br, dec: codec.NewDecoder(br, h)}
}

// header decodes the next object as a response header. Keys other than
// Seq and Error are ignored, so a record body read as a header (which the
// protocol allows for streams the client has stopped) yields Seq 0, a
// number the client never uses.
func (f *frameReader) header() (ResponseHeader, error) {
	var h ResponseHeader
	if err := f.dec.Decode(&h); err != nil {
		return ResponseHeader{}, err
	}
	return h, nil
}

// body decodes the next object into v. The codec reports malformed or
// overflowing input as an error; it never panics on it.
func (f *frameReader) body(v interface{}) error {
	if raw, ok := v.(*codec.Raw); ok {
		// The codec reads no further than the value it decodes, so the
		// next value starts at the buffered reader's position.
		b, err := readRawValue(f.br, f.rawHint)
		if err != nil {
			return err
		}
		f.rawHint = len(b)
		*raw = b
		return nil
	}
	return f.dec.Decode(v)
}

// frameWriter encodes requests: a header and an optional body, flushed
// together so that they reach the agent as one unit.
type frameWriter struct {
	buf *bufio.Writer
	enc *codec.Encoder
}

func newFrameWriter(w io.Writer, h *codec.MsgpackHandle) *frameWriter {
	buf := bufio.NewWriter(w)
	return &frameWriter{buf: buf, enc: codec.NewEncoder(buf, h)}
}

// write sends one request. body may be nil for commands without one.
func (f *frameWriter) write(header *RequestHeader, body interface{}) error {
	if err := f.enc.Encode(header); err != nil {
		return fmt.Errorf("encode header: %w", err)
	}
	if body != nil {
		if err := f.enc.Encode(body); err != nil {
			return fmt.Errorf("encode body: %w", err)
		}
	}
	return f.buf.Flush()
}
