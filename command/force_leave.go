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
	return `Forces a member of the cluster to enter the "left" state`
}

func (c *ForceLeaveCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf force-leave [options] name

  Forces a member of a Serf cluster to enter the "left" state. Note
  that if the member is still actually alive, it will eventually rejoin
  the cluster. This command is most useful for cleaning out "failed" nodes
  that are never coming back. If you do not force leave a failed node,
  Serf will attempt to reconnect to those failed nodes for some period of
  time before eventually reaping them.

Options:

  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.
  -rpc-auth=""              RPC auth token of the Serf agent.
  -prune                    Remove agent forcibly from list of members
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
