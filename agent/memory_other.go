//go:build !linux

package agent

import "errors"

// releaseStartupPages is Linux-only (memory_linux.go).
func releaseStartupPages() error { return errors.New("not supported on this system") }
