// Package flagvalues holds the flag value types that both `serf agent`
// and the other subcommands parse: a repeatable string flag and the
// key=value tag arguments.
package flagvalues

import (
	"fmt"
	"strings"
)

// StringList is a repeatable string flag: each use appends a value, in
// order. It stays nil when the flag is not given, which matters on the RPC
// wire (nil encodes as msgpack nil, not as an empty array).
type StringList []string

// String implements flag.Value.
func (s *StringList) String() string {
	if s == nil {
		return ""
	}
	return strings.Join(*s, ",")
}

// Set implements flag.Value.
func (s *StringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// ParseTags parses "key=value" tag arguments, split at the first "=". The
// key must be non-empty; the value may be empty or contain "=". Later
// repeats of a key win. The map is never nil. The error reads
// "Invalid tag: '<arg>'".
func ParseTags(args []string) (map[string]string, error) {
	tags := make(map[string]string, len(args))
	for _, arg := range args {
		key, value, ok := strings.Cut(arg, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("Invalid tag: '%s'", arg)
		}
		tags[key] = value
	}
	return tags, nil
}
