package agent

import (
	"bytes"
	"io"
	"log"
	"sync"
)

// defaultResponseLimit is how much of a handler's output is kept for a
// query's response when nothing larger is configured: the last 8 KiB, as
// Serf keeps.
const defaultResponseLimit = 8 * 1024

// maxLogLine is the longest piece of a handler's output logged as one
// line; a longer line is logged in pieces of this size, so a script that
// never writes a newline cannot make the agent buffer without bound.
const maxLogLine = 4 * 1024

// tailBuffer keeps the last max bytes written to it. A handler's stdout
// and stderr both feed one, so the response holds the end of either.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

var _ io.Writer = (*tailBuffer)(nil)

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// Bytes returns a copy of what is kept.
func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf...)
}

// lineLogger writes what a handler prints to the agent log, one log line
// per output line, each behind a prefix that names the level, the event
// and the script. Empty lines are skipped.
type lineLogger struct {
	logger *log.Logger
	prefix string

	mu  sync.Mutex
	buf []byte
}

var _ io.Writer = (*lineLogger)(nil)

func newLineLogger(logger *log.Logger, prefix string) *lineLogger {
	return &lineLogger{logger: logger, prefix: prefix}
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		nl := bytes.IndexByte(p, '\n')
		end := len(p)
		if nl >= 0 {
			end = nl
		}
		if room := maxLogLine - len(l.buf); end > room {
			l.buf = append(l.buf, p[:room]...)
			p = p[room:]
			l.emit()
			continue
		}
		l.buf = append(l.buf, p[:end]...)
		if nl < 0 {
			break
		}
		p = p[nl+1:]
		l.emit()
	}
	return n, nil
}

// Flush logs a last line that had no newline.
func (l *lineLogger) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.emit()
}

func (l *lineLogger) emit() {
	line := bytes.TrimSuffix(l.buf, []byte("\r"))
	if len(line) > 0 {
		l.logger.Printf("%s%s", l.prefix, line)
	}
	l.buf = l.buf[:0]
}
