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

// TestRawValueAcrossWindows reads values whose headers and payloads
// straddle the buffered reader's window at every offset: the smallest
// buffer bufio allows, and a source that hands over one byte per read.
// Each read must return exactly the value's bytes and leave the reader
// at the next value.
func TestRawValueAcrossWindows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	values := []any{
		randomMembers(r, 40),
		map[string]any{"Key": bytes.Repeat([]byte{7}, 300), "N": uint64(1) << 40, "F": 1.5},
		[]any{"", []any{}, map[string]any{}, nil, true, int64(-1) << 33, string(bytes.Repeat([]byte("x"), 70000))},
		uint8(5),
	}
	var stream bytes.Buffer
	var want [][]byte
	for _, v := range values {
		b := encodeRPC(t, v)
		want = append(want, b)
		stream.Write(b)
	}
	sources := map[string]func() io.Reader{
		"whole":       func() io.Reader { return bytes.NewReader(stream.Bytes()) },
		"byte a time": func() io.Reader { return iotestOneByte{bytes.NewReader(stream.Bytes())} },
	}
	for name, src := range sources {
		for _, size := range []int{16, 17, 31, 4096} {
			br := bufio.NewReaderSize(src(), size)
			for i, w := range want {
				got, err := readRawValue(br, 0)
				if err != nil {
					t.Fatalf("%s, buffer %d, value %d: %v", name, size, i, err)
				}
				if !bytes.Equal(got, w) {
					t.Fatalf("%s, buffer %d, value %d: %d bytes, want %d", name, size, i, len(got), len(w))
				}
			}
			if _, err := readRawValue(br, 0); err != io.EOF {
				t.Errorf("%s, buffer %d: after the last value: %v, want EOF", name, size, err)
			}
		}
	}
}

// iotestOneByte returns at most one byte per Read.
type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

// FuzzRawValue: any input either fails or yields a prefix of itself that
// the codec decodes as one whole value.
func FuzzRawValue(f *testing.F) {
	f.Add([]byte{0x81, 0xa1, 'a', 0x92, 0x01, 0xc0})
	f.Add([]byte{0xc6, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xdd, 0x00, 0x00, 0x00, 0x02, 0xa1})
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := readRawValue(bufio.NewReaderSize(bytes.NewReader(in), 16), 0)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(in, got) {
			t.Fatalf("raw value %x is not a prefix of the input", got)
		}
		var v any
		dec := codec.NewDecoderBytes(got, newRPCHandle())
		if err := dec.Decode(&v); err != nil {
			// The codec refuses some things the walker only measures
			// (invalid UTF-8 is not one: msgpack strings are bytes).
			return
		}
		if n := dec.NumBytesRead(); n != len(got) {
			t.Fatalf("codec read %d of the %d raw bytes", n, len(got))
		}
	})
}

// BenchmarkReadRawValue1000 reads a members reply of 1,000 members off a
// buffered connection-sized reader, as the read loop does.
func BenchmarkReadRawValue1000(b *testing.B) {
	raw := encodeRPC(b, randomMembers(rand.New(rand.NewPCG(7, 8)), 1000))
	src := bytes.NewReader(raw)
	br := bufio.NewReaderSize(src, 64<<10)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		src.Reset(raw)
		br.Reset(src)
		if _, err := readRawValue(br, len(raw)); err != nil {
			b.Fatal(err)
		}
	}
}
