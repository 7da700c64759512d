package client

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// readRawValue reads the bytes of one msgpack value from br, as they are,
// without decoding them. hint is the expected size. It walks the value's
// structure, so it needs no length prefix; nesting is bounded, and a
// length larger than maxRawValue is refused before anything that size is
// allocated.
func readRawValue(br *bufio.Reader, hint int) ([]byte, error) {
	w := rawWalker{br: br, out: make([]byte, 0, max(hint, 64))}
	if err := w.value(0); err != nil {
		return nil, err
	}
	return w.out, nil
}

// maxRawValue bounds one raw value; the agent's biggest replies (members
// of a very large cluster) stay well below it.
const maxRawValue = 256 << 20

// maxRawDepth bounds nesting.
const maxRawDepth = 64

var errRawTooLarge = errors.New("msgpack value too large")

type rawWalker struct {
	br  *bufio.Reader
	out []byte
}

func (w *rawWalker) byte1() (byte, error) {
	if len(w.out) >= maxRawValue {
		return 0, errRawTooLarge
	}
	c, err := w.br.ReadByte()
	if err != nil {
		return 0, err
	}
	w.out = append(w.out, c)
	return c, nil
}

// copyN appends the next n bytes.
func (w *rawWalker) copyN(n uint64) error {
	if n > maxRawValue || uint64(len(w.out))+n > maxRawValue {
		return errRawTooLarge
	}
	start := len(w.out)
	w.out = append(w.out, make([]byte, n)...)
	_, err := io.ReadFull(w.br, w.out[start:])
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// length reads an n-byte big-endian length, copying it.
func (w *rawWalker) length(n int) (uint64, error) {
	var v uint64
	for i := 0; i < n; i++ {
		c, err := w.byte1()
		if err != nil {
			return 0, err
		}
		v = v<<8 | uint64(c)
	}
	return v, nil
}

func (w *rawWalker) value(depth int) error {
	if depth > maxRawDepth {
		return fmt.Errorf("msgpack value nested deeper than %d", maxRawDepth)
	}
	c, err := w.byte1()
	if err != nil {
		return err
	}
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		return nil
	case c >= 0xa0 && c <= 0xbf:
		return w.copyN(uint64(c & 0x1f))
	case c >= 0x80 && c <= 0x8f:
		return w.values(2*uint64(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return w.values(uint64(c&0x0f), depth)
	}
	var n uint64
	switch c {
	case 0xcc, 0xd0:
		return w.copyN(1)
	case 0xcd, 0xd1:
		return w.copyN(2)
	case 0xce, 0xd2, 0xca:
		return w.copyN(4)
	case 0xcf, 0xd3, 0xcb:
		return w.copyN(8)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return w.copyN(1 + 1<<(c-0xd4))
	case 0xc4, 0xd9:
		if n, err = w.length(1); err == nil {
			err = w.copyN(n)
		}
	case 0xc5, 0xda:
		if n, err = w.length(2); err == nil {
			err = w.copyN(n)
		}
	case 0xc6, 0xdb:
		if n, err = w.length(4); err == nil {
			err = w.copyN(n)
		}
	case 0xc7:
		if n, err = w.length(1); err == nil {
			err = w.copyN(n + 1)
		}
	case 0xc8:
		if n, err = w.length(2); err == nil {
			err = w.copyN(n + 1)
		}
	case 0xc9:
		if n, err = w.length(4); err == nil {
			err = w.copyN(n + 1)
		}
	case 0xdc:
		if n, err = w.length(2); err == nil {
			err = w.values(n, depth)
		}
	case 0xdd:
		if n, err = w.length(4); err == nil {
			err = w.values(n, depth)
		}
	case 0xde:
		if n, err = w.length(2); err == nil {
			err = w.values(2*n, depth)
		}
	case 0xdf:
		if n, err = w.length(4); err == nil {
			err = w.values(2*n, depth)
		}
	default:
		return fmt.Errorf("invalid msgpack descriptor 0x%02x", c)
	}
	return err
}

func (w *rawWalker) values(n uint64, depth int) error {
	for i := uint64(0); i < n; i++ {
		if err := w.value(depth + 1); err != nil {
			return err
		}
	}
	return nil
}
