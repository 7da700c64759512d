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
	shape, ok := mpDescribe(c)
	if !ok {
		return fmt.Errorf("invalid msgpack descriptor 0x%02x", c)
	}
	var n uint64
	if shape.lenBytes > 0 {
		if n, err = w.length(shape.lenBytes); err != nil {
			return err
		}
	}
	payload, children := shape.sized(n)
	if err := w.copyN(payload); err != nil {
		return err
	}
	return w.values(children, depth)
}

func (w *rawWalker) values(n uint64, depth int) error {
	for i := uint64(0); i < n; i++ {
		if err := w.value(depth + 1); err != nil {
			return err
		}
	}
	return nil
}
