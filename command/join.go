package command

import (
	"fmt"
	"strings"
)

// JoinCommand asks the agent to join a cluster through existing members.
type JoinCommand struct {
	Meta
}

func (c *JoinCommand) Synopsis() string { return "Tell Serf agent to join cluster" }

func (c *JoinCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf join [options] address ...

  Tells a running Serf agent (with "serf agent") to join the cluster
  by specifying at least one existing member.

Options:

  -replay                   Replay past user events.
  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.
  -rpc-auth=""              RPC auth token of the Serf agent.
`)
}

func (c *JoinCommand) Run(args []string) int {
	fs := c.newFlagSet("join", c.Help)
	replay := fs.Bool("replay", false, "replay past user events")
	rpc := addRPCFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 1
	}
	addrs := fs.Args()
	if len(addrs) == 0 {
		return c.usageError("At least one address to join must be specified.", c.Help())
	}

	cl := c.connect(rpc)
	if cl == nil {
		return 1
	}
	defer cl.Close()

	n, err := cl.Join(addrs, *replay)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error joining the cluster: %s", err))
		return 1
	}
	c.Ui.Output(fmt.Sprintf("Successfully joined cluster by contacting %d nodes.", n))
	return 0
}
