package agent

import (
	"fmt"
	"sync"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/serfclone/serf/serf"
)

// membersReplyCache keeps the encoded body of the last "members" reply
// with the member-table version it was built from. Most requests find the
// table unchanged and are answered by writing those bytes again: at 1,000
// members that saves copying every record, building the reply structs
// and encoding about a hundred kilobytes per request.
type membersReplyCache struct {
	mu      sync.Mutex
	valid   bool
	version uint64
	body    []byte
}

// get returns the encoded members reply body for s's current members.
// The returned bytes are never changed afterwards (a refresh builds new
// ones), so they may be written without holding the cache's lock.
func (c *membersReplyCache) get(s *serf.Serf, handle *codec.MsgpackHandle) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.valid && c.version == s.MembersVersion() {
		return c.body, nil
	}
	members, version := s.MembersWithVersion()
	body, err := encodeIPCBody(handle, &ipcMembersResponse{Members: toIPCMembers(members)})
	if err != nil {
		return nil, err
	}
	c.valid, c.version, c.body = true, version, body
	return body, nil
}

// encodeIPCBody encodes v exactly as the connection's encoder would.
func encodeIPCBody(handle *codec.MsgpackHandle, v interface{}) ([]byte, error) {
	var out []byte
	if err := codec.NewEncoderBytes(&out, handle).Encode(v); err != nil {
		return nil, fmt.Errorf("encode response body: %w", err)
	}
	return out, nil
}

// replyEncoded sends a header with seq and no error, followed by a body
// that is already encoded, as one unit.
func (c *rpcConn) replyEncoded(seq uint64, body []byte) error {
	c.writeLock.Lock()
	defer c.writeLock.Unlock()
	if err := c.enc.Encode(&ipcResponseHeader{Seq: seq}); err != nil {
		return fmt.Errorf("encode response header: %w", err)
	}
	if _, err := c.writer.Write(body); err != nil {
		return fmt.Errorf("write response: %w", err)
	}
	if err := c.writer.Flush(); err != nil {
		return fmt.Errorf("write response: %w", err)
	}
	return nil
}
