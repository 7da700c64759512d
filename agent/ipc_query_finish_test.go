package agent

import (
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// TestQueryRequestFinishWhenDoneDecoding: the query request's optional
// FinishWhenDone key is read when present, absent means false (Serf's
// behaviour), and keys this agent does not know are ignored, which is
// what lets a newer client talk to an older agent.
func TestQueryRequestFinishWhenDoneDecoding(t *testing.T) {
	cases := []struct {
		name string
		body map[string]interface{}
		want bool
	}{
		{"Serf's request", map[string]interface{}{"Name": "q", "RequestAck": true, "Timeout": 2000000000}, false},
		{"asked to finish", map[string]interface{}{"Name": "q", "FinishWhenDone": true}, true},
		{"unknown keys too", map[string]interface{}{"Name": "q", "FinishWhenDone": true, "SomeFutureKey": []int{1, 2}}, true},
	}
	h := newIPCHandle()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf []byte
			if err := codec.NewEncoderBytes(&buf, h).Encode(tc.body); err != nil {
				t.Fatal(err)
			}
			var req ipcQueryRequest
			if err := codec.NewDecoderBytes(buf, h).Decode(&req); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if req.Name != "q" || req.FinishWhenDone != tc.want {
				t.Errorf("decoded %+v, want Name q and FinishWhenDone %v", req, tc.want)
			}
		})
	}
}
