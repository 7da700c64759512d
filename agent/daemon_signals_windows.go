//go:build windows

package agent

import (
	"os"
	"syscall"
)

// handledSignals are the signals the daemon acts on. Windows delivers
// Ctrl-C as os.Interrupt and a service stop as SIGTERM; it has no SIGHUP,
// so there is no reload by signal.
var handledSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

func isReloadSignal(os.Signal) bool        { return false }
func isTerminateSignal(sig os.Signal) bool { return sig == syscall.SIGTERM }
