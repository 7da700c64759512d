package client

import "errors"

// ErrClientClosed is returned for a request that was still waiting when the
// connection ended, whether Close was called or the agent went away. Its
// text matches the reference client because the CLI prints it verbatim
// (e.g. "Error retrieving members: client closed").
var ErrClientClosed = errors.New("client closed")

// ErrStreamClosed is returned by Monitor, Stream and Query when the stream
// ended before the agent answered the request that opened it.
var ErrStreamClosed = errors.New("Stream closed")

// RemoteError is an error the agent reported in a response header. Its
// text is the agent's, verbatim, because the CLI prints it as is; Command
// says which request it answered.
type RemoteError struct {
	Command string
	Message string
}

func (e *RemoteError) Error() string { return e.Message }

// remoteError turns a header's Error field into an error, nil when empty.
func remoteError(command, message string) error {
	if message == "" {
		return nil
	}
	return &RemoteError{Command: command, Message: message}
}

// isGateError reports whether the agent answered without running the
// command (not handshaken, not authenticated, unknown command). Such
// replies never carry a body, whatever the command.
func isGateError(message string) bool {
	switch message {
	case errHandshakeRequired, errAuthRequired, errUnsupportedCommand:
		return true
	}
	return false
}
