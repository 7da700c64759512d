package agent

import (
	"fmt"
	"strings"

	"github.com/hashicorp/logutils"
)

// logLevels are Serf's log levels, lowest first: the one list that the
// console and syslog filters, the monitor RPC and validation all use.
var logLevels = [...]string{"TRACE", "DEBUG", "INFO", "WARN", "ERR"}

// ValidateLogLevel upper-cases level and checks it. The error reads
// "Invalid log level: <LEVEL>. Valid log levels are: [TRACE DEBUG INFO
// WARN ERR]".
func ValidateLogLevel(level string) (string, error) {
	upper := strings.ToUpper(level)
	if levelRank(upper) < 0 {
		return "", fmt.Errorf("Invalid log level: %s. Valid log levels are: %v", upper, logLevels)
	}
	return upper, nil
}

// levelRank is level's place in logLevels, or -1 for an unknown level.
func levelRank(level string) int {
	for i, l := range logLevels {
		if l == level {
			return i
		}
	}
	return -1
}

// filterLevels returns logLevels in logutils' type, for a LevelFilter.
func filterLevels() []logutils.LogLevel {
	out := make([]logutils.LogLevel, len(logLevels))
	for i, l := range logLevels {
		out[i] = logutils.LogLevel(l)
	}
	return out
}
