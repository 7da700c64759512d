//go:build !windows

package agent

import "net"

// sendNotify writes state to systemd's notification socket. A name
// starting with "@" is an abstract socket.
func sendNotify(socket, state string) error {
	name := socket
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}
