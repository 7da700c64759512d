package agent

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/serfclone/serf/serf"
)

// This file holds what a handler script gets to read: its SERF_*
// environment and its standard input.

// eventTypeAndName returns the filter type string and, for user events and
// queries, the name.
func eventTypeAndName(e serf.Event) (string, string) {
	switch ev := e.(type) {
	case serf.UserEvent:
		return EventUser, ev.Name
	case *serf.Query:
		return EventQuery, ev.Name
	default:
		return e.EventType().String(), ""
	}
}

// eventLabel names an event in log lines the way a filter would select
// it: "member-join", "user:deploy", "query:uptime".
func eventLabel(e serf.Event) string {
	eventType, name := eventTypeAndName(e)
	if eventType == EventUser || eventType == EventQuery {
		return eventType + ":" + name
	}
	return eventType
}

// sanitizeTagName turns a tag name into the SERF_TAG_ suffix.
var sanitizeTagName = regexp.MustCompile(`[^A-Z0-9_]`)

// eventEnv returns the SERF_* variables Serf 0.10 sets for an event.
func eventEnv(self serf.Member, e serf.Event) []string {
	env := []string{
		"SERF_EVENT=" + eventTypeOf(e),
		"SERF_SELF_NAME=" + self.Name,
		"SERF_SELF_ROLE=" + self.Tags["role"],
	}
	for k, v := range self.Tags {
		env = append(env, "SERF_TAG_"+sanitizeTagName.ReplaceAllString(strings.ToUpper(k), "_")+"="+v)
	}
	switch ev := e.(type) {
	case serf.UserEvent:
		env = append(env, "SERF_USER_EVENT="+ev.Name, fmt.Sprintf("SERF_USER_LTIME=%d", ev.LTime))
	case *serf.Query:
		env = append(env, "SERF_QUERY_NAME="+ev.Name, fmt.Sprintf("SERF_QUERY_LTIME=%d", ev.LTime))
	}
	return env
}

// extraEnv returns the variables this agent sets beyond Serf's:
// SERF_SELF_ADDR and SERF_SELF_PORT, the gossip address and port this
// node advertises, and, when handler_timeout is set, SERF_HANDLER_TIMEOUT
// as a Go duration string ("30s", "1m30s"), so a script can plan its work.
func extraEnv(self serf.Member, timeout time.Duration) []string {
	addr := ""
	if self.Addr != nil {
		addr = self.Addr.String()
	}
	env := []string{
		"SERF_SELF_ADDR=" + addr,
		"SERF_SELF_PORT=" + strconv.Itoa(int(self.Port)),
	}
	if timeout > 0 {
		env = append(env, "SERF_HANDLER_TIMEOUT="+timeout.String())
	}
	return env
}

func eventTypeOf(e serf.Event) string {
	t, _ := eventTypeAndName(e)
	return t
}

// eventStdin returns what the script reads: member lines, or the payload
// with a newline added if it lacks one.
func eventStdin(e serf.Event) []byte {
	switch ev := e.(type) {
	case serf.MemberEvent:
		var buf bytes.Buffer
		for _, m := range ev.Members {
			buf.WriteString(memberLine(m))
		}
		return buf.Bytes()
	case serf.UserEvent:
		return payloadWithNewline(ev.Payload)
	case *serf.Query:
		return payloadWithNewline(ev.Payload)
	}
	return nil
}

func payloadWithNewline(p []byte) []byte {
	if len(p) == 0 || p[len(p)-1] == '\n' {
		return p
	}
	out := make([]byte, len(p)+1)
	copy(out, p)
	out[len(p)] = '\n'
	return out
}

// eventClean escapes tabs and newlines in member-line fields.
var eventClean = strings.NewReplacer("\t", `\t`, "\n", `\n`)

// memberLine formats a member for a handler: name, IP, role, tags.
func memberLine(m serf.Member) string {
	pairs := make([]string, 0, len(m.Tags))
	for k, v := range m.Tags {
		pairs = append(pairs, k+"="+v)
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\n",
		eventClean.Replace(m.Name), m.Addr.String(),
		eventClean.Replace(m.Tags["role"]), eventClean.Replace(strings.Join(pairs, ",")))
}
