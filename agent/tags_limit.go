package agent

import (
	"fmt"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/serfclone/serf/serf"
)

// checkTagsSize refuses tags whose gossiped form would exceed memberlist's
// node meta limit, with the error Serf gives for them. It encodes the tags
// the way the serf package does (a 0xff byte, then a msgpack map written
// with a zero MsgpackHandle; protocol 2 sends only the role), because the
// library offers no exported check and the agent must refuse a change
// before it rewrites the tags file, not after.
func checkTagsSize(tags map[string]string, protocolVersion uint8) error {
	size := 0
	if protocolVersion < 3 {
		size = len(tags["role"])
	} else {
		if tags == nil {
			tags = map[string]string{}
		}
		var buf []byte
		if err := codec.NewEncoderBytes(&buf, &codec.MsgpackHandle{}).Encode(tags); err != nil {
			return fmt.Errorf("encode tags: %w", err)
		}
		size = 1 + len(buf)
	}
	if size > serf.MetaMaxSize {
		return fmt.Errorf("Encoded length of tags exceeds limit of %d bytes", serf.MetaMaxSize)
	}
	return nil
}
