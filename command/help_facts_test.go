package command

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// flagFacts is testdata/vectors/cli/flags.json: per command, the flags
// Serf 0.10 documents, each with the form its help shows, and the exit
// code and stream of `serf <command> -h`. The prose around them is ours.
type flagFacts map[string]struct {
	ExitCode int    `json:"exit_code"`
	Stream   string `json:"stream"`
	Flags    []struct {
		Name    string `json:"name"`
		ShownAs string `json:"shown_as"`
	} `json:"flags"`
	Commands []string `json:"commands"` // only in "_usage"
}

func loadFlagFacts(t *testing.T) flagFacts {
	t.Helper()
	var facts flagFacts
	if err := json.Unmarshal([]byte(golden(t, "flags.json")), &facts); err != nil {
		t.Fatal(err)
	}
	return facts
}

// helpText is the help of the named command, the agent included.
func helpText(t *testing.T, name string) string {
	t.Helper()
	if name == "agent" {
		return (&AgentCommand{}).Help()
	}
	build, ok := builtins()[name]
	if !ok {
		t.Fatalf("no command %q", name)
	}
	return build(Meta{}).Help()
}

// documents reports whether help has an option line for a flag shown as
// form: the form at the start of a line after two spaces, followed by a
// space (then the text, or the flag's argument as in "-tag key=value"),
// "=" (a bare name, with its value after it) or the end of the line.
func documents(help, form string) bool {
	re := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(form) + `([ =]|$)`)
	return re.MatchString(help)
}

// Every flag Serf documents for a command is documented in our help of
// it, in the same form; and every flag the command's real flag set
// accepts is documented too, so a flag added later without a help line
// fails here. The agent's flags come from agent.VisitFlags.
func TestHelpDocumentsFlags(t *testing.T) {
	facts := loadFlagFacts(t)
	for name, f := range facts {
		if strings.HasPrefix(name, "_") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			help := helpText(t, name)
			for _, flag := range f.Flags {
				if !documents(help, flag.ShownAs) {
					t.Errorf("help lacks Serf's flag %s (shown as %q)", flag.Name, flag.ShownAs)
				}
			}
			accepted := commandFlags(name)
			for _, fl := range accepted {
				if !documents(help, "-"+fl.Name) {
					t.Errorf("flag -%s is accepted but not documented", fl.Name)
				}
			}
			if len(f.Flags) > 0 && len(accepted) == 0 {
				t.Errorf("no flag set found for %s", name)
			}
		})
	}
}

// The commands are Serf's, no more and no fewer, and each has a one-line
// synopsis for the top-level listing.
func TestCommandSet(t *testing.T) {
	facts := loadFlagFacts(t)
	var names []string
	for name, factory := range CommandsWithMeta(Meta{}, nil) {
		names = append(names, name)
		cmd, err := factory()
		if err != nil {
			t.Fatal(err)
		}
		if s := cmd.Synopsis(); s == "" || strings.Contains(s, "\n") {
			t.Errorf("%s: synopsis %q", name, s)
		}
	}
	names = append(names, "agent") // main adds it
	sort.Strings(names)
	want := slices.Clone(facts["_usage"].Commands)
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Errorf("commands %v, want %v", names, want)
	}
}

// The flag sets are found for every command that has flags, the agent
// included, so the facts test above cannot pass by seeing none.
func TestCommandFlagsFindsFlagSets(t *testing.T) {
	for _, name := range []string{"agent", "members", "query", "monitor", "tags"} {
		flags := commandFlags(name)
		found := false
		for _, f := range flags {
			if f.Name == "rpc-addr" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no -rpc-addr among %d flags", name, len(flags))
		}
	}
	if flags := commandFlags("keygen"); len(flags) != 0 {
		t.Errorf("keygen has %d flags", len(flags))
	}
}
