package command

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/serfclone/serf/client/clienttest"
	"github.com/serfclone/serf/testutil"
)

// normalizer removes from CLI output what the reference CLI prints in
// random order or with varying values (see the vectors README), so that
// the rest can be compared exactly.
type normalizer func(string) string

var (
	tagListRE = regexp.MustCompile(`[^\s,=]+=[^\s,]*(,[^\s,=]+=[^\s,]*)+`)
	timingsRE = regexp.MustCompile(`Query time: [0-9.]+ sec, time to last response: [0-9.]+ sec`)
	rttRE     = regexp.MustCompile(`rtt: [0-9.]+ ms`)
	infoRE    = regexp.MustCompile(`(?m)^(\t[^=\n]+ = ).*$`)
	infoJSON  = regexp.MustCompile(`(?m)^(    "[^"]+": ).*$`)
	keyRE     = regexp.MustCompile(`[A-Za-z0-9+/]{43}=`)
)

// maskKeys hides which base64 keys are listed.
func maskKeys(s string) string { return keyRE.ReplaceAllString(s, "KEY") }

// sortTags sorts the key=value lists of members rows (Go map order).
func sortTags(s string) string {
	return tagListRE.ReplaceAllStringFunc(s, func(list string) string {
		parts := strings.Split(list, ",")
		sort.Strings(parts)
		return strings.Join(parts, ",")
	})
}

// sortLines sorts lines (members rows, keys, query acks).
func sortLines(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func maskTimings(s string) string {
	return timingsRE.ReplaceAllString(s, "Query time: X sec, time to last response: Y sec")
}

func maskRTT(s string) string { return rttRE.ReplaceAllString(s, "rtt: X ms") }

// maskInfoValues keeps the sections and keys of `serf info` but not the
// values, which change from run to run.
func maskInfoValues(s string) string {
	s = infoRE.ReplaceAllString(s, "${1}X")
	return infoJSON.ReplaceAllString(s, "${1}X")
}

// sortEventBlocks orders monitor output: log lines keep their order, but
// where the "Event Info:" blocks fall among them and the order of their
// fields depend on timing and Go map order.
func sortEventBlocks(s string) string {
	var logs, events []string
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		if lines[i] != "Event Info:" {
			logs = append(logs, lines[i])
			continue
		}
		var fields []string
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
			i++
			fields = append(fields, lines[i])
		}
		sort.Strings(fields)
		events = append(events, "Event Info:\n"+strings.Join(fields, "\n"))
	}
	return strings.Join(logs, "\n") + "\n--- events ---\n" + strings.Join(events, "\n")
}

func chain(ns ...normalizer) normalizer {
	return func(s string) string {
		for _, n := range ns {
			s = n(s)
		}
		return s
	}
}

// transcriptNormalizers lists the recordings whose CLI output has random
// or varying parts. Every other recording must be reproduced exactly.
var transcriptNormalizers = map[string]normalizer{
	"members":                      sortTags,
	"members-detailed":             sortTags,
	"members-filters-combined":     sortTags,
	"members-name":                 sortTags,
	"members-status":               sortTags,
	"members-status-left":          sortTags,
	"members-tag":                  sortTags,
	"members-with-failed-and-left": sortTags,
	"auth-ok":                      sortTags,
	"keys-list-two-keys":           sortLines,
	"reachability":                 maskTimings,
	"monitor":                      sortEventBlocks,
}

// TestTranscriptCLIResults runs every recorded serf CLI invocation against
// a fake agent replaying the recording. The CLI must send the recorded
// bytes and print what the real CLI printed.
func TestTranscriptCLIResults(t *testing.T) {
	ran := 0
	for _, name := range clienttest.Names() {
		tr := loadTranscript(t, name)
		if len(tr.CLIArgs) < 2 || tr.CLIResult == nil {
			continue // library or hand-built client recordings
		}
		ran++
		t.Run(name, func(t *testing.T) {
			inv := newInvocation()
			opts := clienttest.Options{}
			if name == "leave" {
				opts.CloseAtEnd = true
			}
			if name == "monitor" {
				opts.BeforeClientFrame = interruptWhenPrinted(t, tr, inv)
			}
			a := startAgent(t, tr, opts)
			args := withAddr(tr.CLIArgs[1:], a.Addr())
			if args[0] == "query" {
				// Serf's CLI waits for the timeout; with -wait-timeout
				// ours sends its request byte for byte.
				args = append([]string{"query", "-wait-timeout"}, args[1:]...)
			}
			got := inv.run(t, args)
			want := tr.CLIResult

			norm := transcriptNormalizers[name]
			if norm == nil {
				norm = func(s string) string { return s }
			}
			if got.code != want.ExitCode {
				t.Errorf("exit code %d, want %d", got.code, want.ExitCode)
			}
			if norm(got.stdout) != norm(want.Stdout) {
				t.Errorf("stdout:\n%s\nwant:\n%s", got.stdout, want.Stdout)
			}
			if got.stderr != want.Stderr {
				t.Errorf("stderr:\n%s\nwant:\n%s", got.stderr, want.Stderr)
			}
			if got.stdout == want.Stdout {
				t.Log("stdout byte-identical")
			}
		})
	}
	if ran < 40 {
		t.Errorf("only %d CLI recordings found", ran)
	}
}

// interruptWhenPrinted returns a hook that, when the recording reaches the
// client's first "stop" (sent after Ctrl-C), waits until the command has
// printed everything the agent sent and then interrupts it.
func interruptWhenPrinted(t *testing.T, tr *clienttest.Transcript, inv *invocation) func(int) {
	wantLines := strings.Count(tr.CLIResult.Stdout, "\n")
	return func(i int) {
		if !strings.Contains(string(tr.Frames[i].Decoded), `"stop"`) {
			return
		}
		err := testutil.Poll(testTimeout, 5*time.Millisecond, func() error {
			if n := strings.Count(inv.stdout.String(), "\n"); n < wantLines {
				return fmt.Errorf("monitor printed %d of %d lines", n, wantLines)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		inv.interrupt()
	}
}
