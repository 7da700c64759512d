package sim

import (
	"runtime"
	"sort"
	"time"
)

// ModelResult is what one run of the model measured. Times are simulated.
type ModelResult struct {
	Conf  ModelConfig
	Sizes MessageSizes
	// QueueLimit is Serf's queue limit at this size; PushPullPeriod the
	// scaled push-pull interval.
	QueueLimit     int
	PushPullPeriod time.Duration

	// Steady state: each user event's time to 99.99% and to every member
	// (medians over the events; All is 0 if one never reached everyone),
	// the fewest members an event reached, and copies of an event sent
	// per member (gossip, piggyback and pushes).
	EventQ9999, EventAll time.Duration
	EventMinReached      int
	EventCopies          float64
	// PushPullPerNodeMin is push-pull bytes (both directions) per member
	// per minute in the steady state, uncompressed; PushPullPerNodeMinLZW
	// the same with memberlist's compression (on by default).
	PushPullPerNodeMin    float64
	PushPullPerNodeMinLZW float64
	Steady                QueueDepths
	SteadyMemberlist      int

	// Restart storm: how many restarted, the bytes of their join
	// push-pulls, the deepest queues, a user event fired during it, and
	// how long until every queue was empty again.
	StormMembers         int
	StormPushPullBytes   int64
	Storm                QueueDepths
	StormMemberlist      int
	StormEventQ90        time.Duration
	StormEventQ9999      time.Duration
	StormEventAll        time.Duration
	StormDrained         time.Duration
	StormDrainedComplete bool

	// Partition heal: push-pulls and their bytes (uncompressed and LZW)
	// until both halves knew each other, and how long it took (0 if not
	// within HealWindow).
	HealPushPulls        int64
	HealPushPullBytes    int64
	HealPushPullBytesLZW int64
	HealTime             time.Duration

	// Pruned counts trims of a Serf queue at its limit; Packets and
	// PacketBytes are every UDP packet sent (gossip, probes with what they
	// carry, pushes), Dropped those lost.
	Pruned      int64
	Packets     int64
	PacketBytes int64
	Dropped     int64
	Wall        time.Duration
	HeapMiB     uint64
}

// RunModel runs the model's three phases: the steady state with user
// events, a restart storm, and a partition heal.
func RunModel(conf ModelConfig) (ModelResult, error) {
	wall := time.Now()
	m, err := newModel(conf)
	if err != nil {
		return ModelResult{}, err
	}
	res := ModelResult{Conf: conf, Sizes: m.sizes, QueueLimit: m.limit, PushPullPeriod: m.period}
	var heap uint64
	sampleHeap := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = max(heap, ms.HeapInuse)
	}

	// Steady state.
	window := conf.SteadyWindow
	if window <= 0 {
		window = 2 * m.period
	}
	const firstEvent = 2 * time.Second
	window = max(window, firstEvent+time.Duration(conf.Events)*conf.EventGap+conf.EventWait)
	var events []int32
	for k := 0; k < conf.Events; k++ {
		at := firstEvent + time.Duration(k)*conf.EventGap
		m.runUntil(at)
		events = append(events, m.newMsg(kindEvent, m.sizes.UserEvent, int32(m.rng.IntN(conf.Size))))
	}
	m.runUntil(window)
	res.PushPullPerNodeMin = float64(m.phase.ppBytes) / float64(conf.Size) / window.Minutes()
	res.PushPullPerNodeMinLZW = res.PushPullPerNodeMin * float64(m.sizes.StateFullLZW) / float64(m.sizes.StateFull)
	res.Steady = QueueDepths{Intent: m.phase.intentMax, Event: m.phase.eventMax, Query: m.phase.queryMx}
	res.SteadyMemberlist = m.phase.mlMax
	var q9999, all []time.Duration
	res.EventMinReached = conf.Size
	var copies int64
	for _, id := range events {
		q, a := m.spread(id)
		q9999, all = append(q9999, q), append(all, a)
		res.EventMinReached = min(res.EventMinReached, m.msgs[id].reached)
		copies += m.msgs[id].sends
	}
	if len(events) > 0 {
		res.EventQ9999, res.EventAll = medianOf(q9999), medianOf(all)
		res.EventCopies = float64(copies) / float64(len(events)) / float64(conf.Size)
	}
	sampleHeap()

	// Restart storm.
	k := int(conf.StormFraction*float64(conf.Size) + 0.5)
	if conf.StormMax > 0 {
		k = min(k, conf.StormMax)
	}
	if k > 0 {
		m.phase = phaseStats{}
		t0 := m.now
		perm := m.rng.Perm(conf.Size)
		for _, i := range perm[:k] {
			m.q.schedule(simEvent{at: t0 + m.randDur(time.Second), kind: evRestart, a: int32(i)})
		}
		res.StormMembers = k
		from := int32(perm[conf.Size-1])
		m.runUntil(t0 + 2*time.Second)
		ev := m.newMsg(kindEvent, m.sizes.UserEvent, from)
		end := m.drain(t0+conf.StormWindow, sampleHeap) // the queues are deepest early on
		res.StormDrained = end - t0
		res.StormDrainedComplete = m.busy() == 0
		res.StormEventQ9999, res.StormEventAll = m.spread(ev)
		res.StormEventQ90 = m.quantile(ev, 0.9)
		// Each rejoin's push-pull: its own state and a full one back;
		// then, with the exchange after a join, two full states more.
		perJoin := int64(m.sizes.StateFull + m.sizes.StateSmall)
		if conf.JoinSyncDelay > 0 {
			perJoin += 2 * int64(m.sizes.StateFull)
		}
		res.StormPushPullBytes = int64(k) * perJoin
		res.Storm = QueueDepths{Intent: m.phase.intentMax, Event: m.phase.eventMax, Query: m.phase.queryMx}
		res.StormMemberlist = m.phase.mlMax
		sampleHeap()
	}

	// Partition heal.
	if conf.Heal {
		m.phase = phaseStats{}
		t0 := m.now
		m.healing, m.unhealed = true, conf.Size
		for i := range m.members {
			mem := &m.members[i]
			mem.healed = false
			mem.side = 0
			if i >= conf.Size/2 {
				mem.side = 1
			}
			m.q.schedule(simEvent{at: t0 + m.randDur(conf.ReconnectInterval), kind: evReconnect, a: int32(i)})
		}
		for m.unhealed > 0 && m.now < t0+conf.HealWindow {
			m.runUntil(m.now + 100*time.Millisecond)
		}
		if m.unhealed == 0 {
			res.HealTime = m.now - t0
		}
		res.HealPushPulls, res.HealPushPullBytes = m.phase.ppCount, m.phase.ppBytes
		// Every push-pull of the heal is of two full states.
		res.HealPushPullBytesLZW = res.HealPushPulls * 2 * int64(m.sizes.StateFullLZW)
		m.healing = false
		sampleHeap()
	}

	res.Pruned, res.Packets, res.PacketBytes, res.Dropped = m.pruned, m.packets, m.packetBytes, m.dropped
	res.Wall = time.Since(wall)
	res.HeapMiB = heap >> 20
	return res, nil
}

// spread is the time by which 99.99% of members had message id, and by
// which all had it (0 when not reached).
func (m *model) spread(id int32) (q9999, all time.Duration) {
	msg := &m.msgs[id]
	need := (m.conf.Size*9999 + 9999) / 10000
	if len(msg.arrivals) >= need {
		q9999 = msg.arrivals[need-1]
	}
	if len(msg.arrivals) == m.conf.Size {
		all = msg.arrivals[m.conf.Size-1]
	}
	return q9999, all
}

// quantile is the time by which the fraction f of members had message
// id (0 when fewer did).
func (m *model) quantile(id int32, f float64) time.Duration {
	msg := &m.msgs[id]
	need := int(f*float64(m.conf.Size) + 0.999999)
	if need < 1 || len(msg.arrivals) < need {
		return 0
	}
	return msg.arrivals[need-1]
}

func medianOf(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
