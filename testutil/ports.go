package testutil

import (
	"fmt"
	"net"
)

// FreePorts returns n distinct ports that were free on 127.0.0.1 for both
// TCP and UDP a moment ago. Serf binds both protocols on one port, so a
// port is only handed out if both binds succeed.
func FreePorts(n int) ([]int, error) {
	var ports []int
	var holds []func()
	defer func() {
		for _, release := range holds {
			release()
		}
	}()
	for attempts := 0; len(ports) < n; attempts++ {
		if attempts > 100*n {
			return nil, fmt.Errorf("could not find %d free ports", n)
		}
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("listen tcp: %w", err)
		}
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			tl.Close()
			continue
		}
		holds = append(holds, func() { tl.Close(); ul.Close() })
		ports = append(ports, port)
	}
	return ports, nil
}
