//go:build windows

package agent

import (
	"errors"
	"os"
	"os/exec"
)

// Windows has no process groups that a signal can reach, so a script is
// stopped by killing its shell; processes it started on its own are not
// tracked.

// placeInOwnGroup leaves cmd as it is on Windows.
func placeInOwnGroup(cmd *exec.Cmd) {}

// signalGroup kills the script's process; Windows cannot ask politely.
func signalGroup(proc *os.Process, force bool) error {
	err := proc.Kill()
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// groupAlive is false once the script's process has been waited for.
func groupAlive(proc *os.Process) bool { return false }

// terminateSignalName and killSignalName name the two stops in logs.
const (
	terminateSignalName = "kill"
	killSignalName      = "kill"
)
