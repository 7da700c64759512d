package sim

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// quickModel is a small run: the steady state only, unless a test asks
// for more.
func quickModel(n int) ModelConfig {
	c := DefaultModelConfig(n)
	c.Events = 3
	c.StormFraction = 0
	c.Heal = false
	c.SteadyWindow = time.Minute
	return c
}

func TestEventQueueOrders(t *testing.T) {
	var q eventQueue
	ats := []time.Duration{5, 1, 3, 3, 9, 0, 3, 7, 1}
	for i, at := range ats {
		q.schedule(simEvent{at: at, a: int32(i)})
	}
	var prev simEvent
	for n := 0; ; n++ {
		e, ok := q.next()
		if !ok {
			if n != len(ats) {
				t.Fatalf("got %d events, want %d", n, len(ats))
			}
			break
		}
		if n > 0 && (e.at < prev.at || (e.at == prev.at && e.a < prev.a)) {
			t.Fatalf("event %d (at %v, #%d) after (at %v, #%d)", n, e.at, e.a, prev.at, prev.a)
		}
		prev = e
	}
}

func TestModelScheduleConstants(t *testing.T) {
	c := DefaultModelConfig(100)
	if c.GossipInterval != 200*time.Millisecond || c.GossipNodes != 3 || c.RetransmitMult != 4 || c.UDPBufferSize != 1400 {
		t.Fatalf("not memberlist's LAN profile: %+v", c)
	}
	for _, n := range []int{2, 9, 10, 32, 33, 64, 65, 99, 100, 1000, 2000, 4096, 10000} {
		c.Size = n
		wantPP := c.PushPullInterval
		if n > 32 {
			wantPP *= time.Duration(math.Ceil(math.Log2(float64(n))-math.Log2(32)) + 1)
		}
		if got := c.pushPullPeriod(); got != wantPP {
			t.Errorf("N=%d: push-pull period %v, want %v", n, got, wantPP)
		}
		if got, want := c.retransmitLimit(), 4*int(math.Ceil(math.Log10(float64(n+1)))); got != want {
			t.Errorf("N=%d: retransmit limit %d, want %d", n, got, want)
		}
	}
}

func TestModelMessageSizes(t *testing.T) {
	s100, err := messageSizes(100, 0, 512)
	if err != nil {
		t.Fatal(err)
	}
	s200, err := messageSizes(200, 0, 512)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]int{"user event": s100.UserEvent, "join intent": s100.JoinIntent, "alive": s100.Alive} {
		if v < 20 || v > 200 {
			t.Errorf("%s is %d bytes", name, v)
		}
	}
	// The full state is linear in N: the second hundred members cost what
	// the first did, give or take the fixed parts.
	per := float64(s200.StateFull-s100.StateFull) / 100
	if per < 50 || per > 300 || math.Abs(float64(s100.StateFull-s100.StateSmall)/99-per) > 5 {
		t.Errorf("state per member %.1f B (100: %d B, 200: %d B, one: %d B)", per, s100.StateFull, s200.StateFull, s100.StateSmall)
	}
}

func TestModelReachesAllWithoutLoss(t *testing.T) {
	for _, push := range []bool{false, true} {
		t.Run(fmt.Sprintf("push=%v", push), func(t *testing.T) {
			c := quickModel(300)
			c.Push = push
			r, err := RunModel(c)
			if err != nil {
				t.Fatal(err)
			}
			if r.EventMinReached != c.Size || r.EventAll == 0 {
				t.Fatalf("an event reached %d of %d members (all in %v)", r.EventMinReached, c.Size, r.EventAll)
			}
		})
	}
}

// TestModelSpreadNearEpidemicBound: without pushes, an event's time to
// 99.99% of 100 members is of the order of the epidemic bound (a generous
// window: the model is an idealised network).
func TestModelSpreadNearEpidemicBound(t *testing.T) {
	c := quickModel(100)
	c.Push = false
	r, err := RunModel(c)
	if err != nil {
		t.Fatal(err)
	}
	bound := epidemicBound(c.Size)
	if r.EventQ9999 < bound/10 || r.EventQ9999 > 2*bound {
		t.Fatalf("99.99%% in %v, want within [%v, %v]", r.EventQ9999, bound/10, 2*bound)
	}
}

// TestModelStormQueuesBounded: a restart storm with more join intents
// than the queue limit never holds more than the limit.
func TestModelStormQueuesBounded(t *testing.T) {
	tests := []struct {
		name          string
		maxQ, minQ    int
		size          int
		fraction      float64
		wantLimit     int
		wantTruncated bool
	}{
		{name: "max depth", maxQ: 16, size: 200, fraction: 0.25, wantLimit: 16, wantTruncated: true},
		{name: "min depth scales", maxQ: 16, minQ: 8, size: 100, fraction: 0.5, wantLimit: 200},
		{name: "min depth floor", maxQ: 4096, minQ: 30, size: 10, fraction: 1, wantLimit: 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := quickModel(tt.size)
			c.MaxQueueDepth, c.MinQueueDepth = tt.maxQ, tt.minQ
			c.StormFraction = tt.fraction
			r, err := RunModel(c)
			if err != nil {
				t.Fatal(err)
			}
			if r.QueueLimit != tt.wantLimit {
				t.Fatalf("limit %d, want %d", r.QueueLimit, tt.wantLimit)
			}
			if r.Storm.Intent > r.QueueLimit || r.Storm.Event > r.QueueLimit {
				t.Fatalf("storm queues %+v past the limit %d", r.Storm, r.QueueLimit)
			}
			if tt.wantTruncated && (r.Storm.Intent != r.QueueLimit || r.Pruned == 0) {
				t.Fatalf("storm of %d intents: deepest %d, %d prunes; want the queue held at %d", r.StormMembers, r.Storm.Intent, r.Pruned, r.QueueLimit)
			}
			if !r.StormDrainedComplete {
				t.Fatalf("queues not empty %v after the storm", r.StormDrained)
			}
		})
	}
}

func TestModelHealJoinsHalves(t *testing.T) {
	c := quickModel(200)
	c.Heal = true
	r, err := RunModel(c)
	if err != nil {
		t.Fatal(err)
	}
	if r.HealTime == 0 || r.HealTime > c.HealWindow {
		t.Fatalf("heal took %v", r.HealTime)
	}
	// Every member makes at most one reconnect before it is healed, so the
	// heal costs at most a push-pull per member, plus periodic ones.
	if r.HealPushPulls > int64(c.Size)+int64(c.Size)*int64(r.HealTime)/int64(r.PushPullPeriod)+1 {
		t.Fatalf("%d push-pulls to heal %d members", r.HealPushPulls, c.Size)
	}
}

func TestModelReproducible(t *testing.T) {
	run := func(seed uint64) ModelResult {
		c := quickModel(150)
		c.Seed = seed
		c.StormFraction = 0.1
		c.Heal = true
		c.Net = LANNet(0.05)
		r, err := RunModel(c)
		if err != nil {
			t.Fatal(err)
		}
		r.Wall, r.HeapMiB = 0, 0
		return r
	}
	a, b, other := run(7), run(7), run(8)
	if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
		t.Fatalf("same seed, different runs:\n%+v\n%+v", a, b)
	}
	if fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", other) {
		t.Fatalf("another seed gave the same run: %+v", a)
	}
	if a.Dropped == 0 {
		t.Fatalf("5%% loss dropped nothing")
	}
}

func TestModelRejectsBadConfig(t *testing.T) {
	bad := []func(*ModelConfig){
		func(c *ModelConfig) { c.Size = 1 },
		func(c *ModelConfig) { c.GossipInterval = 0 },
		func(c *ModelConfig) { c.Net.Loss = 1 },
		func(c *ModelConfig) { c.StormFraction = 2 },
	}
	for i, f := range bad {
		c := quickModel(10)
		f(&c)
		if _, err := RunModel(c); err == nil {
			t.Errorf("case %d: no error for %+v", i, c)
		}
	}
}

// TestModelFigures prints the model's figures for each size in
// SERF_SIM_MODEL_SIZES, with pushes off and on, on each network of
// SERF_SIM_MODEL_NETS (default "lan"; e.g. "lan,lan:0.01,wan:0.01"). It is
// a measurement, not a check:
//
//	SERF_SIM_MODEL_SIZES=100,2000,10000 go test -run '^TestModelFigures$' -count=1 -v -timeout 60m ./internal/sim
//
// SERF_SIM_MODEL_STORM sets the restart storm's fraction (default 0.1).
func TestModelFigures(t *testing.T) {
	sizes := os.Getenv("SERF_SIM_MODEL_SIZES")
	if sizes == "" {
		t.Skip("set SERF_SIM_MODEL_SIZES=100,2000,10000 to run the model")
	}
	nets, err := parseModelNets(os.Getenv("SERF_SIM_MODEL_NETS"))
	if err != nil {
		t.Fatal(err)
	}
	storm := 0.1
	if s := os.Getenv("SERF_SIM_MODEL_STORM"); s != "" {
		if storm, err = strconv.ParseFloat(s, 64); err != nil {
			t.Fatalf("bad SERF_SIM_MODEL_STORM %q", s)
		}
	}
	var rows []string
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			t.Fatalf("bad size %q", f)
		}
		for _, net := range nets {
			for _, push := range []bool{false, true} {
				c := DefaultModelConfig(n)
				c.Net, c.Push, c.StormFraction = net, push, storm
				r, err := RunModel(c)
				if err != nil {
					t.Fatalf("N=%d %s push=%v: %v", n, net, push, err)
				}
				t.Logf("N=%d %s push=%v: %d packets (%.1f MiB, only what carried broadcasts), %d lost, wall %v", n, net, push, r.Packets, float64(r.PacketBytes)/(1<<20), r.Dropped, r.Wall.Round(time.Millisecond))
				rows = append(rows, modelRow(r))
			}
		}
	}
	t.Logf("model figures (times simulated; queue depths are the deepest on any member)\n%s\n%s", modelHeader, strings.Join(rows, "\n"))
}

const modelHeader = "| N | net | push | event 99.99% s (bound) | event all s | copies/member | push-pull B/node/min raw / LZW (period s) | intent q steady / storm (limit) | event q steady / storm | memberlist q storm | storm: rejoins, join push-pull MiB (KiB/node) | event in storm 90% / 99.99% / all s | storm drained s | heal: push-pulls, MiB raw / LZW (KiB/node raw), s | wall s | heap MiB |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"

func modelRow(r ModelResult) string {
	c := r.Conf
	push := "off"
	if c.Push {
		push = "on"
	}
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	kibPer := func(b int64) float64 { return float64(b) / 1024 / float64(c.Size) }
	drained := fmt.Sprintf("%.0f", r.StormDrained.Seconds())
	if !r.StormDrainedComplete {
		drained = ">" + drained
	}
	heal := "—"
	if c.Heal {
		heal = fmt.Sprintf("%d, %.1f / %.1f (%.0f), %.1f", r.HealPushPulls, mib(r.HealPushPullBytes), mib(r.HealPushPullBytesLZW), kibPer(r.HealPushPullBytes), r.HealTime.Seconds())
	}
	return fmt.Sprintf("| %d | %s | %s | %.2f (%.2f) | %.2f | %.1f | %.0f / %.0f (%.0f) | %d / %d (%d) | %d / %d | %d | %d, %.1f (%.0f) | %.2f / %.2f / %.2f | %s | %s | %.1f | %d |",
		c.Size, c.Net, push, r.EventQ9999.Seconds(), epidemicBound(c.Size).Seconds(), r.EventAll.Seconds(), r.EventCopies,
		r.PushPullPerNodeMin, r.PushPullPerNodeMinLZW, r.PushPullPeriod.Seconds(), r.Steady.Intent, r.Storm.Intent, r.QueueLimit, r.Steady.Event, r.Storm.Event,
		r.StormMemberlist, r.StormMembers, mib(r.StormPushPullBytes), kibPer(r.StormPushPullBytes),
		r.StormEventQ90.Seconds(), r.StormEventQ9999.Seconds(), r.StormEventAll.Seconds(), drained, heal, r.Wall.Seconds(), r.HeapMiB)
}

// parseModelNets reads "lan,lan:0.01,wan:0.05": a network and its loss.
func parseModelNets(s string) ([]ModelNet, error) {
	if s == "" {
		return []ModelNet{LANNet(0)}, nil
	}
	var out []ModelNet
	for _, f := range strings.Split(s, ",") {
		name, lossStr, _ := strings.Cut(strings.TrimSpace(f), ":")
		loss := 0.0
		if lossStr != "" {
			var err error
			if loss, err = strconv.ParseFloat(lossStr, 64); err != nil {
				return nil, fmt.Errorf("bad loss in %q: %w", f, err)
			}
		}
		switch name {
		case "lan":
			out = append(out, LANNet(loss))
		case "wan":
			out = append(out, WANNet(loss))
		default:
			return nil, fmt.Errorf("unknown network %q (lan or wan)", name)
		}
	}
	return out, nil
}

// TestModelPacketOrder: a packet takes memberlist's queue first, then
// Serf's intents, then user events, each within what is left.
func TestModelPacketOrder(t *testing.T) {
	c := quickModel(10)
	m, err := newModel(c)
	if err != nil {
		t.Fatal(err)
	}
	ev := m.newMsg(kindEvent, 100, 0)
	in := m.newMsg(kindIntent, 100, 0)
	al := m.newMsg(kindAlive, 100, 0)
	tests := []struct {
		name  string
		limit int
		want  []int32
	}{
		{"all fit", 1400, []int32{al, in, ev}},
		{"two fit", 2*(100+compoundOverhead) + userMsgOverhead, []int32{al, in}},
		{"one fits", 100 + compoundOverhead, []int32{al}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mm, err := newModel(c)
			if err != nil {
				t.Fatal(err)
			}
			// Same messages, fresh queues, in the reverse order of priority.
			mm.msgs, mm.byPtr = m.msgs, m.byPtr
			for _, id := range []int32{ev, in, al} {
				mm.enqueue(0, id)
			}
			got, _ := mm.getBroadcasts(&mm.members[0], compoundOverhead, tt.limit, nil)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("packet carries %v, want %v", got, tt.want)
			}
		})
	}
}

// TestModelTinyClusters: the smallest clusters run every phase and end
// (a side of one member sees nobody to push-pull with during the heal).
func TestModelTinyClusters(t *testing.T) {
	for _, n := range []int{2, 3, 4} {
		c := quickModel(n)
		c.StormFraction, c.Heal = 1, true
		done := make(chan error, 1)
		go func() {
			r, err := RunModel(c)
			if err == nil && r.EventMinReached != n {
				err = fmt.Errorf("an event reached %d of %d", r.EventMinReached, n)
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("N=%d: %v", n, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("N=%d: the model did not finish", n)
		}
	}
}
