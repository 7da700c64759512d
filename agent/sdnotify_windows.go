//go:build windows

package agent

// sendNotify does nothing: there is no systemd on Windows.
func sendNotify(socket, state string) error { return nil }
