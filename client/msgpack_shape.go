package client

// mpShape is how a msgpack value continues after its first byte: the
// one table both walkers of raw replies (readRawValue over the
// connection, mpReader.skip over bytes) follow.
type mpShape struct {
	// lenBytes is the size of the big-endian length after the first
	// byte; 0 when the first byte says it all.
	lenBytes int
	// With lenBytes 0: payload bytes and child values that follow.
	payload, children uint64
	// With a length n: n*perLen+extra payload bytes, or n*childPer
	// child values.
	perLen, extra, childPer uint64
}

// mpDescribe returns the shape of a value whose first byte is c; ok is
// false for the one byte msgpack never uses (0xc1). It looks the byte up
// in mpShapes: walking a large reply asks this for every value in it.
func mpDescribe(c byte) (mpShape, bool) {
	e := &mpShapes[c]
	return e.shape, e.ok
}

// mpShapes is mpShapeOf for every byte, worked out once.
var mpShapes = func() (t [256]struct {
	shape mpShape
	ok    bool
}) {
	for c := range t {
		t[c].shape, t[c].ok = mpShapeOf(byte(c))
	}
	return t
}()

// mpShapeOf is the msgpack format table: what follows a first byte c.
func mpShapeOf(c byte) (s mpShape, ok bool) {
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		return mpShape{}, true
	case c >= 0xa0 && c <= 0xbf:
		return mpShape{payload: uint64(c & 0x1f)}, true
	case c >= 0x80 && c <= 0x8f:
		return mpShape{children: 2 * uint64(c&0x0f)}, true
	case c >= 0x90 && c <= 0x9f:
		return mpShape{children: uint64(c & 0x0f)}, true
	}
	switch c {
	case 0xcc, 0xd0:
		return mpShape{payload: 1}, true
	case 0xcd, 0xd1:
		return mpShape{payload: 2}, true
	case 0xce, 0xd2, 0xca:
		return mpShape{payload: 4}, true
	case 0xcf, 0xd3, 0xcb:
		return mpShape{payload: 8}, true
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext: type byte and 1-16 bytes
		return mpShape{payload: 1 + 1<<(c-0xd4)}, true
	case 0xc4, 0xd9: // bin8, str8
		return mpShape{lenBytes: 1, perLen: 1}, true
	case 0xc5, 0xda:
		return mpShape{lenBytes: 2, perLen: 1}, true
	case 0xc6, 0xdb:
		return mpShape{lenBytes: 4, perLen: 1}, true
	case 0xc7: // ext: the length, a type byte, the data
		return mpShape{lenBytes: 1, perLen: 1, extra: 1}, true
	case 0xc8:
		return mpShape{lenBytes: 2, perLen: 1, extra: 1}, true
	case 0xc9:
		return mpShape{lenBytes: 4, perLen: 1, extra: 1}, true
	case 0xdc:
		return mpShape{lenBytes: 2, childPer: 1}, true
	case 0xdd:
		return mpShape{lenBytes: 4, childPer: 1}, true
	case 0xde:
		return mpShape{lenBytes: 2, childPer: 2}, true
	case 0xdf:
		return mpShape{lenBytes: 4, childPer: 2}, true
	}
	return mpShape{}, false
}

// sized returns the payload bytes and child values once the length n
// (if the shape has one) is known.
func (s mpShape) sized(n uint64) (payload, children uint64) {
	if s.lenBytes == 0 {
		return s.payload, s.children
	}
	return n*s.perLen + s.extra, n * s.childPer
}
