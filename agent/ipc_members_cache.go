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
//
// The reply lists members by name, each with its tags in key order. Serf
// 0.10 leaves both orders random, and clients take any order; a fixed one
// lets an operator diff two `serf members` listings, and makes a rebuild
// that found nothing new (the table's version also moves on write
// sections that change no record) produce the same bytes as before.
type membersReplyCache struct {
	mu      sync.Mutex
	handle  *codec.MsgpackHandle // the RPC settings, map keys sorted
	valid   bool
	version uint64
	body    []byte
}

// get returns the encoded members reply body for s's current members.
// The returned bytes are never changed afterwards (a refresh builds new
// ones), so they may be written without holding the cache's lock.
func (c *membersReplyCache) get(s *serf.Serf) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.valid && c.version == s.MembersVersion() {
		return c.body, nil
	}
	if c.handle == nil {
		c.handle = newIPCHandle()
		c.handle.Canonical = true
	}
	members, version := s.MembersWithVersion()
	body, err := encodeIPCBody(c.handle, &ipcMembersResponse{Members: toIPCMembers(sortedByName(members))})
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
