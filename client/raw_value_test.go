package client

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// TestRawValueBetweenCodecReads: a header decoded by the codec, a raw
// body, then the next header: each read ends where the next begins.
func TestRawValueBetweenCodecReads(t *testing.T) {
	body := randomMembers(rand.New(rand.NewPCG(9, 10)), 50)
	var stream bytes.Buffer
	enc := codec.NewEncoder(&stream, newRPCHandle())
	for i := 0; i < 3; i++ {
		if err := enc.Encode(&ResponseHeader{Seq: uint64(i)}); err != nil {
			t.Fatal(err)
		}
		if err := enc.Encode(body); err != nil {
			t.Fatal(err)
		}
	}
	want, err := codecMembers(t, encodeRPC(t, body))
	if err != nil {
		t.Fatal(err)
	}
	fr := newFrameReader(&stream, newRPCHandle())
	for i := 0; i < 3; i++ {
		h, err := fr.header()
		if err != nil || h.Seq != uint64(i) {
			t.Fatalf("header %d: %+v %v", i, h, err)
		}
		var raw codec.Raw
		if err := fr.body(&raw); err != nil {
			t.Fatal(err)
		}
		// Tags maps encode in any order, so compare what they decode to.
		got, err := codecMembers(t, raw)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("body %d: raw bytes decode to something else (%v)", i, err)
		}
	}
	if _, err := fr.header(); err != io.EOF {
		t.Errorf("after the last frame: %v, want EOF", err)
	}
}

func TestRawValueRefusesBadInput(t *testing.T) {
	deep := bytes.Repeat([]byte{0x91}, maxRawDepth+5)
	cases := map[string][]byte{
		"truncated string": {0xa5, 'a', 'b'},
		"huge bin":         {0xc6, 0xff, 0xff, 0xff, 0xff},
		"too deep":         append(deep, 0xc0),
		"bad descriptor":   {0xc1},
		"empty":            {},
	}
	for name, in := range cases {
		if _, err := readRawValue(bufio.NewReader(bytes.NewReader(in)), 0); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
