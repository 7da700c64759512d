package serf

import "github.com/hashicorp/memberlist"

// broadcast is one Serf message in a memberlist transmit queue. Serf
// messages never replace each other, so it is a UniqueBroadcast.
type broadcast struct {
	msg    []byte
	notify chan<- struct{}
}

var _ memberlist.UniqueBroadcast = (*broadcast)(nil)

// Invalidates implements memberlist.Broadcast; Serf messages never do.
func (b *broadcast) Invalidates(memberlist.Broadcast) bool { return false }

// UniqueBroadcast marks the broadcast as never invalidating another.
func (b *broadcast) UniqueBroadcast() {}

// Message implements memberlist.Broadcast.
func (b *broadcast) Message() []byte { return b.msg }

// Finished implements memberlist.Broadcast: the message went out its full
// retransmit count, or was dropped from the queue.
func (b *broadcast) Finished() {
	if b.notify != nil {
		close(b.notify)
	}
}
