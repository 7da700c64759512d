package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/serfclone/serf/command"
)

// goldenDir holds the golden CLI outputs; package command owns the copy.
var goldenDir = filepath.Join("..", "..", "testdata", "vectors", "cli")

func readGolden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runMain runs one invocation in-process.
func runMain(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// goldenEntry is one entry of index.json. Entries with a FactsFile have
// no golden text, because the text is prose in our own words: only the
// exit code, the streams that carry text and, for a bad flag, the error
// line are Serf's.
type goldenEntry struct {
	Args            []string `json:"args"`
	ExitCode        int      `json:"exit_code"`
	StdoutFile      string   `json:"stdout_file"`
	StderrFile      *string  `json:"stderr_file"`
	FactsFile       string   `json:"facts_file"`
	StreamsWithText []string `json:"streams_with_text"`
	ErrorLine       string   `json:"error_line"`
}

// helpOf is what `serf <name> -h` prints: the command's help and a newline.
func helpOf(t *testing.T, name string) string {
	t.Helper()
	factory, ok := command.CommandsWithMeta(command.Meta{}, extraCommands(command.Meta{}))[name]
	if !ok {
		t.Fatalf("no command %q", name)
	}
	cmd, err := factory()
	if err != nil {
		t.Fatal(err)
	}
	return cmd.Help() + "\n"
}

// TestRunGoldenTopLevel checks what the top level prints: usage, version
// and `serf <command> -h`, against the golden outputs and, for the prose,
// against the facts that must match Serf.
func TestRunGoldenTopLevel(t *testing.T) {
	var index struct {
		Entries []goldenEntry `json:"entries"`
	}
	if err := json.Unmarshal([]byte(readGolden(t, "index.json")), &index); err != nil {
		t.Fatal(err)
	}
	var facts struct {
		Usage struct {
			Commands []string `json:"commands"`
		} `json:"_usage"`
	}
	if err := json.Unmarshal([]byte(readGolden(t, "flags.json")), &facts); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, e := range index.Entries {
		args := e.Args[1:]
		topLevel := len(args) == 0 || strings.HasPrefix(args[0], "-") || args[0] == "bogus" || args[0] == "version"
		help := len(args) == 2 && args[1] == "-h"
		if !topLevel && !help {
			continue // the commands' own output is tested in package command
		}
		ran++
		t.Run(strings.Join(e.Args, " "), func(t *testing.T) {
			stdout, stderr, code := runMain(args...)
			if code != e.ExitCode {
				t.Errorf("exit code %d, want %d", code, e.ExitCode)
			}
			var wantStdout, wantStderr string
			switch {
			case e.FactsFile == "":
				wantStdout = readGolden(t, e.StdoutFile)
				if e.StderrFile != nil {
					wantStderr = readGolden(t, *e.StderrFile)
				}
			case help:
				wantStderr = helpOf(t, args[0])
			default:
				// The top-level usage: hashicorp/cli's frame around our
				// synopses, one line per command.
				if !strings.HasPrefix(stderr, "Usage: serf [--version] [--help] <command> [<args>]\n") {
					t.Errorf("usage starts %q", stderr)
				}
				for _, name := range facts.Usage.Commands {
					cmd, _ := command.CommandsWithMeta(command.Meta{}, extraCommands(command.Meta{}))[name]()
					line := "    " + name + strings.Repeat(" ", len("reachability")-len(name)) + "    " + cmd.Synopsis() + "\n"
					if !strings.Contains(stderr, line) {
						t.Errorf("usage lacks %q", line)
					}
				}
				for _, flag := range []string{"-autocomplete-install", "-autocomplete-uninstall"} {
					if !strings.Contains(stderr, "\n    "+flag+" ") {
						t.Errorf("usage does not document %s", flag)
					}
				}
				wantStderr = stderr
			}
			if e.FactsFile != "" {
				for _, stream := range []string{"stdout", "stderr"} {
					text := map[string]string{"stdout": stdout, "stderr": stderr}[stream]
					if want := slices.Contains(e.StreamsWithText, stream); want != (text != "") {
						t.Errorf("%s has text: %v, want %v", stream, text != "", want)
					}
				}
			}
			if stdout != wantStdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, wantStdout)
			}
			if stderr != wantStderr {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, wantStderr)
			}
		})
	}
	if ran < 20 {
		t.Errorf("only %d top-level goldens found", ran)
	}
}

// Behaviour of the top level that Serf 0.10 has but no golden shows.
func TestRunTopLevelRules(t *testing.T) {
	_, usage, _ := runMain()
	version := readGolden(t, "version.txt")
	membersHelp := helpOf(t, "members")
	tests := []struct {
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{[]string{"-help"}, 0, "", usage},
		{[]string{"help"}, 127, "", usage},
		{[]string{"-version"}, 127, "", usage},
		{[]string{"--version"}, 0, version, ""},
		{[]string{"members", "-v"}, 0, version, ""},
		{[]string{"event", "deploy", "--version"}, 0, version, ""},
		{[]string{"members", "-help"}, 0, "", membersHelp},
		{[]string{"members", "--help"}, 0, "", membersHelp},
		{[]string{"-x", "members"}, 1, "", "Invalid flags before the subcommand. If these flags are for\n" +
			"the subcommand, please put them after the subcommand.\n\n" + membersHelp},
		{[]string{"members", "-bogus"}, 1, membersHelp, "flag provided but not defined: -bogus\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			stdout, stderr, code := runMain(tt.args...)
			if code != tt.wantCode || stdout != tt.wantStdout || stderr != tt.wantStderr {
				t.Errorf("got exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d\nstdout:\n%s\nstderr:\n%s",
					code, stdout, stderr, tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}
