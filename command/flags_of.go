package command

import (
	"flag"
	"io"

	"github.com/hashicorp/cli"
	"github.com/serfclone/serf/agent"
)

// commandFlags returns the flags the named command accepts, from the flag
// set its Run really builds: Run is given -h, which stops it at the flag
// parse, before it connects anywhere, and the flag set is captured as the
// help is printed. Commands that take no flags (keygen, version) give nil,
// and so does an unknown name. "agent" lists the daemon's flags.
func commandFlags(name string) []*flag.Flag {
	var flags []*flag.Flag
	collect := func(f *flag.Flag) { flags = append(flags, f) }
	if name == "agent" {
		agent.VisitFlags(collect)
		return flags
	}
	build, ok := builtins()[name]
	if !ok {
		return nil
	}
	quiet := &cli.BasicUi{Writer: io.Discard, ErrorWriter: io.Discard}
	m := Meta{Ui: quiet, FlagOutput: io.Discard, onUsage: func(fs *flag.FlagSet) { fs.VisitAll(collect) }}
	build(m).Run([]string{"-h"})
	return flags
}
