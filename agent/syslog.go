package agent

import (
	"bytes"
	"fmt"

	gsyslog "github.com/hashicorp/go-syslog"
)

// syslogPriority maps Serf's log levels to syslog priorities.
var syslogPriority = map[string]gsyslog.Priority{
	"TRACE": gsyslog.LOG_DEBUG,
	"DEBUG": gsyslog.LOG_INFO,
	"INFO":  gsyslog.LOG_NOTICE,
	"WARN":  gsyslog.LOG_WARNING,
	"ERR":   gsyslog.LOG_ERR,
	"CRIT":  gsyslog.LOG_CRIT,
}

// SyslogWriter sends log lines that pass the level filter to syslog, with
// the date and level stripped and the level mapped to a priority.
type SyslogWriter struct {
	l        gsyslog.Syslogger
	minLevel string
}

// Close releases the connection to syslog.
func (s *SyslogWriter) Close() error { return s.l.Close() }

// Write implements io.Writer for one log line.
func (s *SyslogWriter) Write(p []byte) (int, error) {
	level, msg := splitLogLine(p)
	if r := levelRank(level); r >= 0 && r < levelRank(s.minLevel) {
		return len(p), nil
	}
	prio, ok := syslogPriority[level]
	if !ok {
		prio = gsyslog.LOG_NOTICE
	}
	if err := s.l.WriteLevel(prio, msg); err != nil {
		return 0, fmt.Errorf("write syslog: %w", err)
	}
	return len(p), nil
}

// splitLogLine returns the level inside a line's first [...] and the text
// after it.
func splitLogLine(p []byte) (string, []byte) {
	x := bytes.IndexByte(p, '[')
	if x < 0 {
		return "", bytes.TrimRight(p, "\n")
	}
	y := bytes.IndexByte(p[x:], ']')
	if y < 0 {
		return "", bytes.TrimRight(p, "\n")
	}
	level := string(p[x+1 : x+y])
	msg := bytes.TrimLeft(p[x+y+1:], " ")
	return level, bytes.TrimRight(msg, "\n")
}
