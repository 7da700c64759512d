package agent

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
)

// maxIPCObjectSize bounds one request header or body. Real requests are a
// few kilobytes at most (events, queries and tags have far smaller limits
// of their own); the bound only stops a client from making the agent
// buffer without end.
const maxIPCObjectSize = 8 << 20

// ipcReadChunk is how much of a long string or binary value is read (and
// allocated) at a time, so memory follows the bytes actually received.
const ipcReadChunk = 32 << 10

// ipcKeepBuffer is the most buffer capacity a reader keeps between
// objects. A rare large request is read into a buffer of its size, which
// is then let go rather than held for the life of the connection.
const ipcKeepBuffer = 64 << 10

// ipcObjectReader cuts a client's byte stream into complete msgpack
// objects before anything decodes them. The codec trusts declared lengths
// (a 12-byte time extension claiming 2 GB makes it allocate 2 GB), so
// every length is checked against what really arrives: an object is only
// handed on once all of its bytes are here, and never beyond
// maxIPCObjectSize.
type ipcObjectReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

func newIPCObjectReader(r io.Reader, max int) *ipcObjectReader {
	return &ipcObjectReader{r: bufio.NewReader(r), max: max}
}

// errIPCObjectTooLarge is returned for an object over the size limit.
var errIPCObjectTooLarge = errors.New("request object too large")

// next returns the bytes of the next complete object. They are valid
// until the following call. io.EOF means the stream ended between
// objects; io.ErrUnexpectedEOF that it ended inside one.
func (o *ipcObjectReader) next() ([]byte, error) {
	if cap(o.buf) > ipcKeepBuffer {
		o.buf = nil
	}
	o.buf = o.buf[:0]
	// pending counts the values still to read; containers add their
	// elements. Every value takes at least one byte, so pending can
	// never usefully exceed the bytes left under the limit.
	pending := 1
	for pending > 0 {
		pending--
		c, err := o.r.ReadByte()
		if err != nil {
			if err == io.EOF && len(o.buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if err := o.grow(1); err != nil {
			return nil, err
		}
		o.buf = append(o.buf, c)

		payload, children, err := o.describe(c)
		if err != nil {
			return nil, err
		}
		if children > o.max-len(o.buf) || pending > o.max-len(o.buf)-children {
			return nil, fmt.Errorf("%w: %d more values declared", errIPCObjectTooLarge, pending+children)
		}
		pending += children
		if err := o.copy(payload); err != nil {
			return nil, err
		}
	}
	return o.buf, nil
}

// describe reads the length fields that follow the format byte c and
// returns the size of the value's data and how many values it contains.
func (o *ipcObjectReader) describe(c byte) (payload, children int, err error) {
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3: // fixints, nil, bools
		return 0, 0, nil
	case c <= 0x8f: // fixmap
		return 0, 2 * int(c&0x0f), nil
	case c <= 0x9f: // fixarray
		return 0, int(c & 0x0f), nil
	case c <= 0xbf: // fixstr
		return int(c & 0x1f), 0, nil
	case c >= 0xc4 && c <= 0xc6: // bin 8/16/32
		n, err := o.length(1 << (c - 0xc4))
		return n, 0, err
	case c >= 0xc7 && c <= 0xc9: // ext 8/16/32, plus the type byte
		n, err := o.length(1 << (c - 0xc7))
		return n + 1, 0, err
	case c == 0xca: // float32
		return 4, 0, nil
	case c == 0xcb: // float64
		return 8, 0, nil
	case c >= 0xcc && c <= 0xcf: // uint 8..64
		return 1 << (c - 0xcc), 0, nil
	case c >= 0xd0 && c <= 0xd3: // int 8..64
		return 1 << (c - 0xd0), 0, nil
	case c >= 0xd4 && c <= 0xd8: // fixext 1..16, plus the type byte
		return 1 + 1<<(c-0xd4), 0, nil
	case c >= 0xd9 && c <= 0xdb: // str 8/16/32
		n, err := o.length(1 << (c - 0xd9))
		return n, 0, err
	case c == 0xdc || c == 0xdd: // array 16/32
		n, err := o.length(2 << (c - 0xdc))
		return 0, n, err
	case c == 0xde || c == 0xdf: // map 16/32
		n, err := o.length(2 << (c - 0xde))
		return 0, 2 * n, err
	default: // 0xc1 is never used
		return 0, 0, fmt.Errorf("invalid msgpack format byte 0x%02x", c)
	}
}

// length reads a big-endian length field of size bytes.
func (o *ipcObjectReader) length(size int) (int, error) {
	start := len(o.buf)
	if err := o.copy(size); err != nil {
		return 0, err
	}
	var n uint64
	for _, b := range o.buf[start:] {
		n = n<<8 | uint64(b)
	}
	if n > uint64(o.max) {
		return 0, fmt.Errorf("%w: length %d", errIPCObjectTooLarge, n)
	}
	return int(n), nil
}

// copy appends the next n bytes of the stream to buf, a chunk at a time.
func (o *ipcObjectReader) copy(n int) error {
	if err := o.grow(n); err != nil {
		return err
	}
	for n > 0 {
		chunk := min(n, ipcReadChunk)
		start := len(o.buf)
		o.buf = slices.Grow(o.buf, chunk)[:start+chunk]
		if _, err := io.ReadFull(o.r, o.buf[start:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		n -= chunk
	}
	return nil
}

// grow checks that n more bytes fit under the limit.
func (o *ipcObjectReader) grow(n int) error {
	if n > o.max-len(o.buf) {
		return fmt.Errorf("%w: over %d bytes", errIPCObjectTooLarge, o.max)
	}
	return nil
}
