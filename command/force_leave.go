package command

import (
	"fmt"
	"strings"
)

// ForceLeaveCommand forces a member into the "left" state, typically to
// clean out failed nodes that will not come back.
type ForceLeaveCommand struct {
	Meta
}

func (c *ForceLeaveCommand) Synopsis() string {
	return "Mark a member as \"left\" without its help"
}

func (c *ForceLeaveCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf force-leave [options] name

  Moves the member called name to the "left" state in the whole cluster. Use
  it for nodes that failed and will not come back: otherwise members keep
  trying to reach a failed node until it is reaped. A node that is in fact
  still running will simply join again.

Options:

  -rpc-addr=127.0.0.1:7373  Where the agent listens for RPC, as host:port. When
                            the flag is absent, SERF_RPC_ADDR is used if set.
  -rpc-auth=""              Token for an agent configured with rpc_auth. When
                            the flag is absent, SERF_RPC_AUTH is used if set.
  -prune                    Also erase the member from the member list at once,
                            instead of keeping it as "left" until it is reaped.
`)
}

func (c *ForceLeaveCommand) Run(args []string) int {
	fs := c.newFlagSet("force-leave", c.Help)
	prune := fs.Bool("prune", false, "also remove the member from the member list")
	rpc := addRPCFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 1
	}
	nodes := fs.Args()
	if len(nodes) != 1 {
		return c.usageError("A node name must be specified to force leave.", c.Help())
	}

	cl := c.connect(rpc)
	if cl == nil {
		return 1
	}
	defer cl.Close()

	var err error
	if *prune {
		err = cl.ForceLeavePrune(nodes[0])
	} else {
		err = cl.ForceLeave(nodes[0])
	}
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error force leaving: %s", err))
		return 1
	}
	return 0
}
