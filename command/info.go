package command

import (
	"fmt"
	"strings"
)

// InfoCommand prints the agent's debugging information (the stats RPC).
type InfoCommand struct {
	Meta
}

func (c *InfoCommand) Synopsis() string { return "Provides debugging information for operators" }

func (c *InfoCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf info [options]

	Provides debugging information for operators

Options:

  -format                  If provided, output is returned in the specified
                           format. Valid formats are 'json', and 'text' (default)

  -rpc-addr=127.0.0.1:7373 RPC address of the Serf agent.

  -rpc-auth=""             RPC auth token of the Serf agent.
`)
}

func (c *InfoCommand) Run(args []string) int {
	fs := c.newFlagSet("info", c.Help)
	format := fs.String("format", "text", "output format: text or json")
	rpc := addRPCFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 1
	}

	cl := c.connect(rpc)
	if cl == nil {
		return 1
	}
	defer cl.Close()

	stats, err := cl.Stats()
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error querying agent: %s", err))
		return 1
	}
	out, err := render(*format, stats, func() string { return statsAsText(stats) })
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Encoding error: %s", err))
		return 1
	}
	c.Ui.Output(strings.TrimSpace(out))
	return 0
}

// statsAsText lists each section, sorted, with its keys, sorted, one per
// line as "<TAB>key = value".
func statsAsText(stats map[string]map[string]string) string {
	var b strings.Builder
	for _, section := range sortedKeys(stats) {
		fmt.Fprintf(&b, "%s:\n", section)
		values := stats[section]
		for _, key := range sortedKeys(values) {
			fmt.Fprintf(&b, "\t%s = %s\n", key, values[key])
		}
	}
	return b.String()
}
