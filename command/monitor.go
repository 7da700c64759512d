package command

import (
	"fmt"
	"strings"
)

// MonitorCommand streams the agent's log lines, and its events, until
// interrupted.
type MonitorCommand struct {
	Meta
}

func (c *MonitorCommand) Synopsis() string { return "Follow the agent's log as it is written" }

func (c *MonitorCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf monitor [options]

  Prints the agent's recent log lines, then keeps printing new ones as they
  are written, until interrupted (Ctrl-C). The level chosen here is
  independent of the agent's own: an agent that logs at INFO still shows
  DEBUG lines to a monitor that asks for them.

Options:

  -log-level=info           Lowest level to show: trace, debug, info, warn or
                            err.
  -log-json                 Print each line as a JSON object (@timestamp,
                            @level, @module, @message) instead of text. Only
                            agents of this implementation can do it; a Serf
                            0.10 agent is refused with an error.
  -rpc-addr=127.0.0.1:7373  Where the agent listens for RPC, as host:port. When
                            the flag is absent, SERF_RPC_ADDR is used if set.
  -rpc-auth=""              Token for an agent configured with rpc_auth. When
                            the flag is absent, SERF_RPC_AUTH is used if set.
`)
}

func (c *MonitorCommand) Run(args []string) int {
	fs := c.newFlagSet("monitor", c.Help)
	level := fs.String("log-level", "INFO", "minimum log level")
	asJSON := fs.Bool("log-json", false, "print log lines and events as JSON objects")
	rpc := addRPCFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 1
	}

	cl := c.connect(rpc)
	if cl == nil {
		return 1
	}
	defer cl.Close()

	events := make(chan map[string]interface{})
	streamHandle, err := cl.Stream("*", events)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error starting stream: %s", err))
		return 1
	}
	defer cl.Stop(streamHandle)

	logs := make(chan string)
	monitor, showEvent := cl.Monitor, formatEvent
	if *asJSON {
		monitor, showEvent = cl.MonitorJSON, formatEventJSON
	}
	monitorHandle, err := monitor(*level, logs)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error starting monitor: %s", err))
		return 1
	}
	defer cl.Stop(monitorHandle)

	// Both channels close when the agent goes away; what each still holds
	// is printed first.
	for logs != nil || events != nil {
		select {
		case line, ok := <-logs:
			if !ok {
				logs = nil
				continue
			}
			c.Ui.Info(line)
		case event, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			c.Ui.Info(showEvent(event))
		case <-c.ShutdownCh:
			return 0
		}
	}
	return c.remoteEnded()
}

// remoteEnded reports that the agent closed the connection.
func (c *MonitorCommand) remoteEnded() int {
	c.Ui.Info("")
	c.Ui.Output("Remote side ended the monitor! This usually means that the\n" +
		"remote side has exited or crashed.")
	return 1
}

// formatEvent renders a stream record for humans: one line per field,
// with Go-syntax values. Serf prints the fields in random order; they are
// sorted here so that the output is stable.
func formatEvent(event map[string]interface{}) string {
	var b strings.Builder
	b.WriteString("Event Info:")
	for _, key := range sortedKeys(event) {
		fmt.Fprintf(&b, "\n\t%s: %#v", key, event[key])
	}
	return b.String()
}
