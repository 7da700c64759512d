package agent

import (
	"io"
	"strings"
	"sync"

	"github.com/hashicorp/logutils"
)

// LogHandler receives every log line the agent writes, one call per line
// without the trailing newline. RPC monitors implement it. HandleLog is
// called with the LogWriter's lock held, so it must not block and must not
// log synchronously (that would re-enter the writer).
type LogHandler interface {
	HandleLog(string)
}

// LogWriter is an io.Writer that keeps the most recent log lines in a ring
// and fans every new line out to registered handlers. The agent writes all
// its log output here, whatever the console's level, so that `serf
// monitor` can show recent history and any level.
//
// Each Write is one log entry: the Go logger writes one entry per call,
// and a multi-line message stays one entry, one monitor record.
type LogWriter struct {
	mu       sync.Mutex
	ring     []string
	next     int  // slot the next line goes to
	full     bool // the ring has wrapped at least once
	handlers map[LogHandler]struct{}
}

// NewLogWriter returns a LogWriter that remembers the last n lines. The
// agent uses 512. n < 1 keeps no history; lines are only fanned out.
func NewLogWriter(n int) *LogWriter {
	if n < 0 {
		n = 0
	}
	return &LogWriter{
		ring:     make([]string, n),
		handlers: make(map[LogHandler]struct{}),
	}
}

// Write stores p as one line (one trailing newline removed) and hands it
// to every handler. It never fails.
func (w *LogWriter) Write(p []byte) (int, error) {
	n := len(p)
	if n == 0 {
		return 0, nil
	}
	line := strings.TrimSuffix(string(p), "\n")

	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.ring) > 0 {
		w.ring[w.next] = line
		w.next = (w.next + 1) % len(w.ring)
		if w.next == 0 {
			w.full = true
		}
	}
	for h := range w.handlers {
		h.HandleLog(line)
	}
	return n, nil
}

// RegisterHandler first replays the buffered lines to h, oldest first, then
// adds it, so h sees every line exactly once and in order.
func (w *LogWriter) RegisterHandler(h LogHandler) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range w.linesLocked() {
		h.HandleLog(line)
	}
	w.handlers[h] = struct{}{}
}

// DeregisterHandler stops delivering lines to h. Unknown handlers are
// ignored.
func (w *LogWriter) DeregisterHandler(h LogHandler) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.handlers, h)
}

// Lines returns a copy of the buffered lines, oldest first.
func (w *LogWriter) Lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.linesLocked()
}

func (w *LogWriter) linesLocked() []string {
	if !w.full {
		return append([]string(nil), w.ring[:w.next]...)
	}
	out := make([]string, 0, len(w.ring))
	out = append(out, w.ring[w.next:]...)
	return append(out, w.ring[:w.next]...)
}

// GatedWriter holds everything written to it until Flush, then writes
// through. The agent command logs into it while it prints the banner, so
// that log lines appear after "Log data will now stream in as it occurs".
// Set Writer before the first Flush (or use NewGatedWriter).
type GatedWriter struct {
	Writer io.Writer

	mu      sync.Mutex
	buf     [][]byte
	flushed bool
}

// NewGatedWriter returns a closed gate in front of w.
func NewGatedWriter(w io.Writer) *GatedWriter {
	return &GatedWriter{Writer: w}
}

// Write buffers a copy of p until Flush, and writes through afterwards.
func (w *GatedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.flushed {
		return w.Writer.Write(p)
	}
	w.buf = append(w.buf, append([]byte(nil), p...))
	return len(p), nil
}

// Flush writes out the buffered data in order and opens the gate. Later
// calls do nothing. Writes racing with Flush keep their order.
func (w *GatedWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.flushed {
		return
	}
	for _, p := range w.buf {
		// A failing console must not stop the agent; the lines are lost
		// either way.
		_, _ = w.Writer.Write(p)
	}
	w.buf = nil
	w.flushed = true
}

// NewLevelFilter returns a filter in front of w that drops a line only when
// the text inside its first [...] is a known level below level; lines with
// no bracketed level or an unknown one always pass, as in Serf. level
// is used as given: validate it with ValidateLevelFilter first.
func NewLevelFilter(level string, w io.Writer) *logutils.LevelFilter {
	return &logutils.LevelFilter{
		Levels:   filterLevels(),
		MinLevel: logutils.LogLevel(level),
		Writer:   w,
	}
}

// ValidateLevelFilter reports whether minLevel is one of filter's levels.
func ValidateLevelFilter(minLevel logutils.LogLevel, filter *logutils.LevelFilter) bool {
	for _, l := range filter.Levels {
		if l == minLevel {
			return true
		}
	}
	return false
}
