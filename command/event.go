package command

import (
	"fmt"
	"strings"
)

// EventCommand sends a custom user event through the cluster.
type EventCommand struct {
	Meta
}

func (c *EventCommand) Synopsis() string { return "Send a custom event through the Serf cluster" }

func (c *EventCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf event [options] name payload

  Dispatches a custom event across the Serf cluster.

Options:

  -coalesce=true/false      Whether this event can be coalesced. This means
                            that repeated events of the same name within a
                            short period of time are ignored, except the last
                            one received. Default is true.
  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.
  -rpc-auth=""              RPC auth token of the Serf agent.
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
