package command

import (
	"fmt"
	"strings"
)

// EventCommand sends a custom user event through the cluster.
type EventCommand struct {
	Meta
}

func (c *EventCommand) Synopsis() string { return "Fire a user event across the cluster" }

func (c *EventCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf event [options] name payload

  Asks the agent to broadcast a user event called name to every member, where
  event handlers and "serf monitor" see it. The payload is optional and is
  sent as given, in bytes; name and payload together must stay small (the
  agent refuses events too large for one gossip message).

Options:

  -coalesce=true/false      With true (the default), members that get several
                            events of this name in a short window may hand only
                            the newest one to their handlers. Use false when
                            every event matters.
  -rpc-addr=127.0.0.1:7373  Where the agent listens for RPC, as host:port. When
                            the flag is absent, SERF_RPC_ADDR is used if set.
  -rpc-auth=""              Token for an agent configured with rpc_auth. When
                            the flag is absent, SERF_RPC_AUTH is used if set.
`)
}

func (c *EventCommand) Run(args []string) int {
	fs := c.newFlagSet("event", c.Help)
	coalesce := fs.Bool("coalesce", true, "whether the event may be coalesced")
	rpc := addRPCFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 1
	}

	args = fs.Args()
	switch {
	case len(args) < 1:
		return c.usageError("An event name must be specified.", c.Help())
	case len(args) > 2:
		return c.usageError("Too many command line arguments. Only a name and payload must be specified.", c.Help())
	}
	name := args[0]
	// No payload argument means a nil payload (msgpack nil on the wire),
	// not an empty one.
	var payload []byte
	if len(args) == 2 {
		payload = []byte(args[1])
	}

	cl := c.connect(rpc)
	if cl == nil {
		return 1
	}
	defer cl.Close()

	if err := cl.UserEvent(name, payload, *coalesce); err != nil {
		c.Ui.Error(fmt.Sprintf("Error sending event: %s", err))
		return 1
	}
	c.Ui.Output(fmt.Sprintf("Event '%s' dispatched! Coalescing enabled: %t", name, *coalesce))
	return 0
}
