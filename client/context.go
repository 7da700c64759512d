package client

import (
	"context"
	"net"
)

// ClientFromConfigContext is ClientFromConfig with ctx bounding the
// connection, the handshake and the authentication: when ctx ends first,
// the connection is closed and ctx's error returned. Requests made later
// are not bound by ctx. Programs that must not wait for an agent that
// accepts connections but does not answer (shell completion) use it.
func ClientFromConfigContext(ctx context.Context, c *Config) (*RPCClient, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return nil, err
	}
	client := newClient(conn, timeout)
	client.logger = c.Logger
	stop := context.AfterFunc(ctx, func() { client.Close() })
	err = client.handshake(IPCVersion)
	if err == nil && c.AuthKey != "" {
		err = client.auth(c.AuthKey)
	}
	if !stop() {
		// ctx ended during the exchange and the client is closed (or
		// being closed); wait for that and report why.
		client.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		client.Close()
		return nil, err
	}
	return client, nil
}
