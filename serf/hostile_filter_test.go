package serf

import (
	"runtime"
	"strings"
	"testing"
)

// A query's tag filter is compiled by every node that receives it, so an
// expression that fits in a packet but compiles to a huge program is a
// cheap way to make a whole cluster burn CPU and memory.
func TestTagFilterComplexityBounded(t *testing.T) {
	chain := strings.Repeat(".{999}", 80) // 480 bytes, 80,000 instructions
	cases := []struct {
		expr  string
		value string
		ok    bool // compiles
		match bool
	}{
		{expr: "^web-[0-9]+$", value: "web-12", ok: true, match: true},
		{expr: "web", value: "db", ok: true, match: false},
		{expr: ".*", value: "", ok: true, match: true},
		{expr: "a{1000}", value: strings.Repeat("a", 1000), ok: true, match: true},
		{expr: `\pL{999}`, value: "x", ok: true, match: false},
		{expr: "(", ok: false},
		{expr: chain, ok: false},
		{expr: strings.Repeat(`(?:\pL{999})`, 20), ok: false},
		{expr: "(?:a{0,999}){999}", ok: false},
	}
	s := startNode(t, testConfig(t))
	for _, tc := range cases {
		re, err := compileTagFilter(tc.expr)
		if (err == nil) != tc.ok {
			t.Errorf("compileTagFilter(%.40q) error %v, want ok=%v", tc.expr, err, tc.ok)
			continue
		}
		if err == nil && re.MatchString(tc.value) != tc.match {
			t.Errorf("%.40q on %q: match %v, want %v", tc.expr, tc.value, !tc.match, tc.match)
		}
		if _, err := s.Query("q", nil, &QueryParam{FilterTags: map[string]string{"role": tc.expr}}); (err == nil) != tc.ok {
			t.Errorf("Query with filter %.40q: error %v, want ok=%v", tc.expr, err, tc.ok)
		}
	}

	// A node receiving the chain must refuse it without building it.
	filt, err := encodeFilter(filterTagType, &filterTag{Tag: "role", Expr: chain})
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if s.shouldProcessQuery([][]byte{filt}) {
		t.Errorf("a query filtered by the chain was processed")
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 2<<20 {
		t.Errorf("checking one tag filter allocated %d MiB", grew>>20)
	}
}
