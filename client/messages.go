package client

import (
	"net"
	"time"
)

// The RPC command names, exactly as the agent expects them on the wire.
// They are exported so that tools inspecting or proxying RPC traffic can
// name commands without repeating the strings.
const (
	HandshakeCommand       = "handshake"
	AuthCommand            = "auth"
	MembersCommand         = "members"
	MembersFilteredCommand = "members-filtered"
	JoinCommand            = "join"
	LeaveCommand           = "leave"
	ForceLeaveCommand      = "force-leave"
	EventCommand           = "event"
	TagsCommand            = "tags"
	StreamCommand          = "stream"
	MonitorCommand         = "monitor"
	StopCommand            = "stop"
	QueryCommand           = "query"
	RespondCommand         = "respond"
	InstallKeyCommand      = "install-key"
	UseKeyCommand          = "use-key"
	RemoveKeyCommand       = "remove-key"
	ListKeysCommand        = "list-keys"
	StatsCommand           = "stats"
	GetCoordinateCommand   = "get-coordinate"
)

// IPCVersion is the only handshake version a Serf 0.10 agent accepts.
const IPCVersion = 1

// Query record types (QueryRecord.Type) sent on a query's result stream.
const (
	QueryRecordAck      = "ack"
	QueryRecordResponse = "response"
	QueryRecordDone     = "done"
)

// Error texts the agent sends in a response header that are answered
// without a body whatever the command, so the client must not wait for one.
const (
	errHandshakeRequired  = "Handshake required"
	errAuthRequired       = "Authentication required"
	errUnsupportedCommand = "Unsupported command"
)

// The wire structures below are encoded as msgpack maps keyed by field
// name (the codec sorts the keys), so field names are part of the
// protocol and must not be renamed. Field types matter too: they decide
// the integer widths on the wire (unsigned fields use the uint formats,
// signed ones the int formats).

// RequestHeader precedes every request. Seq is chosen by the client and
// echoed in every reply to that request.
type RequestHeader struct {
	Command string
	Seq     uint64
}

// ResponseHeader precedes every reply and every streamed record. Error is
// empty on success.
type ResponseHeader struct {
	Seq   uint64
	Error string
}

// HandshakeRequest is the body of "handshake".
type HandshakeRequest struct {
	Version int32
}

// AuthRequest is the body of "auth".
type AuthRequest struct {
	AuthKey string
}

// CoordinateRequest is the body of "get-coordinate".
type CoordinateRequest struct {
	Node string
}

// CoordinateResponse is the reply body of "get-coordinate". Ok is false
// when the agent has no coordinate cached for the node.
type CoordinateResponse struct {
	Coord Coordinate
	Ok    bool
}

// Coordinate is a Vivaldi network coordinate as the agent reports it. All
// values are in seconds except Error, which is dimensionless.
type Coordinate struct {
	Vec        []float64
	Error      float64
	Adjustment float64
	Height     float64
}

// EventRequest is the body of "event".
type EventRequest struct {
	Name     string
	Payload  []byte
	Coalesce bool
}

// ForceLeaveRequest is the body of "force-leave".
type ForceLeaveRequest struct {
	Node  string
	Prune bool
}

// JoinRequest is the body of "join".
type JoinRequest struct {
	Existing []string
	Replay   bool
}

// JoinResponse is the reply body of "join"; the agent sends it even when
// the header carries an error.
type JoinResponse struct {
	Num int32
}

// MembersFilteredRequest is the body of "members-filtered". Every value is
// a regular expression the agent anchors at both ends.
type MembersFilteredRequest struct {
	Tags   map[string]string
	Status string
	Name   string
}

// MembersResponse is the reply body of "members" and "members-filtered".
type MembersResponse struct {
	Members []Member
}

// Member is one cluster member as the agent reports it. Addr holds the raw
// IP bytes: 4 bytes, or 16 for IPv6 and for IPv4 agents that advertise the
// IPv4-mapped form. The Protocol* values are memberlist's protocol range
// and the Delegate* values Serf's.
type Member struct {
	Name        string
	Addr        net.IP
	Port        uint16
	Tags        map[string]string
	Status      string
	ProtocolMin uint8
	ProtocolMax uint8
	ProtocolCur uint8
	DelegateMin uint8
	DelegateMax uint8
	DelegateCur uint8
}

// TagsRequest is the body of "tags".
type TagsRequest struct {
	Tags       map[string]string
	DeleteTags []string
}

// StreamRequest is the body of "stream". Type is an event filter such as
// "*", "member-join,user:deploy" or "query:load".
type StreamRequest struct {
	Type string
}

// MonitorRequest is the body of "monitor".
type MonitorRequest struct {
	LogLevel string
}

// StopRequest is the body of "stop"; Stop is the Seq of the stream or
// monitor to end.
type StopRequest struct {
	Stop uint64
}

// QueryRequest is the body of "query". Timeout counts nanoseconds; zero
// lets the agent pick its default.
type QueryRequest struct {
	FilterNodes []string
	FilterTags  map[string]string
	RequestAck  bool
	RelayFactor uint8
	Timeout     time.Duration
	Name        string
	Payload     []byte
	// FinishWhenDone, an addition of this implementation, asks the agent
	// to end the stream as soon as every member that matched the filters
	// when the query was sent has answered (and acked, with RequestAck),
	// instead of at the timeout. It is left out of the request when false,
	// so the request is byte for byte Serf's; an agent that does not know
	// it ignores it and waits for the timeout.
	FinishWhenDone bool `codec:",omitempty"`
}

// QueryRecord is one record of a query's result stream.
type QueryRecord struct {
	Type    string
	From    string
	Payload []byte
}

// RespondRequest is the body of "respond".
type RespondRequest struct {
	ID      uint64
	Payload []byte
}

// KeyRequest is the body of "install-key", "use-key" and "remove-key".
// Key is standard, padded base64.
type KeyRequest struct {
	Key string
}

// KeyResponse is the reply body of the key commands; the agent sends it
// even when the header carries an error. Messages maps node names to what
// they reported (errors and notes), Keys (list-keys only) maps base64 keys
// to the number of nodes holding them, and the counts say how many nodes
// were asked, answered and failed.
type KeyResponse struct {
	Messages map[string]string
	Keys     map[string]int
	NumNodes int
	NumResp  int
	NumErr   int
}

// LogRecord is one record of a monitor stream.
type LogRecord struct {
	Log string
}

// UserEventRecord is a "user" record of an event stream.
type UserEventRecord struct {
	Event    string
	LTime    uint64
	Name     string
	Payload  []byte
	Coalesce bool
}

// QueryEventRecord is a "query" record of an event stream. ID is what to
// pass to Respond on the same client.
type QueryEventRecord struct {
	Event   string
	ID      uint64
	LTime   uint64
	Name    string
	Payload []byte
}

// MemberEventRecord is a member-* record of an event stream.
type MemberEventRecord struct {
	Event   string
	Members []Member
}
