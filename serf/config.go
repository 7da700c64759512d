package serf

import (
	"io"
	"log"
	"os"
	"time"

	"github.com/hashicorp/go-metrics"
	"github.com/hashicorp/memberlist"
)

// Protocol versions this library speaks. Version 2 sends tags as a bare
// role, 3 as a map, and 4 and up allow queries.
const (
	ProtocolVersionMin uint8 = 2
	ProtocolVersionMax uint8 = 5
)

// Hard limits that configuration cannot raise.
const (
	// UserEventSizeLimit is the ceiling on an encoded user event.
	UserEventSizeLimit = 9 * 1024
	// MetaMaxSize is memberlist's node meta limit, which the tags must fit.
	MetaMaxSize = memberlist.MetaMaxSize
)

// ReconnectTimeoutOverrider lets a program choose, per member, how long a
// failed or left member is kept before it is reaped.
type ReconnectTimeoutOverrider interface {
	ReconnectTimeout(m *Member, timeout time.Duration) time.Duration
}

// Config holds every setting of a Serf instance. Start from DefaultConfig.
type Config struct {
	// NodeName must be unique in the cluster. Defaults to the host name.
	NodeName string

	// Tags are gossiped in the node meta; they must encode to at most
	// MetaMaxSize bytes.
	Tags map[string]string

	// EventCh receives membership, user and query events. Serf never
	// closes it; a nil channel discards events.
	//
	// Read it promptly, from a goroutine that does nothing else for long:
	// Serf hands each event over with a wait of at most
	// EventDeliveryTimeout. An event the reader has not taken by then is
	// dropped, counted in the serf.events.dropped metric and reported by
	// a [WARN] log line (at most one per eventDropLogInterval); while the
	// reader stays stalled, later events are dropped without waiting,
	// until it takes one again. A buffered channel absorbs bursts. Serf
	// never blocks gossip on a slow reader.
	EventCh chan<- Event

	// EventDeliveryTimeout is how long Serf waits for the EventCh reader
	// to take an event before dropping it. Zero drops at once whenever
	// the channel is full.
	EventDeliveryTimeout time.Duration

	// ProtocolVersion is the Serf protocol to speak, in [2, 5].
	ProtocolVersion uint8

	// BroadcastTimeout bounds the wait for a leave or force-leave intent
	// to be gossiped, and a tag update.
	BroadcastTimeout time.Duration

	// LeavePropagateDelay is how long a leaving node keeps answering
	// probes after its memberlist leave, so the news can spread.
	LeavePropagateDelay time.Duration

	// CoalescePeriod and QuiescentPeriod merge member events: a window
	// flushes after CoalescePeriod, or after QuiescentPeriod with no new
	// event. Zero turns member coalescing off.
	CoalescePeriod  time.Duration
	QuiescentPeriod time.Duration

	// UserCoalescePeriod and UserQuiescentPeriod do the same for user
	// events sent with coalescing allowed.
	UserCoalescePeriod  time.Duration
	UserQuiescentPeriod time.Duration

	// ReapInterval is how often failed and left members and old intents
	// are checked for expiry.
	ReapInterval time.Duration

	// ReconnectInterval is how often a failed member is tried again, and
	// ReconnectTimeout how long failed members are kept.
	ReconnectInterval time.Duration
	ReconnectTimeout  time.Duration

	// ReconnectTimeoutOverride, if set, picks the timeout per member.
	ReconnectTimeoutOverride ReconnectTimeoutOverrider

	// JoinSyncDelay is how long after a successful Join the node makes
	// one more state exchange with a random member, to learn of whoever
	// joined at about the same time (see syncAfterJoin). Zero turns the
	// exchange off, as in Serf 0.10.
	JoinSyncDelay time.Duration

	// TombstoneTimeout is how long left members are kept.
	TombstoneTimeout time.Duration

	// FlapTimeout: a failed member back within it counts as a flap.
	FlapTimeout time.Duration

	// QueueCheckInterval, QueueDepthWarning, MaxQueueDepth and
	// MinQueueDepth govern the broadcast queues' depth checks. With
	// MinQueueDepth > 0 the limit is max(MinQueueDepth, 2*members).
	QueueCheckInterval time.Duration
	QueueDepthWarning  int
	MaxQueueDepth      int
	MinQueueDepth      int

	// RecentIntentTimeout is how long an intent for an unknown node is kept.
	RecentIntentTimeout time.Duration

	// EventBuffer and QueryBuffer are the sizes of the rings of recent
	// user events and queries, by LTime.
	EventBuffer int
	QueryBuffer int

	// QueryTimeoutMult scales the default query timeout:
	// GossipInterval * QueryTimeoutMult * ceil(log10(N+1)).
	QueryTimeoutMult int

	// QueryResponseSizeLimit and QuerySizeLimit bound encoded responses
	// and queries; UserEventSizeLimit bounds encoded user events.
	QueryResponseSizeLimit int
	QuerySizeLimit         int
	UserEventSizeLimit     int

	// PushFanout is how many children each member has in the tree a new
	// user event or query is pushed along at once, besides gossip (each
	// member also pushes to one random member); 0 leaves it to gossip
	// alone, as Serf 0.10 does. PushRate caps the messages pushed per
	// second (a burst of one second's worth); past it, messages only
	// gossip, and a PushRate of 0 pushes nothing. See push.go.
	PushFanout int
	PushRate   int

	// MemberlistConfig is the memberlist configuration to start from.
	// Serf overwrites the fields it owns (name, delegates, versions).
	MemberlistConfig *memberlist.Config

	// LogOutput and Logger receive log lines; Logger wins if both are set.
	LogOutput io.Writer
	Logger    *log.Logger

	// SnapshotPath, if set, records membership and clocks so a restarted
	// node can rejoin and will not replay old events.
	SnapshotPath string

	// RejoinAfterLeave lets a node that left gracefully rejoin from its
	// snapshot after a restart.
	RejoinAfterLeave bool

	// EnableNameConflictResolution answers a name conflict about this
	// node with a _serf_conflict vote, shutting down if in the minority.
	EnableNameConflictResolution bool

	// DisableCoordinates turns off Vivaldi network coordinates.
	DisableCoordinates bool

	// KeyringFile, if set, is rewritten after every key change.
	KeyringFile string

	// Merge, if set, can veto joining a cluster and alive messages.
	Merge MergeDelegate

	// ValidateNodeNames restricts names to [A-Za-z0-9.-], 128 chars max.
	ValidateNodeNames bool

	// MsgpackUseNewTimeFormat only affects time.Time encoding.
	MsgpackUseNewTimeFormat bool

	// MetricLabels are added to every metric this instance emits.
	MetricLabels []metrics.Label

	// Metrics receives the instance's metrics; nil means go-metrics'
	// default global sink, as Serf does.
	Metrics *metrics.Metrics

	// Self-healing (not in Serf 0.10; see heal.go). Every HealInterval
	// (plus a random part of up to one more interval) the heal loop makes
	// up to HealAttempts plain memberlist joins to failed or reaped
	// members of the address book that are not members now, and to
	// HealJoinAddrs while some known member is not alive. The book keeps
	// up to AddressBookSize members for RejoinWindow. HealInterval <= 0
	// or HealAttempts <= 0 turns the loop off; the book is kept anyway.
	HealInterval    time.Duration
	HealAttempts    int
	HealJoinAddrs   []string
	RejoinWindow    time.Duration
	AddressBookSize int
}

// MergeDelegate lets the embedding program refuse members.
type MergeDelegate interface {
	NotifyMerge([]*Member) error
}

// DefaultConfig returns the Serf 0.10 library defaults on memberlist's LAN
// profile.
func DefaultConfig() *Config {
	hostname, err := os.Hostname()
	if err != nil {
		hostname = "serf-node"
	}
	return &Config{
		NodeName:                     hostname,
		BroadcastTimeout:             5 * time.Second,
		LeavePropagateDelay:          1 * time.Second,
		EventBuffer:                  512,
		QueryBuffer:                  512,
		LogOutput:                    os.Stderr,
		ProtocolVersion:              4,
		ReapInterval:                 15 * time.Second,
		RecentIntentTimeout:          5 * time.Minute,
		ReconnectInterval:            30 * time.Second,
		ReconnectTimeout:             24 * time.Hour,
		QueueCheckInterval:           30 * time.Second,
		QueueDepthWarning:            128,
		MaxQueueDepth:                4096,
		TombstoneTimeout:             24 * time.Hour,
		JoinSyncDelay:                DefaultJoinSyncDelay,
		FlapTimeout:                  60 * time.Second,
		MemberlistConfig:             memberlist.DefaultLANConfig(),
		QueryTimeoutMult:             16,
		QueryResponseSizeLimit:       1024,
		QuerySizeLimit:               1024,
		EnableNameConflictResolution: true,
		DisableCoordinates:           false,
		ValidateNodeNames:            false,
		UserEventSizeLimit:           512,
		PushFanout:                   DefaultPushFanout,
		PushRate:                     DefaultPushRate,
		EventDeliveryTimeout:         defaultEventDeliveryTimeout,
		HealInterval:                 DefaultHealInterval,
		HealAttempts:                 DefaultHealAttempts,
		RejoinWindow:                 DefaultRejoinWindow,
		AddressBookSize:              DefaultAddressBookSize,
	}
}
