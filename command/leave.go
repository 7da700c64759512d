package command

import (
	"fmt"
	"strings"
)

// LeaveCommand makes the agent leave the cluster gracefully and shut down.
type LeaveCommand struct {
	Meta
}

func (c *LeaveCommand) Synopsis() string { return "Make the agent leave the cluster and exit" }

func (c *LeaveCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf leave [options]

  Tells the agent to announce to the cluster that it is leaving, wait for
  that to spread, and then stop. The other members then list it as "left"
  rather than "failed", and run no failure handling for it.

Options:

  -rpc-addr=127.0.0.1:7373  Where the agent listens for RPC, as host:port. When
                            the flag is absent, SERF_RPC_ADDR is used if set.
  -rpc-auth=""              Token for an agent configured with rpc_auth. When
                            the flag is absent, SERF_RPC_AUTH is used if set.
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
