package agent

import (
	"net"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"github.com/serfclone/serf/coordinate"
	"github.com/serfclone/serf/serf"
)

// This file holds the RPC wire vocabulary of Serf 0.10: command names, error
// strings and the structures exchanged. Structures travel as msgpack maps
// keyed by field name, and the codec writes the keys in sorted order as
// Serf does, so field names and types are part of the protocol: unsigned
// fields use msgpack's uint formats, signed ones the int formats.

// IPC protocol versions accepted in the handshake.
const (
	minIPCVersion = 1
	maxIPCVersion = 1
)

// Command names. They are case-sensitive.
const (
	handshakeCommand       = "handshake"
	authCommand            = "auth"
	membersCommand         = "members"
	membersFilteredCommand = "members-filtered"
	joinCommand            = "join"
	leaveCommand           = "leave"
	forceLeaveCommand      = "force-leave"
	eventCommand           = "event"
	tagsCommand            = "tags"
	streamCommand          = "stream"
	monitorCommand         = "monitor"
	stopCommand            = "stop"
	queryCommand           = "query"
	respondCommand         = "respond"
	installKeyCommand      = "install-key"
	useKeyCommand          = "use-key"
	removeKeyCommand       = "remove-key"
	listKeysCommand        = "list-keys"
	statsCommand           = "stats"
	getCoordinateCommand   = "get-coordinate"
)

// Error strings, word for word Serf's: clients compare them.
const (
	errUnsupportedCommandText = "Unsupported command"
	errUnsupportedIPCVersion  = "Unsupported IPC version"
	errDuplicateHandshake     = "Handshake already performed"
	errHandshakeRequiredText  = "Handshake required"
	errMonitorExists          = "Monitor already exists"
	errInvalidFilter          = "Invalid event filter"
	errStreamExists           = "Stream with given sequence exists"
	errUnknownQueryID         = "No pending queries matching ID"
	errAuthRequiredText       = "Authentication required"
	errInvalidAuthToken       = "Invalid authentication token"
)

// Query result record types, the "Type" of each record of a query stream.
const (
	queryRecordAck      = "ack"
	queryRecordResponse = "response"
	queryRecordDone     = "done"
)

// newIPCHandle returns the msgpack settings of the RPC protocol: WriteExt
// makes []byte travel as bin and lets 32-255 byte strings use str8, unlike
// the gossip handle. Each server gets its own handle (handles cache type
// information), keeping the package free of shared mutable state.
func newIPCHandle() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{WriteExt: true}
	h.TimeNotBuiltin = true
	return h
}

// ipcRequestHeader precedes every request. One value is reused for all the
// requests of a connection, so a header that omits a key keeps the value
// of the previous request, as Serf does.
type ipcRequestHeader struct {
	Command string
	Seq     uint64
}

// ipcResponseHeader precedes every reply and every stream record.
type ipcResponseHeader struct {
	Seq   uint64
	Error string
}

type ipcHandshakeRequest struct {
	Version int32
}

type ipcAuthRequest struct {
	AuthKey string
}

type ipcCoordinateRequest struct {
	Node string
}

type ipcCoordinateResponse struct {
	Coord coordinate.Coordinate
	Ok    bool
}

type ipcEventRequest struct {
	Name     string
	Payload  []byte
	Coalesce bool
}

type ipcForceLeaveRequest struct {
	Node  string
	Prune bool
}

type ipcJoinRequest struct {
	Existing []string
	Replay   bool
}

type ipcJoinResponse struct {
	Num int32
}

type ipcMembersFilteredRequest struct {
	Tags   map[string]string
	Status string
	Name   string
}

type ipcMembersResponse struct {
	Members []ipcMember
}

type ipcKeyRequest struct {
	Key string
}

// ipcKeyResponse is the body of every key command. Keys stays nil except
// for list-keys; Messages is never nil.
type ipcKeyResponse struct {
	Messages map[string]string
	Keys     map[string]int
	NumNodes int
	NumErr   int
	NumResp  int
}

type ipcMonitorRequest struct {
	LogLevel string
}

type ipcStreamRequest struct {
	Type string
}

type ipcStopRequest struct {
	Stop uint64
}

type ipcTagsRequest struct {
	Tags       map[string]string
	DeleteTags []string
}

type ipcQueryRequest struct {
	FilterNodes []string
	FilterTags  map[string]string
	RequestAck  bool
	RelayFactor uint8
	Timeout     time.Duration
	Name        string
	Payload     []byte
}

type ipcRespondRequest struct {
	ID      uint64
	Payload []byte
}

// ipcQueryRecord is one ack, response or the final done of a query.
type ipcQueryRecord struct {
	Type    string
	From    string
	Payload []byte
}

// ipcLogRecord is one monitor line.
type ipcLogRecord struct {
	Log string
}

// ipcMember is a member as RPC shows it.
type ipcMember struct {
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

// ipcMemberEventRecord is a member-* stream record.
type ipcMemberEventRecord struct {
	Event   string
	Members []ipcMember
}

// ipcUserEventRecord is a user event stream record.
type ipcUserEventRecord struct {
	Event    string
	LTime    serf.LamportTime
	Name     string
	Payload  []byte
	Coalesce bool
}

// ipcQueryEventRecord is a query stream record. ID is the
// connection's handle for respond, not the query's gossip ID.
type ipcQueryEventRecord struct {
	Event   string
	ID      uint64
	LTime   serf.LamportTime
	Name    string
	Payload []byte
}

// toIPCMember converts a Serf member. Tags are never nil on the wire.
func toIPCMember(m serf.Member) ipcMember {
	tags := m.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return ipcMember{
		Name:        m.Name,
		Addr:        m.Addr,
		Port:        m.Port,
		Tags:        tags,
		Status:      m.Status.String(),
		ProtocolMin: m.ProtocolMin,
		ProtocolMax: m.ProtocolMax,
		ProtocolCur: m.ProtocolCur,
		DelegateMin: m.DelegateMin,
		DelegateMax: m.DelegateMax,
		DelegateCur: m.DelegateCur,
	}
}

// toIPCMembers converts a member list; the result is never nil, so an
// empty list travels as an empty array.
func toIPCMembers(members []serf.Member) []ipcMember {
	out := make([]ipcMember, 0, len(members))
	for _, m := range members {
		out = append(out, toIPCMember(m))
	}
	return out
}
