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

func (c *MonitorCommand) Synopsis() string { return "Stream logs from a Serf agent" }

func (c *MonitorCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf monitor [options]

  Shows recent log messages of a Serf agent, and attaches to the agent,
  outputting log messages as they occur in real time. The monitor lets you
  listen for log levels that may be filtered out of the Serf agent. For
  example your agent may only be logging at INFO level, but with the monitor
  you can see the DEBUG level logs.

Options:

  -log-level=info          Log level of the agent.
  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.
  -rpc-auth=""              RPC auth token of the Serf agent.
`)
}

func (c *MonitorCommand) Run(args []string) int {
	fs := c.newFlagSet("monitor", c.Help)
	level := fs.String("log-level", "INFO", "minimum log level")
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
	monitorHandle, err := cl.Monitor(*level, logs)
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
			c.Ui.Info(formatEvent(event))
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
