package serf

import (
	"testing"
	"time"
)

func TestLamportClock(t *testing.T) {
	var c LamportClock
	if c.Time() != 0 {
		t.Fatalf("zero clock = %d", c.Time())
	}
	if got := c.Increment(); got != 1 {
		t.Fatalf("increment = %d", got)
	}
	steps := []struct {
		witness, want LamportTime
	}{
		{0, 1}, // behind: unchanged
		{1, 2}, // equal: moves past it
		{10, 11},
		{5, 11},
		{11, 12},
	}
	for _, s := range steps {
		c.Witness(s.witness)
		if c.Time() != s.want {
			t.Errorf("after witness(%d): %d, want %d", s.witness, c.Time(), s.want)
		}
	}
}

func TestIntentBuffer(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newIntentBuffer()
	cases := []struct {
		name  string
		node  string
		typ   messageType
		ltime LamportTime
		want  bool
	}{
		{"first join", "a", messageJoinType, 5, true},
		{"same ltime", "a", messageLeaveType, 5, false},
		{"older", "a", messageLeaveType, 4, false},
		{"newer leave replaces join", "a", messageLeaveType, 6, true},
		{"other node", "b", messageJoinType, 1, true},
	}
	for _, tc := range cases {
		if got := b.upsert(tc.node, tc.typ, tc.ltime, now); got != tc.want {
			t.Errorf("%s: upsert = %v, want %v", tc.name, got, tc.want)
		}
	}
	if in, ok := b.get("a"); !ok || in.Type != messageLeaveType || in.LTime != 6 {
		t.Errorf("get(a) = %+v, %v", in, ok)
	}
	b.upsert("c", messageJoinType, 1, now.Add(4*time.Minute))
	b.reap(now.Add(5*time.Minute+time.Second), 5*time.Minute)
	if b.len() != 1 {
		t.Errorf("after reap %d intents remain, want 1", b.len())
	}
}

func TestEventRing(t *testing.T) {
	r := newEventRing(4)
	steps := []struct {
		ltime   LamportTime
		name    string
		payload string
		isNew   bool
	}{
		{1, "a", "x", true},
		{1, "a", "x", false}, // duplicate
		{1, "a", "y", true},  // other payload
		{1, "b", "x", true},  // other name
		{5, "a", "x", true},  // same slot, newer LTime: replaces slot
		{1, "a", "x", true},  // slot forgot LTime 1
	}
	for i, s := range steps {
		if got := r.add(s.ltime, s.name, []byte(s.payload)); got != s.isNew {
			t.Errorf("step %d: add = %v, want %v", i, got, s.isNew)
		}
	}
	snap := r.snapshot()
	if len(snap) != 4 || snap[1] == nil || snap[1].LTime != 1 || snap[0] != nil {
		t.Errorf("snapshot = %+v", snap)
	}
}

func TestQueryRingAndAge(t *testing.T) {
	r := newQueryRing(8)
	if !r.add(3, 7) || r.add(3, 7) || !r.add(3, 8) || !r.add(11, 7) || !r.add(3, 7) {
		t.Errorf("query ring dedup is wrong")
	}
	cases := []struct {
		clock, ltime LamportTime
		old          bool
	}{
		{10, 1, false}, {512, 0, false}, {600, 87, true}, {600, 88, false},
	}
	for _, c := range cases {
		if got := tooOld(c.clock, c.ltime, 512); got != c.old {
			t.Errorf("tooOld(%d, %d) = %v", c.clock, c.ltime, got)
		}
	}
}

func TestQueryParamFilters(t *testing.T) {
	p := QueryParam{FilterNodes: []string{"n1", "n2"}, FilterTags: map[string]string{"role": "^web$"}}
	filters, err := p.encodeFilters()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0092a26e31a26e32", "0182a445787072a55e77656224a3546167a4726f6c65"}
	for i, f := range filters {
		if got := hexOf(f); got != want[i] {
			t.Errorf("filter %d = %s, want %s", i, got, want[i])
		}
	}
}

func TestShouldProcessQuery(t *testing.T) {
	s := &Serf{config: &Config{NodeName: "n1"}, tags: map[string]string{"role": "webserver"}, logger: discardLogger()}
	node := func(names ...string) []byte { b, _ := encodeFilter(filterNodeType, names); return b }
	tag := func(tg, expr string) []byte {
		b, _ := encodeFilter(filterTagType, &filterTag{Tag: tg, Expr: expr})
		return b
	}
	cases := []struct {
		name    string
		filters [][]byte
		want    bool
	}{
		{"none", nil, true},
		{"node match", [][]byte{node("n0", "n1")}, true},
		{"node miss", [][]byte{node("n2")}, false},
		{"tag unanchored", [][]byte{tag("role", "web")}, true},
		{"tag anchored miss", [][]byte{tag("role", "^web$")}, false},
		{"missing tag is empty", [][]byte{tag("dc", "^$")}, true},
		{"and", [][]byte{node("n1"), tag("role", "db")}, false},
		{"bad regex", [][]byte{tag("role", "(")}, false},
		{"unknown type", [][]byte{{9, 0xc0}}, false},
		{"garbage", [][]byte{{0, 0xc1}}, false},
		{"empty", [][]byte{{}}, false},
	}
	for _, tc := range cases {
		if got := s.shouldProcessQuery(tc.filters); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// len returns the number of buffered intents.
func (b *intentBuffer) len() int { return len(b.intents) }
