package client

import (
	"errors"
	"fmt"
)

// MonitorJSONCommand is "monitor" with each log line sent as one JSON
// object (@timestamp, @level, @module, @message). Agents of this
// implementation serve it; Serf 0.10 agents answer "Unsupported command"
// and close the connection.
const MonitorJSONCommand = "monitor-json"

// ErrMonitorJSONUnsupported is returned by MonitorJSON when the agent
// does not know MonitorJSONCommand, as a Serf 0.10 agent does not.
var ErrMonitorJSONUnsupported = errors.New("this agent cannot stream logs as JSON (it does not know the monitor-json command; Serf 0.10 agents do not)")

// MonitorJSON is Monitor with each line delivered as one JSON object, as
// the agent writes them with log_json. Against an agent that lacks it
// the error wraps ErrMonitorJSONUnsupported; the agent then closes the
// connection, as it does for any unknown command.
func (c *RPCClient) MonitorJSON(level string, ch chan<- string) (StreamHandle, error) {
	h := newMonitorHandler(ch)
	h.command = MonitorJSONCommand
	handle, err := c.openStream(MonitorJSONCommand, &MonitorRequest{LogLevel: level}, h)
	var remote *RemoteError
	if errors.As(err, &remote) && remote.Message == errUnsupportedCommand {
		return 0, fmt.Errorf("%w; the agent said: %s", ErrMonitorJSONUnsupported, remote.Message)
	}
	return handle, err
}
