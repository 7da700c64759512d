package command

import (
	"fmt"
	"strings"
)

// JoinCommand asks the agent to join a cluster through existing members.
type JoinCommand struct {
	Meta
}

func (c *JoinCommand) Synopsis() string { return "Ask the agent to join other members" }

func (c *JoinCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf join [options] address ...

  Makes a running agent contact one or more members of a cluster and join
  through them. Each address is host or host:port (port 7946 when left out).
  The command succeeds when at least one address could be reached, and says
  how many were.

Options:

  -replay                   Also pass the user events the cluster already holds
                            to this agent, so its handlers run for them. Off by
                            default.
  -rpc-addr=127.0.0.1:7373  Where the agent listens for RPC, as host:port. When
                            the flag is absent, SERF_RPC_ADDR is used if set.
  -rpc-auth=""              Token for an agent configured with rpc_auth. When
                            the flag is absent, SERF_RPC_AUTH is used if set.
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
