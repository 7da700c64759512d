package agent

import (
	"io"
	"sync"

	"github.com/hashicorp/logutils"
)

// reloadableLevelFilter is a log level filter whose level a reload may
// change while other goroutines log. logutils.LevelFilter alone is not
// safe for that: SetMinLevel rebuilds the map that every Write reads.
type reloadableLevelFilter struct {
	mu     sync.RWMutex
	filter *logutils.LevelFilter
}

func newReloadableLevelFilter(level string, w io.Writer) *reloadableLevelFilter {
	return &reloadableLevelFilter{filter: NewLevelFilter(level, w)}
}

// Write passes p on unless its level is below the minimum.
func (f *reloadableLevelFilter) Write(p []byte) (int, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.filter.Write(p)
}

// SetMinLevel changes the minimum level; level must be a valid one.
func (f *reloadableLevelFilter) SetMinLevel(level string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filter.SetMinLevel(logutils.LogLevel(level))
}
