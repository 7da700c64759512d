package client

import (
	"bytes"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// TestQueryRequestFinishWhenDoneEncoding: the key is sent only when set,
// so a request without it is byte for byte what Serf's own clients send.
func TestQueryRequestFinishWhenDoneEncoding(t *testing.T) {
	cases := []struct {
		name    string
		req     QueryRequest
		wantKey bool
	}{
		{"default", QueryRequest{Name: "q"}, false},
		{"finish when done", QueryRequest{Name: "q", FinishWhenDone: true}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf []byte
			if err := codec.NewEncoderBytes(&buf, newRPCHandle()).Encode(&tc.req); err != nil {
				t.Fatal(err)
			}
			if got := bytes.Contains(buf, []byte("FinishWhenDone")); got != tc.wantKey {
				t.Errorf("key present %v, want %v (% x)", got, tc.wantKey, buf)
			}
			var back map[string]interface{}
			if err := codec.NewDecoderBytes(buf, newRPCHandle()).Decode(&back); err != nil {
				t.Fatal(err)
			}
			if want := 7; !tc.wantKey && len(back) != want {
				t.Errorf("%d keys, want Serf's %d", len(back), want)
			}
		})
	}
}
