package agent

// monitorJSONCommand is "monitor" with every line sent as a JSON object
// (see NewJSONLogWriter) in the Log field of the records. It is our
// addition: a Serf 0.10 agent answers it with "Unsupported command", so a
// client that asks for JSON learns the agent cannot do it, where an extra
// field in the "monitor" request would be ignored silently and give text.
// Clients that do not ask see no change.
const monitorJSONCommand = "monitor-json"

func (i *AgentIPC) handleMonitorJSON(c *rpcConn, seq uint64) error {
	return i.startMonitor(c, seq, monitorJSONCommand, newJSONLineFormatter().format)
}
