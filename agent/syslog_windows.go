//go:build windows

package agent

import "errors"

// errNoSyslog is what enable_syslog meets on Windows.
var errNoSyslog = errors.New("syslog is not supported on Windows")

// NewSyslogWriter fails: Windows has no syslog daemon.
func NewSyslogWriter(facility, minLevel string) (*SyslogWriter, error) { return nil, errNoSyslog }

// DialSyslogWriter fails: Windows has no syslog daemon.
func DialSyslogWriter(network, addr, facility, minLevel string) (*SyslogWriter, error) {
	return nil, errNoSyslog
}
