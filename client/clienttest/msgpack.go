package clienttest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
)

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 64

// maxLen bounds a single string, binary or container length read from a
// peer, so that a garbage length cannot make the replayer allocate
// gigabytes.
const maxLen = 1 << 24

// object is a parsed msgpack value that remembers its exact encoding:
// head is the type byte plus any length or scalar bytes, kids the elements
// of an array or the alternating keys and values of a map.
type object struct {
	head  []byte
	isMap bool
	kids  []object
}

// readObject reads exactly one msgpack value from r and returns its bytes.
// It knows the msgpack grammar only, not Go types, so it delimits frames
// the way the proxy that recorded the transcripts did.
func readObject(r *bufio.Reader) ([]byte, error) {
	obj, err := parseObject(r, 0)
	if err != nil {
		return nil, err
	}
	return obj.encode(false), nil
}

// Canonical returns b (one msgpack value) with the entries of every map
// sorted by their encoded key. Two encodings of the same data that differ
// only in map order, which Go randomises, have the same canonical form;
// every other difference (integer widths, str8 against str16, nil against
// an empty map) survives.
func Canonical(b []byte) ([]byte, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	obj, err := parseObject(r, 0)
	if err != nil {
		return nil, err
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return nil, errors.New("trailing bytes after msgpack value")
	}
	return obj.encode(true), nil
}

func (o object) encode(canonical bool) []byte {
	var buf bytes.Buffer
	o.write(&buf, canonical)
	return buf.Bytes()
}

func (o object) write(buf *bytes.Buffer, canonical bool) {
	buf.Write(o.head)
	if !o.isMap || !canonical {
		for _, k := range o.kids {
			k.write(buf, canonical)
		}
		return
	}
	type pair struct{ k, v []byte }
	pairs := make([]pair, 0, len(o.kids)/2)
	for i := 0; i+1 < len(o.kids); i += 2 {
		pairs = append(pairs, pair{o.kids[i].encode(true), o.kids[i+1].encode(true)})
	}
	sort.Slice(pairs, func(i, j int) bool { return bytes.Compare(pairs[i].k, pairs[j].k) < 0 })
	for _, p := range pairs {
		buf.Write(p.k)
		buf.Write(p.v)
	}
}

func parseObject(r *bufio.Reader, depth int) (object, error) {
	if depth > maxDepth {
		return object{}, errors.New("msgpack value nested too deeply")
	}
	b, err := r.ReadByte()
	if err != nil {
		return object{}, err
	}
	head := []byte{b}
	// readN appends n more header bytes and returns them.
	readN := func(n int) ([]byte, error) {
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			return nil, unexpected(err)
		}
		head = append(head, p...)
		return p, nil
	}
	// length reads a big-endian length of n bytes.
	length := func(n int) (int, error) {
		p, err := readN(n)
		if err != nil {
			return 0, err
		}
		var v uint64
		for _, c := range p {
			v = v<<8 | uint64(c)
		}
		if v > maxLen {
			return 0, fmt.Errorf("msgpack length %d too large", v)
		}
		return int(v), nil
	}
	raw := func(n int) (object, error) {
		if _, err := readN(n); err != nil {
			return object{}, err
		}
		return object{head: head}, nil
	}
	container := func(n int, isMap bool) (object, error) {
		count := n
		if isMap {
			count = 2 * n
		}
		obj := object{head: head, isMap: isMap}
		for i := 0; i < count; i++ {
			kid, err := parseObject(r, depth+1)
			if err != nil {
				return object{}, unexpected(err)
			}
			obj.kids = append(obj.kids, kid)
		}
		return obj, nil
	}
	sized := func(lenBytes, extra int) (object, error) {
		n, err := length(lenBytes)
		if err != nil {
			return object{}, err
		}
		return raw(n + extra)
	}
	switch {
	case b <= 0x7f, b >= 0xe0, b == 0xc0, b == 0xc2, b == 0xc3:
		return object{head: head}, nil
	case b >= 0x80 && b <= 0x8f:
		return container(int(b&0x0f), true)
	case b >= 0x90 && b <= 0x9f:
		return container(int(b&0x0f), false)
	case b >= 0xa0 && b <= 0xbf:
		return raw(int(b & 0x1f))
	}
	switch b {
	case 0xc4, 0xd9: // bin8, str8
		return sized(1, 0)
	case 0xc5, 0xda: // bin16, str16
		return sized(2, 0)
	case 0xc6, 0xdb: // bin32, str32
		return sized(4, 0)
	case 0xc7: // ext8: length, then type byte and data
		return sized(1, 1)
	case 0xc8:
		return sized(2, 1)
	case 0xc9:
		return sized(4, 1)
	case 0xca, 0xce, 0xd2: // float32, uint32, int32
		return raw(4)
	case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
		return raw(8)
	case 0xcc, 0xd0:
		return raw(1)
	case 0xcd, 0xd1:
		return raw(2)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16 plus type byte
		return raw(1 + 1<<(b-0xd4))
	case 0xdc, 0xdd, 0xde, 0xdf:
		n, err := length(2 << ((b - 0xdc) % 2))
		if err != nil {
			return object{}, err
		}
		return container(n, b >= 0xde)
	}
	return object{}, fmt.Errorf("invalid msgpack type byte 0x%02x", b)
}

// unexpected turns EOF inside a value into io.ErrUnexpectedEOF, so that only
// a clean end between values reads as io.EOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
