package serf

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/serfclone/serf/testutil"
)

func TestTagsEncodeDecode(t *testing.T) {
	long := strings.Repeat("v", 40)
	tests := []struct {
		name string
		tags map[string]string
		want map[string]string // decoded; nil means tags
		// wire is the exact meta, for maps of at most one entry.
		wire string
	}{
		{name: "nil map sends an empty map", tags: nil, want: map[string]string{}, wire: "ff 80"},
		{name: "empty", tags: map[string]string{}, wire: "ff 80"},
		{name: "one tag", tags: map[string]string{"role": "web"}, wire: "ff 81 a4 726f6c65 a3 776562"},
		{name: "empty value", tags: map[string]string{"role": ""}, wire: "ff 81 a4 726f6c65 a0"},
		{name: "long value uses str16", tags: map[string]string{"id": long}, wire: "ff 81 a2 6964 da 0028 " + strings.Repeat("76", 40)},
		{name: "node-a's four tags", tags: map[string]string{"role": "web", "dc": "east", "rack": "r1", "env": "prod"}},
		{name: "utf-8 and binary", tags: map[string]string{"ключ": "значение", "bin": "\x00\xff"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			meta, err := encodeTags(tc.tags, 5)
			if err != nil {
				t.Fatal(err)
			}
			if meta[0] != tagMagicByte {
				t.Fatalf("meta %x does not start with the magic byte", meta)
			}
			if tc.wire != "" && !bytes.Equal(meta, codecHex(t, tc.wire)) {
				t.Errorf("meta %x, want %s", meta, tc.wire)
			}
			got, err := decodeTags(meta)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == nil {
				want = tc.tags
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoded %v, want %v", got, want)
			}
		})
	}
}

// TestTagsProtocol2 covers the legacy meta: protocol 2 sends only the role,
// as raw bytes, and any meta without the magic byte is read as a role.
func TestTagsProtocol2(t *testing.T) {
	tests := []struct {
		name string
		tags map[string]string
		meta string
	}{
		{"role only", map[string]string{"role": "web"}, "web"},
		{"other tags are lost", map[string]string{"role": "db", "dc": "east"}, "db"},
		{"no role", map[string]string{"dc": "east"}, ""},
		{"nil tags", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, proto := range []uint8{0, 1, 2} {
				meta, err := encodeTags(tc.tags, proto)
				if err != nil {
					t.Fatal(err)
				}
				if string(meta) != tc.meta {
					t.Errorf("protocol %d: meta %q, want %q", proto, meta, tc.meta)
				}
			}
			got, err := decodeTags([]byte(tc.meta))
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{"role": tc.meta}; !reflect.DeepEqual(got, want) {
				t.Errorf("decoded %v, want %v", got, want)
			}
		})
	}
	for _, proto := range []uint8{3, 4, 5} {
		meta, err := encodeTags(map[string]string{"role": "web"}, proto)
		if err != nil {
			t.Fatal(err)
		}
		if meta[0] != tagMagicByte {
			t.Errorf("protocol %d: meta %x lacks the magic byte", proto, meta)
		}
	}
}

// TestTagsEmptyMeta: empty meta is a legacy node without a role, so it
// decodes to one tag role="" as in Serf, nil and empty alike.
func TestTagsEmptyMeta(t *testing.T) {
	for _, meta := range [][]byte{nil, {}} {
		got, err := decodeTags(meta)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"role": ""}; !reflect.DeepEqual(got, want) {
			t.Errorf("meta %#v decoded to %v, want %v", meta, got, want)
		}
	}
}

// TestTagsMalformedMeta: meta with the magic byte but a broken map gives an
// error (the caller logs it and keeps the partial map), never a panic.
func TestTagsMalformedMeta(t *testing.T) {
	for _, tc := range []struct{ name, hex string }{
		{"magic only", "ff"},
		{"never-used byte", "ff c1"},
		{"truncated map", "ff 81"},
		{"truncated value", "ff 81 a1 61 a3 62"},
		{"string instead of map", "ff a3 616263"},
		{"integer value", "ff 81 a1 61 0a"},
		{"array instead of map", "ff 92 a1 61 a1 62"},
		{"map32 claim", "ff df ffffffff"},
		{"str32 key claim", "ff 81 db ffffffff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeTags(codecHex(t, tc.hex))
			if err == nil {
				t.Errorf("decoded %v without error", got)
			}
		})
	}

	t.Run("nil map", func(t *testing.T) {
		// ff c0 is well-formed: a nil map, decoded as Serf's decoder does.
		got, err := decodeTags(codecHex(t, "ff c0"))
		if err != nil || len(got) != 0 {
			t.Errorf("got %v, %v; want no tags and no error", got, err)
		}
	})
}

// TestValidateTagsAgreesWithSetTags checks that the exported check refuses
// exactly what SetTags refuses, with the same error, around the limit.
func TestValidateTagsAgreesWithSetTags(t *testing.T) {
	s := startNode(t, memConfig(t, &testutil.MemNetwork{}))
	for _, size := range []int{0, 255, 256, 490, 495, 500, 505, 510, 511, 512, 600, 70000} {
		tags := map[string]string{"k": strings.Repeat("v", size)}
		check, set := ValidateTags(tags, 5), s.SetTags(tags)
		if (check == nil) != (set == nil) || check != nil && check.Error() != set.Error() {
			t.Errorf("value of %d bytes: ValidateTags %v, SetTags %v", size, check, set)
		}
	}
	if err := ValidateTags(map[string]string{"role": strings.Repeat("r", 600)}, 2); err == nil {
		t.Errorf("protocol 2: a 600-byte role passed")
	}
}
