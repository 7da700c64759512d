package command

import (
	"fmt"
	"github.com/serfclone/serf/internal/flagvalues"
	"strings"
)

// TagsCommand changes the tags of the agent's own node.
type TagsCommand struct {
	Meta
}

func (c *TagsCommand) Synopsis() string { return "Change the tags of the agent" }

func (c *TagsCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf tags [options] ...

  Sets or removes tags of the agent the command talks to, and spreads the
  change to the cluster. When a tags file is configured, the agent also
  rewrites it. At least one -set or -delete is needed.

Options:

  -rpc-addr=127.0.0.1:7373  Where the agent listens for RPC, as host:port. When
                            the flag is absent, SERF_RPC_ADDR is used if set.
  -rpc-auth=""              Token for an agent configured with rpc_auth. When
                            the flag is absent, SERF_RPC_AUTH is used if set.
  -set key=value            Give tag key this value, adding it if needed.
                            Repeat the flag for several tags.
  -delete key               Remove tag key if the agent has it. Repeat the flag
                            for several tags.
`)
}

func (c *TagsCommand) Run(args []string) int {
	var setArgs, deleteArgs flagvalues.StringList
	fs := c.newFlagSet("tags", c.Help)
	fs.Var(&setArgs, "set", "key=value tag to set (repeatable)")
	fs.Var(&deleteArgs, "delete", "tag to remove (repeatable)")
	rpc := addRPCFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if len(setArgs) == 0 && len(deleteArgs) == 0 {
		c.Ui.Output(c.Help())
		return 1
	}

	cl := c.connect(rpc)
	if cl == nil {
		return 1
	}
	defer cl.Close()

	// Serf checks the -set syntax only once connected; kept for identical
	// behaviour when both the address and a tag are wrong.
	tags, err := flagvalues.ParseTags(setArgs)
	if err != nil {
		c.Ui.Error("Error: " + err.Error())
		return 1
	}
	// deleteArgs stays nil without -delete: the agent then gets msgpack nil.
	if err := cl.UpdateTags(tags, deleteArgs); err != nil {
		c.Ui.Error(fmt.Sprintf("Error setting tags: %s", err))
		return 1
	}
	c.Ui.Output("Successfully updated agent tags")
	return 0
}
