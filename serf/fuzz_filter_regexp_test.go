package serf

import (
	"regexp/syntax"
	"strings"
	"testing"
)

// FuzzTagFilterRegexp: whatever a query's tag filter says, the receiver
// either refuses it or compiles a program of bounded size. The bound
// allows for what the estimate leaves out (optional copies of {n,m},
// case folding), never for a blow-up.
func FuzzTagFilterRegexp(f *testing.F) {
	for _, e := range []string{"^web-[0-9]+$", ".*", "a{1000}", `\pL{999}`, strings.Repeat(".{999}", 80),
		"(?i)x{2,999}", "((a|b){3}){300}", "a{,5}", "[[:alpha:]]{1000}"} {
		f.Add(e)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		if len(expr) > 1024 { // a filter rides in one gossip packet
			return
		}
		if _, err := compileTagFilter(expr); err != nil {
			return
		}
		re, err := syntax.Parse(expr, syntax.Perl)
		if err != nil {
			t.Fatalf("%q compiled but does not parse: %v", expr, err)
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			return
		}
		if n := len(prog.Inst); n > 4*maxTagFilterSize {
			t.Fatalf("%q was accepted and compiles to %d instructions", expr, n)
		}
	})
}
