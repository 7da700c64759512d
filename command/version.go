package command

import (
	"fmt"
	"strings"
)

// The version this build reports. A plain `go build` reports the values
// written here; release builds stamp all three with the linker
// (-ldflags "-X github.com/serfclone/serf/command.Version=0.10.3 ..."), see
// scripts/release/. They are variables, not constants, only so that -X can
// set them; nothing assigns them at run time.
var (
	Version           = "0.10.2"
	VersionPrerelease = "dev"
)

// GitCommit is the commit the binary was built from, or empty. It is a
// variable only so that the linker can set it.
var GitCommit string

// The Serf (delegate) protocol versions this build speaks, as `serf
// version` reports them.
const (
	ProtocolVersionMax = 5
	ProtocolVersionMin = 2
)

// HumanVersion is the version line of `serf version`: "0.10.2" for a
// release, "0.10.2-dev" for a pre-release, followed by " (<commit>)" when
// a commit was stamped in.
func HumanVersion() string {
	v := Version
	if VersionPrerelease != "" {
		v += "-" + VersionPrerelease
		if commit := strings.ReplaceAll(GitCommit, "'", ""); commit != "" {
			v += " (" + commit + ")"
		}
	}
	return v
}

// VersionCommand prints the version and the protocol range.
type VersionCommand struct {
	Meta
}

func (c *VersionCommand) Synopsis() string { return "Show the version and the protocol range" }

func (c *VersionCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf version

  Prints the version of this program and the range of Serf protocol versions
  it speaks. -v and --version anywhere on the command line do the same.
`)
}

// Run ignores its arguments.
func (c *VersionCommand) Run(_ []string) int {
	c.Ui.Output(HumanVersion())
	c.Ui.Output(fmt.Sprintf("Agent Protocol: %d (Understands back to: %d)", ProtocolVersionMax, ProtocolVersionMin))
	return 0
}
