package serf

import (
	"fmt"
	"regexp"
	"regexp/syntax"
)

// maxTagFilterSize bounds how large a query's tag-filter expression may
// grow once its counted repeats are written out. Go's regexp rejects a
// single repeat above 1000 and nested repeats whose product is too large,
// but not a chain of them: 80 copies of ".{999}" fit in one gossip packet
// and compile to 80,000 instructions, which costs every node that receives
// the query about a hundred milliseconds and twenty MiB. Real filters
// ("^web-[0-9]+$") are a few dozen.
const maxTagFilterSize = 10000

// compileTagFilter compiles a tag filter, refusing expressions larger than
// maxTagFilterSize. Syntax errors keep regexp's own wording.
func compileTagFilter(expr string) (*regexp.Regexp, error) {
	if re, err := syntax.Parse(expr, syntax.Perl); err == nil {
		if n := expandedSize(re, maxTagFilterSize); n > maxTagFilterSize {
			return nil, fmt.Errorf("tag filter expression is too complex: more than %d states", maxTagFilterSize)
		}
	}
	return regexp.Compile(expr)
}

// expandedSize estimates the instructions re compiles to, with counted
// repeats written out. It stops counting past limit.
func expandedSize(re *syntax.Regexp, limit int) int {
	n := 1
	switch re.Op {
	case syntax.OpLiteral:
		n = len(re.Rune)
	case syntax.OpRepeat:
		times := re.Max
		if times < re.Min {
			times = re.Min // {n,} is written out n times, then a star
		}
		if times < 1 {
			times = 1
		}
		sub := expandedSize(re.Sub[0], limit)
		if sub > limit/times {
			return limit + 1
		}
		return 1 + times*sub
	}
	for _, sub := range re.Sub {
		n += expandedSize(sub, limit)
		if n > limit {
			return limit + 1
		}
	}
	return n
}
