package client

import (
	"encoding/binary"
	"errors"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// The reply to members and members-filtered is by far the largest thing
// the client decodes: a thousand members with their tags are some 100 KB
// of msgpack, and the reflection-driven codec spends most of a `serf
// members` call on it, a map assignment at a time. decodeMembers reads
// that one shape directly from the raw bytes. Anything it does not expect
// (a type it does not know for a field, an overflowing number, a field
// given twice) makes it hand the same bytes to the codec instead, so the
// result is always what the codec would have produced.

// errNotFast says the fast path declined; the codec decides.
var errNotFast = errors.New("members reply outside the fast path")

// decodeMembersReply decodes a members reply from its raw msgpack bytes.
func decodeMembersReply(raw []byte, h *codec.MsgpackHandle) ([]Member, error) {
	if members, err := decodeMembersFast(raw); err == nil {
		return members, nil
	}
	var resp MembersResponse
	if err := codec.NewDecoderBytes(raw, h).Decode(&resp); err != nil {
		return nil, err
	}
	return resp.Members, nil
}

// decodeMembersFast parses {"Members": [{...}, ...]} with the field types
// Member has.
func decodeMembersFast(raw []byte) ([]Member, error) {
	r := &mpReader{b: raw, s: string(raw)}
	n, err := r.mapLen()
	if err != nil {
		return nil, err
	}
	var members []Member
	seen := false
	for i := 0; i < n; i++ {
		key, err := r.str()
		if err != nil {
			return nil, err
		}
		if string(key) != "Members" {
			if err := r.skip(0); err != nil {
				return nil, err
			}
			continue
		}
		if seen {
			return nil, errNotFast
		}
		seen = true
		if r.nextIsNil() {
			r.p++
			continue
		}
		count, err := r.arrayLen()
		if err != nil {
			return nil, err
		}
		// Every member takes at least a byte; a count past what is left
		// is a lie, not a reason to allocate.
		if count > len(r.b)-r.p {
			return nil, errNotFast
		}
		members = make([]Member, count)
		for j := range members {
			if err := r.member(&members[j]); err != nil {
				return nil, err
			}
		}
	}
	if r.p != len(r.b) {
		return nil, errNotFast
	}
	return members, nil
}

// member fields, as bits, to refuse one given twice.
const (
	fName = 1 << iota
	fAddr
	fPort
	fTags
	fStatus
	fProtocolMin
	fProtocolMax
	fProtocolCur
	fDelegateMin
	fDelegateMax
	fDelegateCur
)

func (r *mpReader) member(m *Member) error {
	n, err := r.mapLen()
	if err != nil {
		return err
	}
	var got int
	for i := 0; i < n; i++ {
		key, err := r.str()
		if err != nil {
			return err
		}
		var bit int
		switch string(key) {
		case "Name":
			bit = fName
			m.Name, err = r.text()
		case "Addr":
			bit = fAddr
			var b []byte
			b, err = r.binOrStr()
			if err == nil && len(b) == 0 {
				err = errNotFast
			}
			m.Addr = r.keep(b)
		case "Port":
			bit = fPort
			var v uint64
			v, err = r.uint(0xffff)
			m.Port = uint16(v)
		case "Tags":
			bit = fTags
			m.Tags, err = r.tags()
		case "Status":
			bit = fStatus
			m.Status, err = r.text()
		case "ProtocolMin":
			bit = fProtocolMin
			m.ProtocolMin, err = r.uint8()
		case "ProtocolMax":
			bit = fProtocolMax
			m.ProtocolMax, err = r.uint8()
		case "ProtocolCur":
			bit = fProtocolCur
			m.ProtocolCur, err = r.uint8()
		case "DelegateMin":
			bit = fDelegateMin
			m.DelegateMin, err = r.uint8()
		case "DelegateMax":
			bit = fDelegateMax
			m.DelegateMax, err = r.uint8()
		case "DelegateCur":
			bit = fDelegateCur
			m.DelegateCur, err = r.uint8()
		default:
			err = r.skip(0)
		}
		if err != nil {
			return err
		}
		if got&bit != 0 {
			return errNotFast
		}
		got |= bit
	}
	return nil
}

func (r *mpReader) tags() (map[string]string, error) {
	if r.nextIsNil() {
		r.p++
		return nil, nil
	}
	n, err := r.mapLen()
	if err != nil {
		return nil, err
	}
	if n > len(r.b)-r.p {
		return nil, errNotFast
	}
	tags := make(map[string]string, n)
	for i := 0; i < n; i++ {
		k, err := r.binOrStr()
		if err != nil {
			return nil, err
		}
		key := r.substr(k)
		if r.nextIsNil() {
			r.p++
			tags[key] = ""
			continue
		}
		v, err := r.binOrStr()
		if err != nil {
			return nil, err
		}
		tags[key] = r.substr(v)
	}
	return tags, nil
}

// mpReader walks msgpack bytes. Every method fails with errNotFast on
// anything but what it expects, including running out of bytes.
type mpReader struct {
	b []byte
	p int
	// s is one string copy of b. Every string decoded is a substring of
	// it, so a reply of a thousand members costs one string allocation
	// instead of thousands; the strings together hold no more memory than
	// the reply itself.
	s string
	// slab backs the members' addresses, a few kilobytes at a time.
	slab []byte
}

// keep returns a copy of b from the slab. The copy's capacity ends with
// it, so appending to one address never writes over the next.
func (r *mpReader) keep(b []byte) []byte {
	if cap(r.slab)-len(r.slab) < len(b) {
		r.slab = make([]byte, 0, max(4096, len(b)))
	}
	start := len(r.slab)
	r.slab = append(r.slab, b...)
	return r.slab[start:len(r.slab):len(r.slab)]
}

// substr returns b, which the last read took from r.b ending at r.p, as
// the same bytes of r.s.
func (r *mpReader) substr(b []byte) string {
	return r.s[r.p-len(b) : r.p]
}

func (r *mpReader) byte1() (byte, error) {
	if r.p >= len(r.b) {
		return 0, errNotFast
	}
	c := r.b[r.p]
	r.p++
	return c, nil
}

func (r *mpReader) nextIsNil() bool { return r.p < len(r.b) && r.b[r.p] == 0xc0 }

// be reads an n-byte big-endian unsigned number.
func (r *mpReader) be(n int) (uint64, error) {
	if len(r.b)-r.p < n {
		return 0, errNotFast
	}
	s := r.b[r.p : r.p+n]
	r.p += n
	switch n {
	case 1:
		return uint64(s[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(s)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(s)), nil
	default:
		return binary.BigEndian.Uint64(s), nil
	}
}

func (r *mpReader) bytes(n uint64) ([]byte, error) {
	if n > uint64(len(r.b)-r.p) {
		return nil, errNotFast
	}
	s := r.b[r.p : r.p+int(n)]
	r.p += int(n)
	return s, nil
}

func (r *mpReader) mapLen() (int, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c >= 0x80 && c <= 0x8f:
		n = uint64(c & 0x0f)
	case c == 0xde:
		n, err = r.be(2)
	case c == 0xdf:
		n, err = r.be(4)
	default:
		return 0, errNotFast
	}
	return int(n), err
}

func (r *mpReader) arrayLen() (int, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c >= 0x90 && c <= 0x9f:
		n = uint64(c & 0x0f)
	case c == 0xdc:
		n, err = r.be(2)
	case c == 0xdd:
		n, err = r.be(4)
	default:
		return 0, errNotFast
	}
	return int(n), err
}

// str reads a msgpack str.
func (r *mpReader) str() ([]byte, error) {
	c, err := r.byte1()
	if err != nil {
		return nil, err
	}
	var n uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case c == 0xd9:
		n, err = r.be(1)
	case c == 0xda:
		n, err = r.be(2)
	case c == 0xdb:
		n, err = r.be(4)
	default:
		return nil, errNotFast
	}
	if err != nil {
		return nil, err
	}
	return r.bytes(n)
}

// binOrStr reads a str or a bin.
func (r *mpReader) binOrStr() ([]byte, error) {
	if r.p >= len(r.b) {
		return nil, errNotFast
	}
	var n uint64
	var err error
	switch r.b[r.p] {
	case 0xc4:
		r.p++
		n, err = r.be(1)
	case 0xc5:
		r.p++
		n, err = r.be(2)
	case 0xc6:
		r.p++
		n, err = r.be(4)
	default:
		return r.str()
	}
	if err != nil {
		return nil, err
	}
	return r.bytes(n)
}

// text reads a string field: str, bin or nil (the empty string).
func (r *mpReader) text() (string, error) {
	if r.nextIsNil() {
		r.p++
		return "", nil
	}
	b, err := r.binOrStr()
	if err != nil {
		return "", err
	}
	return r.substr(b), nil
}

// uint reads a non-negative integer no larger than limit.
func (r *mpReader) uint(limit uint64) (uint64, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	var v uint64
	switch {
	case c <= 0x7f:
		v = uint64(c)
	case c == 0xcc:
		v, err = r.be(1)
	case c == 0xcd:
		v, err = r.be(2)
	case c == 0xce:
		v, err = r.be(4)
	case c == 0xcf:
		v, err = r.be(8)
	default:
		return 0, errNotFast
	}
	if err != nil || v > limit {
		return 0, errNotFast
	}
	return v, nil
}

func (r *mpReader) uint8() (uint8, error) {
	v, err := r.uint(0xff)
	return uint8(v), err
}

// skip passes over one value of any type. depth bounds nesting, so a
// hostile reply cannot recurse without end.
func (r *mpReader) skip(depth int) error {
	if depth > 32 {
		return errNotFast
	}
	c, err := r.byte1()
	if err != nil {
		return err
	}
	shape, ok := mpDescribe(c)
	if !ok {
		return errNotFast
	}
	var n uint64
	if shape.lenBytes > 0 {
		if n, err = r.be(shape.lenBytes); err != nil {
			return err
		}
	}
	payload, children := shape.sized(n)
	if _, err := r.bytes(payload); err != nil {
		return err
	}
	return r.skipN(children, depth)
}

func (r *mpReader) skipN(n uint64, depth int) error {
	if n > uint64(len(r.b)-r.p) {
		return errNotFast
	}
	for i := uint64(0); i < n; i++ {
		if err := r.skip(depth + 1); err != nil {
			return err
		}
	}
	return nil
}
