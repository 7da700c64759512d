package sim

import (
	"math/rand/v2"
	"slices"
	"time"
	"unsafe"

	"github.com/hashicorp/memberlist"
)

// The model is a second, lighter simulator for clusters too large for
// real instances (see docs/performance.md). Each member holds only what
// dissemination needs: memberlist's and Serf's broadcast queues (real
// memberlist.TransmitLimitedQueues) and, per message, whether it has it.
// Membership is assumed known to all, so a member picks peers uniformly
// among the N; nothing a member holds grows with N.

// msgKind is what a modelled message is, which decides the queue it goes
// to and whether receiving it queues it again.
type msgKind uint8

const (
	kindAlive  msgKind = iota // memberlist's alive message (memberlist's own queue)
	kindIntent                // Serf's join intent (intent queue)
	kindEvent                 // Serf's user event (event queue)
)

// modelMsg is one message and where it has been.
type modelMsg struct {
	kind     msgKind
	raw      []byte
	bcast    memberlist.Broadcast // shared by every queue holding it
	seen     []uint64             // bit per member
	reached  int
	origin   time.Duration
	arrivals []time.Duration // events only: when each member got it, in order
	sends    int64           // copies sent by gossip, piggyback and push
}

func (m *modelMsg) has(i int32) bool { return m.seen[i>>6]&(1<<(uint(i)&63)) != 0 }
func (m *modelMsg) mark(i int32)     { m.seen[i>>6] |= 1 << (uint(i) & 63) }

// sharedBroadcast is a message in a queue: one value per message, shared
// by every member's queue. Serf's messages never invalidate each other;
// for alive messages see newMsg.
type sharedBroadcast struct{ msg []byte }

func (b *sharedBroadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b *sharedBroadcast) Message() []byte                       { return b.msg }
func (b *sharedBroadcast) Finished()                             {}
func (b *sharedBroadcast) UniqueBroadcast()                      {}

// modelMember is one member: its queues, its timer phases, its push
// budget, and its side in a partition.
type modelMember struct {
	ml, intents, queries, events *memberlist.TransmitLimitedQueue

	gossipPhase, probePhase time.Duration
	ticking, probing        bool // a gossip / probe tick is scheduled

	tokens   float64
	tokensAt time.Duration
	tokensOn bool

	side   uint8
	healed bool
}

// phaseStats are the figures of one phase of a run.
type phaseStats struct {
	ppBytes                      int64
	ppCount                      int64
	intentMax, eventMax, queryMx int
	mlMax                        int
}

// model is one run's state. It is used by one goroutine.
type model struct {
	conf   ModelConfig
	rng    *rand.Rand
	q      eventQueue
	now    time.Duration
	sizes  MessageSizes
	limit  int
	period time.Duration // scaled push-pull interval

	members []modelMember
	msgs    []modelMsg
	// byPtr finds a message from the bytes a queue hands back: the queues
	// return only Message(), and every queue holds the same slice.
	byPtr map[*byte]int32

	healing  bool
	unhealed int

	phase       phaseStats
	packets     int64
	packetBytes int64
	dropped     int64
	pruned      int64
}

func newModel(conf ModelConfig) (*model, error) {
	if err := conf.validate(); err != nil {
		return nil, err
	}
	sizes, err := messageSizes(conf.Size, conf.Events, conf.EventBuffer)
	if err != nil {
		return nil, err
	}
	m := &model{
		conf:    conf,
		rng:     rand.New(rand.NewPCG(conf.Seed, 0x6d6f64656c)),
		sizes:   sizes,
		limit:   conf.queueLimit(),
		period:  conf.pushPullPeriod(),
		members: make([]modelMember, conf.Size),
		byPtr:   make(map[*byte]int32),
	}
	for i := range m.members {
		mem := &m.members[i]
		m.newQueues(mem)
		mem.gossipPhase = m.randDur(conf.GossipInterval)
		mem.probePhase = m.randDur(conf.ProbeInterval)
		m.q.schedule(simEvent{at: m.randDur(m.period), kind: evPushPull, a: int32(i)})
	}
	return m, nil
}

// newQueues gives a member fresh, empty queues, as a restart does.
func (m *model) newQueues(mem *modelMember) {
	n := m.conf.Size
	numNodes := func() int { return n }
	mk := func() *memberlist.TransmitLimitedQueue {
		return &memberlist.TransmitLimitedQueue{NumNodes: numNodes, RetransmitMult: m.conf.RetransmitMult}
	}
	mem.ml, mem.intents, mem.queries, mem.events = mk(), mk(), mk(), mk()
}

func (m *model) randDur(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(m.rng.Int64N(int64(d)))
}

// latency draws a packet's delay, or reports it lost.
func (m *model) latency() (time.Duration, bool) {
	if m.conf.Net.Loss > 0 && m.rng.Float64() < m.conf.Net.Loss {
		return 0, false
	}
	return m.conf.Net.MinLatency + m.randDur(m.conf.Net.MaxLatency-m.conf.Net.MinLatency+1), true
}

// peer picks a member other than self (and other than skip, if >= 0).
func (m *model) peer(self, skip int32) int32 {
	for {
		p := int32(m.rng.IntN(m.conf.Size))
		if p != self && p != skip {
			return p
		}
	}
}

// peers picks up to k distinct members other than self.
func (m *model) peers(self int32, k int, out []int32) []int32 {
	k = min(k, m.conf.Size-1)
	out = out[:0]
	for len(out) < k {
		p := m.peer(self, -1)
		dup := false
		for _, q := range out {
			dup = dup || q == p
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// newMsg creates a message of the given kind and size, first held by origin.
func (m *model) newMsg(kind msgKind, size int, origin int32) int32 {
	id := int32(len(m.msgs))
	raw := make([]byte, size)
	msg := modelMsg{kind: kind, raw: raw, seen: make([]uint64, (m.conf.Size+63)/64), origin: m.now}
	// memberlist queues an alive message under its node's name, so that a
	// newer one replaces it. In the model no member ever has two alive
	// messages of one node in flight, so nothing would be replaced; queued
	// as unique, the queue does the same without its name index, which at
	// 10,000 members is a good part of the model's memory.
	msg.bcast = &sharedBroadcast{msg: raw}
	m.msgs = append(m.msgs, msg)
	m.byPtr[unsafe.SliceData(raw)] = id
	m.learn(origin, id)
	m.originate(origin, id, true)
	return id
}

// learn records that member i has message id; it reports whether the
// message was new to it.
func (m *model) learn(i, id int32) bool {
	msg := &m.msgs[id]
	if msg.has(i) {
		return false
	}
	msg.mark(i)
	msg.reached++
	if msg.kind == kindEvent {
		msg.arrivals = append(msg.arrivals, m.now-msg.origin)
	}
	return true
}

// admit gives member i message id. If it is new to the member and
// regossip is set, the member queues it (and pushes a user event), as
// NotifyMsg does.
func (m *model) admit(i, id int32, regossip bool) {
	if !m.learn(i, id) || !regossip {
		return
	}
	m.originate(i, id, false)
}

// originate queues a message on member i and pushes it if it is a user
// event; origin is set on the member that created it.
func (m *model) originate(i, id int32, origin bool) {
	m.enqueue(i, id)
	if m.msgs[id].kind == kindEvent {
		m.push(i, id, origin)
	}
}

// enqueue puts a message in member i's queue for its kind. Serf's queues
// are trimmed to the limit at once, as queueBounded does.
func (m *model) enqueue(i, id int32) {
	mem := &m.members[i]
	msg := &m.msgs[id]
	var q *memberlist.TransmitLimitedQueue
	switch msg.kind {
	case kindAlive:
		mem.ml.QueueBroadcast(msg.bcast)
		m.phase.mlMax = max(m.phase.mlMax, mem.ml.NumQueued())
		m.wake(i)
		return
	case kindIntent:
		q = mem.intents
	default:
		q = mem.events
	}
	q.QueueBroadcast(msg.bcast)
	if q.NumQueued() > m.limit {
		q.Prune(m.limit)
		m.pruned++
	}
	d := q.NumQueued()
	if msg.kind == kindIntent {
		m.phase.intentMax = max(m.phase.intentMax, d)
	} else {
		m.phase.eventMax = max(m.phase.eventMax, d)
	}
	m.wake(i)
}

// idle reports whether member i has nothing to gossip.
func (m *model) idle(mem *modelMember) bool {
	return mem.ml.NumQueued() == 0 && mem.intents.NumQueued() == 0 && mem.queries.NumQueued() == 0 && mem.events.NumQueued() == 0
}

// nextTick is the first instant after now on a timer of the given phase
// and interval: memberlist's timers tick regardless of the queues, and a
// member with nothing queued sends nothing, so the model only schedules
// ticks of members that have something to send.
func (m *model) nextTick(phase, interval time.Duration) time.Duration {
	if m.now < phase {
		return phase
	}
	return phase + ((m.now-phase)/interval+1)*interval
}

func (m *model) wake(i int32) {
	mem := &m.members[i]
	if !mem.ticking {
		mem.ticking = true
		m.q.schedule(simEvent{at: m.nextTick(mem.gossipPhase, m.conf.GossipInterval), kind: evGossip, a: i})
	}
	if m.conf.Probes && !mem.probing {
		mem.probing = true
		m.q.schedule(simEvent{at: m.nextTick(mem.probePhase, m.conf.ProbeInterval), kind: evProbe, a: i})
	}
}

// Memberlist's framing: a compound packet has a type byte, a count and a
// two-byte length per part; a Serf message carries a user-message byte.
const (
	compoundHeaderOverhead = 2
	compoundOverhead       = 2
	userMsgOverhead        = 1
)

// getBroadcasts fills one packet's budget as memberlist does: its own
// queue first, then Serf's delegate takes intents, queries and events, in
// that order, from what is left. It returns the message ids and their
// bytes on the wire (with each Serf message's user-message byte).
func (m *model) getBroadcasts(mem *modelMember, overhead, limit int, ids []int32) ([]int32, int) {
	bytes := 0
	take := func(q *memberlist.TransmitLimitedQueue, overhead, limit, extra int) int {
		used := 0
		for _, b := range q.GetBroadcasts(overhead, limit) {
			ids = append(ids, m.byPtr[unsafe.SliceData(b)])
			used += len(b) + overhead
			bytes += len(b) + extra
		}
		return used
	}
	used := take(mem.ml, overhead, limit, 0)
	avail := limit - used
	if avail > overhead+userMsgOverhead {
		uo := overhead + userMsgOverhead
		u := take(mem.intents, uo, avail, userMsgOverhead)
		u += take(mem.queries, uo, avail-u, userMsgOverhead)
		take(mem.events, uo, avail-u, userMsgOverhead)
	}
	return ids, bytes
}

// wireSize is a packet's size: one message as is, or a compound.
func wireSize(parts, bytes int) int {
	if parts <= 1 {
		return bytes
	}
	return compoundHeaderOverhead + compoundOverhead*parts + bytes
}

// send puts a packet of the given size carrying ids from a to b on the
// network.
func (m *model) send(a, b int32, ids []int32, size int) {
	m.packets++
	m.packetBytes += int64(size)
	for _, id := range ids {
		m.msgs[id].sends++
	}
	d, ok := m.latency()
	if !ok {
		m.dropped++
		return
	}
	m.q.schedule(simEvent{at: m.now + d, kind: evPacket, a: a, b: b, msgs: ids})
}

// gossip is one gossip tick of member i: up to GossipNodes packets to
// random members, each filled from the queues; it stops at the first
// empty fill, as memberlist does.
func (m *model) gossip(i int32) {
	mem := &m.members[i]
	var targets [8]int32
	limit := m.conf.UDPBufferSize - compoundHeaderOverhead
	for _, t := range m.peers(i, m.conf.GossipNodes, targets[:0]) {
		ids, bytes := m.getBroadcasts(mem, compoundOverhead, limit, nil)
		if len(ids) == 0 {
			break
		}
		m.send(i, t, ids, wireSize(len(ids), bytes))
	}
	if m.idle(mem) {
		mem.ticking = false
		return
	}
	m.q.schedule(simEvent{at: m.now + m.conf.GossipInterval, kind: evGossip, a: i})
}

// probe is one probe tick of member i: its ping to a random member and,
// standing for the ack it sends to whoever probes it (each member is
// probed about once a ProbeInterval), an ack to another; both carry what
// fits of its broadcasts.
func (m *model) probe(i int32) {
	mem := &m.members[i]
	for _, own := range []int{m.sizes.Ping, m.sizes.Ack} {
		limit := m.conf.UDPBufferSize - own - compoundHeaderOverhead
		ids, bytes := m.getBroadcasts(mem, compoundOverhead, limit, nil)
		if len(ids) == 0 {
			break
		}
		m.send(i, m.peer(i, -1), ids, wireSize(len(ids)+1, own+bytes))
	}
	if m.idle(mem) {
		mem.probing = false
		return
	}
	m.q.schedule(simEvent{at: m.now + m.conf.ProbeInterval, kind: evProbe, a: i})
}

// push sends a new user event at once along its push tree, as Serf's
// push does (serf/push_tree.go): to member i's children in the
// PushFanout-ary tree over all members rooted at a position drawn from
// the message, to the root too from the originator, and to one random
// member; if pushing is on and the token bucket (PushRate a second, a
// second's worth of burst) allows. Every member sees the same ring here
// (the members in index order), as the members of a settled cluster do.
func (m *model) push(i, id int32, origin bool) {
	if !m.conf.Push || m.conf.PushFanout <= 0 || !m.takeToken(&m.members[i]) {
		return
	}
	n, k := int64(m.conf.Size), int64(m.conf.PushFanout)
	if n < 2 {
		return
	}
	size := userMsgOverhead + len(m.msgs[id].raw)
	root := int64(uint64(id)*0x9E3779B97F4A7C15>>11) % n
	rel := (int64(i) - root + n) % n
	var sent [10]int32
	picked := sent[:0]
	send := func(t int32) {
		if t == i || slices.Contains(picked, t) {
			return
		}
		if len(picked) < cap(picked) {
			picked = append(picked, t)
		}
		m.send(i, t, []int32{id}, size)
	}
	if origin {
		send(int32(root))
	}
	if rel <= (n-1)/k {
		for j := int64(1); j <= k && k*rel+j < n; j++ {
			send(int32((root + k*rel + j) % n))
		}
	}
	send(m.peer(i, -1))
}

func (m *model) takeToken(mem *modelMember) bool {
	rate := float64(m.conf.PushRate)
	if rate <= 0 {
		return false
	}
	if !mem.tokensOn {
		mem.tokensOn, mem.tokens = true, rate
	} else if dt := (m.now - mem.tokensAt).Seconds(); dt > 0 {
		mem.tokens = min(rate, mem.tokens+dt*rate)
	}
	mem.tokensAt = m.now
	if mem.tokens < 1 {
		return false
	}
	mem.tokens--
	return true
}

// deliver hands a packet's messages to its receiver.
func (m *model) deliver(e simEvent) {
	for _, id := range e.msgs {
		m.admit(e.b, id, true)
	}
}

// startPushPull begins a state exchange between a and b of the given
// bytes; it completes after two round trips (connect, then the states).
func (m *model) startPushPull(a, b int32, bytes int, reconnect bool) {
	m.phase.ppBytes += int64(bytes)
	m.phase.ppCount++
	d := 2 * (m.conf.Net.MinLatency + m.conf.Net.MaxLatency)
	k := int32(0)
	if reconnect {
		k = 1
	}
	m.q.schedule(simEvent{at: m.now + d, kind: evPushPullDone, a: a, b: b, msgs: []int32{k}})
}

// periodicPushPull is member i's anti-entropy exchange with a random
// member it sees alive: during a partition, one of its own side.
func (m *model) periodicPushPull(i int32) {
	m.q.schedule(simEvent{at: m.now + m.period, kind: evPushPull, a: i})
	p := m.peer(i, -1)
	if m.healing && !m.members[i].healed {
		if m.sideSize(m.members[i].side) < 2 {
			return // it sees no one alive
		}
		for m.members[p].side != m.members[i].side {
			p = m.peer(i, -1)
		}
	}
	m.startPushPull(i, p, 2*m.sizes.StateFull, false)
}

// finishPushPull merges the two states: each side learns the messages the
// other had. memberlist re-gossips alive messages it learns this way;
// Serf does not re-gossip intents or events learned from a push-pull.
func (m *model) finishPushPull(a, b int32, reconnect bool) {
	for id := range m.msgs {
		msg := &m.msgs[id]
		ha, hb := msg.has(a), msg.has(b)
		switch {
		case ha && !hb:
			m.admit(b, int32(id), msg.kind == kindAlive)
		case hb && !ha:
			m.admit(a, int32(id), msg.kind == kindAlive)
		}
	}
	if !m.healing {
		return
	}
	ma, mb := &m.members[a], &m.members[b]
	if reconnect || ma.healed || mb.healed {
		for _, mem := range []*modelMember{ma, mb} {
			if !mem.healed {
				mem.healed = true
				m.unhealed--
			}
		}
	}
}

// reconnect is member i's reconnect tick during a partition: while it
// sees failed members it tries one with probability failed/alive, as
// Serf's reconnect loop does, and a success is a push-pull with it.
func (m *model) reconnect(i int32) {
	mem := &m.members[i]
	if mem.healed {
		return
	}
	m.q.schedule(simEvent{at: m.now + m.conf.ReconnectInterval, kind: evReconnect, a: i})
	own := m.sideSize(mem.side)
	failed := m.conf.Size - own
	if m.rng.Float64() > float64(failed)/float64(own) {
		return
	}
	p := m.peer(i, -1)
	for m.members[p].side == mem.side {
		p = m.peer(i, -1)
	}
	m.startPushPull(i, p, 2*m.sizes.StateFull, true)
}

// sideSize is the number of members on one side of the partition: the
// halves are [0, N/2) and [N/2, N).
func (m *model) sideSize(side uint8) int {
	if side == 0 {
		return m.conf.Size / 2
	}
	return m.conf.Size - m.conf.Size/2
}

// restart is member i restarting: fresh queues, a join push-pull with a
// random member (its own state is only itself), then its join intent and
// its new alive message go out. JoinSyncDelay later it exchanges its
// (now full) state with another random member, as Serf.Join does.
func (m *model) restart(i int32) {
	m.newQueues(&m.members[i])
	m.startPushPull(i, m.peer(i, -1), m.sizes.StateFull+m.sizes.StateSmall, false)
	m.newMsg(kindIntent, m.sizes.JoinIntent, i)
	m.newMsg(kindAlive, m.sizes.Alive, i)
	if m.conf.JoinSyncDelay > 0 {
		m.q.schedule(simEvent{at: m.now + m.conf.JoinSyncDelay, kind: evJoinSync, a: i})
	}
}

// step runs the next event; it reports false when none is due by until.
func (m *model) step(until time.Duration) bool {
	if at, ok := m.q.peek(); !ok || at > until {
		return false
	}
	e, _ := m.q.next()
	m.now = e.at
	switch e.kind {
	case evGossip:
		m.gossip(e.a)
	case evProbe:
		m.probe(e.a)
	case evPacket:
		m.deliver(e)
	case evPushPull:
		m.periodicPushPull(e.a)
	case evPushPullDone:
		m.finishPushPull(e.a, e.b, e.msgs[0] == 1)
	case evReconnect:
		m.reconnect(e.a)
	case evRestart:
		m.restart(e.a)
	case evFire:
		m.newMsg(kindEvent, m.sizes.UserEvent, e.a)
	case evJoinSync:
		m.startPushPull(e.a, m.peer(e.a, -1), 2*m.sizes.StateFull, false)
	}
	return true
}

// runUntil runs every event due by t and leaves the clock at t.
func (m *model) runUntil(t time.Duration) {
	for m.step(t) {
	}
	m.now = t
}

// busy counts members with something queued.
func (m *model) busy() int {
	n := 0
	for i := range m.members {
		if !m.idle(&m.members[i]) {
			n++
		}
	}
	return n
}

// drain runs until no member has anything queued, checking every second
// (and calling each, if set, then), or until limit; it returns when it
// stopped.
func (m *model) drain(limit time.Duration, each func()) time.Duration {
	for m.now < limit {
		m.runUntil(min(limit, m.now+time.Second))
		if each != nil {
			each()
		}
		if m.busy() == 0 {
			break
		}
	}
	return m.now
}
