package agent

import (
	"errors"
	"os"
	"strconv"
	"time"
)

// Notifier tells systemd about the agent's state through the socket in
// NOTIFY_SOCKET (Type=notify units). Without that variable it does
// nothing, so the agent runs the same under Type=simple.
type Notifier struct {
	socket string
}

// NewNotifier reads NOTIFY_SOCKET from the environment.
func NewNotifier() *Notifier {
	return &Notifier{socket: os.Getenv("NOTIFY_SOCKET")}
}

// Enabled reports whether systemd asked for notifications.
func (n *Notifier) Enabled() bool { return n != nil && n.socket != "" }

// Notify sends one state line, e.g. "READY=1".
func (n *Notifier) Notify(state string) error {
	if !n.Enabled() {
		return nil
	}
	return sendNotify(n.socket, state)
}

// WatchdogInterval returns half the watchdog period systemd set in
// WATCHDOG_USEC (for this process, per WATCHDOG_PID), or 0 without one.
func WatchdogInterval() (time.Duration, error) {
	usec := os.Getenv("WATCHDOG_USEC")
	if usec == "" {
		return 0, nil
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, nil
	}
	n, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("invalid WATCHDOG_USEC: " + usec)
	}
	return time.Duration(n) * time.Microsecond / 2, nil
}

// RunWatchdog sends WATCHDOG=1 every interval until stop is closed.
func (n *Notifier) RunWatchdog(interval time.Duration, stop <-chan struct{}) {
	if !n.Enabled() || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = n.Notify("WATCHDOG=1")
		case <-stop:
			return
		}
	}
}
