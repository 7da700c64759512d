package command

import (
	"fmt"
	"strings"
)

// LeaveCommand makes the agent leave the cluster gracefully and shut down.
type LeaveCommand struct {
	Meta
}

func (c *LeaveCommand) Synopsis() string { return "Gracefully leaves the Serf cluster and shuts down" }

func (c *LeaveCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf leave

  Causes the agent to gracefully leave the Serf cluster and shutdown.

Options:

  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.
  -rpc-auth=""              RPC auth token of the Serf agent.
`)
}

func (c *LeaveCommand) Run(args []string) int {
	fs := c.newFlagSet("leave", c.Help)
	rpc := addRPCFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 1
	}

	cl := c.connect(rpc)
	if cl == nil {
		return 1
	}
	defer cl.Close()

	if err := cl.Leave(); err != nil {
		c.Ui.Error(fmt.Sprintf("Error leaving: %s", err))
		return 1
	}
	c.Ui.Output("Graceful leave complete")
	return 0
}
