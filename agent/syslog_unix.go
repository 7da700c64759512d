//go:build !windows

package agent

import (
	"strings"

	gsyslog "github.com/hashicorp/go-syslog"
)

// NewSyslogWriter connects to the local syslog daemon with tag "serf".
func NewSyslogWriter(facility, minLevel string) (*SyslogWriter, error) {
	facility = strings.ToUpper(facility)
	if facility == "" {
		facility = DefaultSyslogFacility
	}
	l, err := gsyslog.NewLogger(gsyslog.LOG_NOTICE, facility, "serf")
	if err != nil {
		return nil, err
	}
	return &SyslogWriter{l: l, minLevel: strings.ToUpper(minLevel)}, nil
}

// DialSyslogWriter sends to the syslog daemon at network/addr instead of
// the local default socket.
func DialSyslogWriter(network, addr, facility, minLevel string) (*SyslogWriter, error) {
	facility = strings.ToUpper(facility)
	if facility == "" {
		facility = DefaultSyslogFacility
	}
	l, err := gsyslog.DialLogger(network, addr, gsyslog.LOG_NOTICE, facility, "serf")
	if err != nil {
		return nil, err
	}
	return &SyslogWriter{l: l, minLevel: strings.ToUpper(minLevel)}, nil
}
