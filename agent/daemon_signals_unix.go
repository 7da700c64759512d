//go:build !windows

package agent

import (
	"os"
	"syscall"
)

// handledSignals are the signals the daemon acts on: SIGINT and SIGTERM
// stop it, SIGHUP reloads. SIGUSR1 (the metrics dump) belongs to
// go-metrics' signal listener.
var handledSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

func isReloadSignal(sig os.Signal) bool    { return sig == syscall.SIGHUP }
func isTerminateSignal(sig os.Signal) bool { return sig == syscall.SIGTERM }
