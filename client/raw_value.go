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
//
// The walk runs over the reader's buffered bytes in place and copies them
// out a window at a time: a members reply of a thousand members is tens
// of thousands of tiny values, and reading them one call at a time cost
// more than decoding them.
func readRawValue(br *bufio.Reader, hint int) ([]byte, error) {
	out := make([]byte, 0, max(hint, 64))
	// left[d] counts the values still to be read at nesting depth d.
	var stack [maxRawDepth + 1]uint64
	left := append(stack[:0], 1)
	need := 1 // bytes the window must hold for the next header
	for len(left) > 0 {
		buf, err := br.Peek(max(need, br.Buffered()))
		if len(buf) < need {
			return nil, rawEOF(err, len(out)+len(buf))
		}
		i := 0
		need = 1
		for len(left) > 0 && i < len(buf) {
			shape, ok := mpDescribe(buf[i])
			if !ok {
				return nil, fmt.Errorf("invalid msgpack descriptor 0x%02x", buf[i])
			}
			hdr := 1 + shape.lenBytes
			if i+hdr > len(buf) {
				need = hdr // the header straddles the window: wait for it whole
				break
			}
			var n uint64
			for _, c := range buf[i+1 : i+hdr] {
				n = n<<8 | uint64(c)
			}
			payload, children := shape.sized(n)
			if payload > maxRawValue || children > maxRawValue ||
				uint64(len(out)+i+hdr)+payload > maxRawValue {
				return nil, errRawTooLarge
			}
			if payload > uint64(len(buf)-i-hdr) {
				// The payload runs past the window: keep what is before
				// this value, then read the value's bytes straight in.
				out = append(out, buf[:i]...)
				_, _ = br.Discard(i)
				start := len(out)
				out = append(out, make([]byte, hdr+int(payload))...)
				if _, err := io.ReadFull(br, out[start:]); err != nil {
					return nil, rawEOF(err, 1)
				}
				i = 0
				buf = nil
			} else {
				i += hdr + int(payload)
			}
			if left, err = rawStep(left, children); err != nil {
				return nil, err
			}
		}
		out = append(out, buf[:i]...)
		_, _ = br.Discard(i)
	}
	return out, nil
}

// rawStep records one value read that has children values inside it.
func rawStep(left []uint64, children uint64) ([]uint64, error) {
	left[len(left)-1]--
	if children > 0 {
		if len(left) > maxRawDepth {
			return nil, fmt.Errorf("msgpack value nested deeper than %d", maxRawDepth)
		}
		left = append(left, children)
	}
	for len(left) > 0 && left[len(left)-1] == 0 {
		left = left[:len(left)-1]
	}
	return left, nil
}

// rawEOF turns the end of input into io.EOF before the value starts and
// io.ErrUnexpectedEOF inside it.
func rawEOF(err error, read int) error {
	if err == nil || err == bufio.ErrBufferFull {
		err = io.EOF
	}
	if errors.Is(err, io.EOF) && read > 0 {
		return io.ErrUnexpectedEOF
	}
	return err
}

// maxRawValue bounds one raw value; the agent's biggest replies (members
// of a very large cluster) stay well below it.
const maxRawValue = 256 << 20

// maxRawDepth bounds nesting.
const maxRawDepth = 64

var errRawTooLarge = errors.New("msgpack value too large")
