package command

import (
	"fmt"
	"strings"
)

// InfoCommand prints the agent's debugging information (the stats RPC).
type InfoCommand struct {
	Meta
}

func (c *InfoCommand) Synopsis() string { return "Show the agent's state and counters for debugging" }

func (c *InfoCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf info [options]

  Prints what the agent knows about itself, section by section (agent,
  runtime, serf, tags): the node name, member counts, Lamport clocks, queue
  depths and the like. Useful when something looks wrong.

Options:

  -format                   Output format, text (the default) or json. Give it
                            as -format=json.
  -rpc-addr=127.0.0.1:7373  Where the agent listens for RPC, as host:port. When
                            the flag is absent, SERF_RPC_ADDR is used if set.
  -rpc-auth=""              Token for an agent configured with rpc_auth. When
                            the flag is absent, SERF_RPC_AUTH is used if set.
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
