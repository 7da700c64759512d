//go:build unix

package agent

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// On Unix every handler script runs as the leader of a process group of
// its own, so one signal reaches the shell and everything it started,
// backgrounded children included, and none of them share the agent's
// group (a Ctrl-C in the agent's terminal is the agent's to handle).

// placeInOwnGroup makes cmd start as the leader of a new process group.
func placeInOwnGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends a polite (terminate) or forceful (kill) stop to every
// process of the group led by proc. A group that is already gone is not
// an error.
func signalGroup(proc *os.Process, force bool) error {
	sig := syscall.SIGTERM
	if force {
		sig = syscall.SIGKILL
	}
	err := syscall.Kill(-proc.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// groupAlive reports whether any process of the group led by proc is
// still running, even after the leader itself has exited. A process that
// has exited but not been reaped yet (a zombie, whose new parent may be
// slow to wait for it) does not count where the system lets us tell.
func groupAlive(proc *os.Process) bool {
	err := syscall.Kill(-proc.Pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return groupHasLiveMember(proc.Pid)
}

// terminateSignalName and killSignalName name the two stops in logs.
const (
	terminateSignalName = "SIGTERM"
	killSignalName      = "SIGKILL"
)
