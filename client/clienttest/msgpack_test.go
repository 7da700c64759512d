package clienttest

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// Every recorded frame is one msgpack value that the walker delimits
// exactly, and canonicalising is idempotent.
func TestFramesParseExactly(t *testing.T) {
	for _, name := range Names() {
		tr, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		var stream []byte
		for _, f := range tr.Frames {
			if f.Dir == ClientToAgent {
				stream = append(stream, f.Bytes...)
			}
			c, err := Canonical(f.Bytes)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if c2, _ := Canonical(c); !bytes.Equal(c, c2) {
				t.Fatalf("%s: canonical form is not stable", name)
			}
		}
		// Reading the client's byte stream yields the recorded frames.
		r := bufio.NewReader(bytes.NewReader(stream))
		for i, f := range tr.Frames {
			if f.Dir != ClientToAgent {
				continue
			}
			got, err := readObject(r)
			if err != nil || !bytes.Equal(got, f.Bytes) {
				t.Fatalf("%s frame %d: got %x, %v; want %x", name, i, got, err, f.Bytes)
			}
		}
		if _, err := readObject(r); err != io.EOF {
			t.Fatalf("%s: %v after the last frame, want EOF", name, err)
		}
	}
}

func TestCanonicalSortsMapsOnly(t *testing.T) {
	a := []byte{0x82, 0xa1, 'b', 0x01, 0xa1, 'a', 0x92, 0x02, 0x01}
	b := []byte{0x82, 0xa1, 'a', 0x92, 0x02, 0x01, 0xa1, 'b', 0x01}
	ca, _ := Canonical(a)
	cb, _ := Canonical(b)
	if !bytes.Equal(ca, cb) || !bytes.Equal(ca, b) {
		t.Errorf("canonical forms %x and %x, want %x", ca, cb, b)
	}
	// Same data, other integer width: not the same bytes.
	wide := []byte{0x81, 0xa1, 'a', 0xcc, 0x01}
	narrow := []byte{0x81, 0xa1, 'a', 0x01}
	cw, _ := Canonical(wide)
	cn, _ := Canonical(narrow)
	if bytes.Equal(cw, cn) {
		t.Error("integer widths must survive canonicalisation")
	}
	if _, err := Canonical([]byte{0x01, 0x02}); err == nil {
		t.Error("trailing bytes accepted")
	}
}

// FuzzCanonical: the walker reads client bytes, so it must reject any
// input cleanly.
func FuzzCanonical(f *testing.F) {
	for _, name := range Names() {
		tr, _ := Load(name)
		for _, fr := range tr.Frames {
			f.Add(fr.Bytes)
		}
	}
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Canonical(data)
		if err != nil {
			return
		}
		if len(c) != len(data) {
			t.Fatalf("canonical form of %x has another length: %x", data, c)
		}
	})
}
