package command

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/serfclone/serf/client"
	"github.com/serfclone/serf/client/clienttest"
)

// goldenAgents says which recording stands in for the live agent of each
// golden CLI output (testdata/vectors/cli/index.json at the repository
// root) that needed one, and what
// varies between that output and the recording's agent state.
//
// The recordings were made with other arguments than the golden runs, so
// the client bytes are not compared here (TestTranscriptCLIResults does
// that); a nil transcript name means a transcript built in the test.
var goldenAgents = map[string]struct {
	transcript string
	norm       normalizer
}{
	"members.txt":               {"members", chain(sortTags, sortLines)},
	"members-detailed.txt":      {"members-detailed", chain(sortTags, sortLines)},
	"members-json.txt":          {"members-json", nil},
	"members-detailed-json.txt": {"members-json", nil},
	"members-status-alive.txt":  {"members-status", chain(sortTags, sortLines)},
	"members-tag-role-web.txt":  {"members-tag", chain(sortTags, sortLines)},
	"members-name-node-a.txt":   {"members-filters-combined", sortTags},
	"members-no-match.txt":      {"", nil},
	"members-bad-format.txt":    {"members", nil},
	"info.txt":                  {"info", maskInfoValues},
	"info-json.txt":             {"info-json", maskInfoValues},
	"rtt.txt":                   {"rtt-two-nodes", maskRTT},
	"rtt-unknown.txt":           {"rtt-unknown-node", nil},
	"reachability.txt":          {"reachability", nil},
	"reachability-verbose.txt":  {"reachability", chain(maskTimings, sortLines)},
	"event.txt":                 {"event-coalesce", nil},
	"query-text.txt":            {"query-ack", sortLines},
	"query-json.txt":            {"query-json", nil},
	"query-no-ack.txt":          {"query-no-ack", nil},
	"keys-list.txt":             {"keys-list", maskKeys}, // recorded before the rotation
	"event-no-name.txt":         {"-", nil},
	"query-no-name.txt":         {"-", nil},
	"join-no-address.txt":       {"-", nil},
	"force-leave-no-node.txt":   {"-", nil},
	"keys-no-action.txt":        {"-", nil},
	"tags-no-action.txt":        {"-", nil},
	"rtt-no-node.txt":           {"-", nil}, // connects first: refused
	"connect-refused.txt":       {"-", nil},
	"version.txt":               {"-", nil},
}

// emptyMembers is an agent whose members-filtered finds nobody.
func emptyMembers(t *testing.T) *clienttest.Transcript {
	return script(t, fromClient(2), reply(t, 2, "", &client.MembersResponse{Members: []client.Member{}}))
}

// TestGoldenOutputs runs the command of every golden output that belongs
// to a subcommand (the top-level ones are cmd/serf's) and compares stdout,
// stderr and the exit code.
func TestGoldenOutputs(t *testing.T) {
	for _, e := range goldenIndex(t) {
		if len(e.Args) < 2 || strings.HasPrefix(e.Args[1], "-") || e.Args[1] == "bogus" || e.Args[1] == "agent" {
			continue // top-level behaviour
		}
		if e.Args[len(e.Args)-1] == "-h" {
			continue // help requests never reach the command; see TestHelpDocumentsFlags
		}
		t.Run(strings.Join(e.Args[1:], " "), func(t *testing.T) {
			args := e.Args[1:]
			if e.FactsFile != "" {
				assertFlagError(t, e)
				return
			}
			want := golden(t, e.StdoutFile)
			if strings.Contains(e.Notes, "cut after the usage line") {
				want = withHelp(t, args[0], want)
			}
			if args[0] == "keygen" {
				assertKey(t, runCommand(t, args...), e)
				return
			}
			spec, ok := goldenAgents[e.StdoutFile]
			if !ok {
				t.Fatalf("no agent set up for %s", e.StdoutFile)
			}
			switch spec.transcript {
			case "-":
				addr := closedAddr(t)
				args = withAddr(args, addr)
				want = strings.ReplaceAll(want, "127.0.0.1:19999", addr)
			case "":
				a := startAgent(t, emptyMembers(t), clienttest.Options{Mode: clienttest.ReadOnly})
				args = withAddr(args, a.Addr())
			default:
				a := startAgent(t, loadTranscript(t, spec.transcript), clienttest.Options{Mode: clienttest.ReadOnly})
				args = withAddr(args, a.Addr())
			}
			got := runCommand(t, args...)

			norm := spec.norm
			if norm == nil {
				norm = func(s string) string { return s }
			}
			if got.code != e.ExitCode {
				t.Errorf("exit code %d, want %d", got.code, e.ExitCode)
			}
			if norm(got.stdout) != norm(want) {
				t.Errorf("stdout:\n%s\nwant:\n%s", got.stdout, want)
			}
			wantStderr := ""
			if e.StderrFile != nil {
				wantStderr = golden(t, *e.StderrFile)
			}
			if got.stderr != wantStderr {
				t.Errorf("stderr:\n%q\nwant:\n%q", got.stderr, wantStderr)
			}
		})
	}
}

// assertKey checks `serf keygen`: a random key, so only its form can be
// compared with the golden one.
func assertKey(t *testing.T, got result, e goldenEntry) {
	t.Helper()
	if got.code != e.ExitCode || got.stderr != "" {
		t.Fatalf("keygen: exit %d, stderr %q", got.code, got.stderr)
	}
	for _, out := range []string{got.stdout, golden(t, e.StdoutFile)} {
		if !strings.HasSuffix(out, "\n") {
			t.Errorf("key %q does not end in a newline", out)
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(out, "\n"))
		if err != nil || len(key) != 32 {
			t.Errorf("key %q decodes to %d bytes (%v), want 32", out, len(key), err)
		}
	}
}

// withHelp completes a golden cut after the usage line of the command's
// help: our help must start with that line, and follows in full.
func withHelp(t *testing.T, name, cut string) string {
	t.Helper()
	help := helpText(t, name)
	head, usage, ok := strings.Cut(strings.TrimSuffix(cut, "\n"), "Usage: ")
	if !ok {
		t.Fatalf("golden %q has no usage line", cut)
	}
	if !strings.HasPrefix(help, "Usage: "+usage+"\n") {
		t.Fatalf("help of %s starts %q, want the usage line %q", name, help[:min(len(help), 60)], "Usage: "+usage)
	}
	return head + help + "\n"
}

// assertFlagError checks a bad flag: Serf's error line alone on stderr,
// then our help on stdout, and the exit code.
func assertFlagError(t *testing.T, e goldenEntry) {
	t.Helper()
	got := runCommand(t, e.Args[1:]...)
	if got.code != e.ExitCode {
		t.Errorf("exit code %d, want %d", got.code, e.ExitCode)
	}
	if want := e.ErrorLine + "\n"; got.stderr != want {
		t.Errorf("stderr %q, want %q", got.stderr, want)
	}
	if want := helpText(t, e.Args[1]) + "\n"; got.stdout != want {
		t.Errorf("stdout:\n%s\nwant the help:\n%s", got.stdout, want)
	}
}
