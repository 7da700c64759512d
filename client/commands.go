package client

import (
	"fmt"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// Members returns every member the agent knows, in the agent's order
// (which is random), including members that left or failed and are not
// yet reaped.
func (c *RPCClient) Members() ([]Member, error) {
	var raw codec.Raw
	if err := c.call(MembersCommand, nil, &raw); err != nil {
		return nil, err
	}
	return c.membersReply(raw)
}

// membersReply decodes the body of a members or members-filtered reply
// (members_decode.go).
func (c *RPCClient) membersReply(raw codec.Raw) ([]Member, error) {
	members, err := decodeMembersReply(raw, c.handle)
	if err != nil {
		return nil, fmt.Errorf("decode members response: %w", err)
	}
	return members, nil
}

// MembersFiltered returns the members whose tags, status and name match
// the given regular expressions. The agent anchors every pattern at both
// ends; empty status or name patterns match everything. Pass an empty,
// non-nil tags map to send "no tag filter" exactly as the CLI does.
func (c *RPCClient) MembersFiltered(tags map[string]string, status, name string) ([]Member, error) {
	req := MembersFilteredRequest{Tags: tags, Status: status, Name: name}
	var raw codec.Raw
	if err := c.call(MembersFilteredCommand, &req, &raw); err != nil {
		return nil, err
	}
	return c.membersReply(raw)
}

// UserEvent sends a custom user event to the cluster. A nil payload is
// sent as msgpack nil, an empty one as an empty byte string.
func (c *RPCClient) UserEvent(name string, payload []byte, coalesce bool) error {
	req := EventRequest{Name: name, Payload: payload, Coalesce: coalesce}
	return c.call(EventCommand, &req, nil)
}

// ForceLeave forces the named member into the "left" state. Unknown names
// are not an error.
func (c *RPCClient) ForceLeave(node string) error {
	return c.call(ForceLeaveCommand, &ForceLeaveRequest{Node: node}, nil)
}

// ForceLeavePrune is ForceLeave that also erases the member from the
// member list at once instead of keeping it until the tombstone timeout.
func (c *RPCClient) ForceLeavePrune(node string) error {
	return c.call(ForceLeaveCommand, &ForceLeaveRequest{Node: node, Prune: true}, nil)
}

// Join asks the agent to join the cluster through the given addresses
// ([name/]host[:port]) and returns how many it reached. replay asks for
// past user events to be replayed to the agent. The count is returned even
// with an error.
func (c *RPCClient) Join(addrs []string, replay bool) (int, error) {
	req := JoinRequest{Existing: addrs, Replay: replay}
	var resp JoinResponse
	err := c.call(JoinCommand, &req, &resp)
	return int(resp.Num), err
}

// Leave makes the agent leave the cluster gracefully and shut down; the
// agent closes the connection after replying.
func (c *RPCClient) Leave() error {
	return c.call(LeaveCommand, nil, nil)
}

// UpdateTags sets the tags in set and removes those named in remove from
// the agent's own tags; a key both set and removed ends up set.
func (c *RPCClient) UpdateTags(set map[string]string, remove []string) error {
	req := TagsRequest{Tags: set, DeleteTags: remove}
	return c.call(TagsCommand, &req, nil)
}

// Stats returns the agent's debugging information, section by section;
// every value is a string.
func (c *RPCClient) Stats() (map[string]map[string]string, error) {
	var resp map[string]map[string]string
	err := c.call(StatsCommand, nil, &resp)
	return resp, err
}

// GetCoordinate returns the network coordinate the agent has cached for
// node, or nil when it has none.
func (c *RPCClient) GetCoordinate(node string) (*Coordinate, error) {
	var resp CoordinateResponse
	if err := c.call(GetCoordinateCommand, &CoordinateRequest{Node: node}, &resp); err != nil {
		return nil, err
	}
	if !resp.Ok {
		return nil, nil
	}
	return &resp.Coord, nil
}

// InstallKey adds a base64 key to every member's keyring. The reply is
// returned even with an error, since its Messages say which nodes failed.
func (c *RPCClient) InstallKey(key string) (KeyResponse, error) {
	return c.keyCall(InstallKeyCommand, &KeyRequest{Key: key})
}

// UseKey makes a base64 key, already installed, the primary key on every
// member. The reply is returned even with an error.
func (c *RPCClient) UseKey(key string) (KeyResponse, error) {
	return c.keyCall(UseKeyCommand, &KeyRequest{Key: key})
}

// RemoveKey removes a base64 key from every member's keyring; the primary
// key cannot be removed. The reply is returned even with an error.
func (c *RPCClient) RemoveKey(key string) (KeyResponse, error) {
	return c.keyCall(RemoveKeyCommand, &KeyRequest{Key: key})
}

// ListKeys asks every member for its keys. The reply's Keys maps each key
// to the number of members holding it and NumNodes says how many were
// asked. The reply is returned even with an error.
func (c *RPCClient) ListKeys() (KeyResponse, error) {
	return c.keyCall(ListKeysCommand, nil)
}

func (c *RPCClient) keyCall(command string, req *KeyRequest) (KeyResponse, error) {
	var resp KeyResponse
	var body interface{}
	if req != nil {
		body = req
	}
	err := c.call(command, body, &resp)
	return resp, err
}

// Monitor streams the agent's log lines at level or above (TRACE, DEBUG,
// INFO, WARN or ERR, any case) to ch, starting with the agent's buffered
// recent lines. Lines are delivered in order from a goroutine of the
// stream's own, so a slow reader does not hold up other requests, and it
// may send other requests on this client from inside its receive loop.
// A reader that falls 4096 lines behind loses the lines that arrive
// until it catches up; the client logs how many to Config.Logger.
//
// The client closes ch when the monitor ends: after Stop, Close or a lost
// connection, or at once when the agent refuses the request (then Monitor
// returns the agent's error).
func (c *RPCClient) Monitor(level string, ch chan<- string) (StreamHandle, error) {
	return c.openStream(MonitorCommand, &MonitorRequest{LogLevel: level}, newMonitorHandler(ch))
}

// Stream sends the cluster events matching filter ("*" for all, or a
// comma-separated list such as "member-join,user:deploy,query") to ch.
// Each record is decoded generically: top-level keys are strings, nested
// maps are map[interface{}]interface{}, text is string and binary data
// []byte. Query records carry an "ID" to pass to Respond.
//
// Delivery and the closing of ch work as for Monitor.
func (c *RPCClient) Stream(filter string, ch chan<- map[string]interface{}) (StreamHandle, error) {
	return c.openStream(StreamCommand, &StreamRequest{Type: filter}, newEventStreamHandler(ch))
}

func (c *RPCClient) openStream(command string, req interface{}, h streamHandler) (StreamHandle, error) {
	if !c.startPump(h.state()) {
		return 0, ErrClientClosed
	}
	seq, err := c.send(command, req, h)
	if err != nil {
		h.state().abort(err)
		return 0, err
	}
	if err := h.state().waitOpen(); err != nil {
		return 0, err
	}
	return StreamHandle(seq), nil
}

// Stop ends a Monitor or Stream. The local handler is removed (and its
// channel closed) before the "stop" request is sent, so records the agent
// had already queued are skipped.
func (c *RPCClient) Stop(handle StreamHandle) error {
	if h := c.removeHandler(uint64(handle)); h != nil {
		h.cleanup(nil, false)
	}
	return c.call(StopCommand, &StopRequest{Stop: uint64(handle)}, nil)
}

// QueryParam describes a query and where its results go.
type QueryParam struct {
	FilterNodes []string          // only these nodes answer; nil means all
	FilterTags  map[string]string // tag -> regexp each answering node must match (unanchored)
	RequestAck  bool              // ask nodes to acknowledge receipt
	RelayFactor uint8             // extra nodes that relay each answer
	Timeout     time.Duration     // zero lets the agent choose
	Name        string
	Payload     []byte

	// FinishWhenDone ends the query once every expected member has
	// answered; see QueryRequest.FinishWhenDone.
	FinishWhenDone bool

	// AckCh receives the name of each node that acknowledged, and RespCh
	// each answer. Either may be nil. Both are fed in arrival order by one
	// goroutine that waits for each value to be taken, so unbuffered
	// channels read by one select loop see acks and answers in exactly the
	// order the agent sent them. Both are closed when the query is over.
	AckCh  chan<- string
	RespCh chan<- NodeResponse

	// DoneCh, if set, receives one value when the query is over, after
	// AckCh and RespCh were closed: nil when the agent reported the end of
	// the query, otherwise the error that cut it short. It needs room for
	// one value; the client never waits on it.
	DoneCh chan<- error
}

// NodeResponse is one node's answer to a query.
type NodeResponse struct {
	From    string
	Payload []byte
}

// Query starts a query and returns once the agent accepted it; results
// then arrive on the channels of p. If the agent refuses it, Query returns
// the agent's error and the channels are closed at once.
func (c *RPCClient) Query(p *QueryParam) error {
	req := QueryRequest{
		FilterNodes: p.FilterNodes,
		FilterTags:  p.FilterTags,
		RequestAck:  p.RequestAck,
		RelayFactor: p.RelayFactor,
		Timeout:     p.Timeout,
		Name:        p.Name,
		Payload:     p.Payload,

		FinishWhenDone: p.FinishWhenDone,
	}
	h := newQueryHandler(p)
	if !c.startPump(h.state()) {
		return ErrClientClosed
	}
	if _, err := c.send(QueryCommand, &req, h); err != nil {
		h.abort(err)
		return err
	}
	return h.waitOpen()
}

// Respond answers a query received on an event stream of this client; id
// is the record's "ID".
func (c *RPCClient) Respond(id uint64, payload []byte) error {
	return c.call(RespondCommand, &RespondRequest{ID: id, Payload: payload}, nil)
}
