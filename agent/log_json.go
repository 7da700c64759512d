package agent

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// JSON logs: with log_json (-log-json) each log line becomes one JSON
// object in the shape HashiCorp's tools emit through go-hclog:
//
//	{"@level":"info","@message":"EventMemberJoin: a 10.0.0.1","@module":"serf","@timestamp":"2026-12-01T20:00:00.123Z"}
//
// The agent and its libraries keep logging Serf-shaped text lines
// ("2026/12/01 20:00:00 [INFO] serf: EventMemberJoin: a 10.0.0.1"); the
// level filters, the monitor ring and `serf monitor` work on those, and
// only the outputs that ask for JSON convert them, as the last step.

// jsonTimeFormat is RFC 3339 in UTC with millisecond precision.
const jsonTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// maxPartialLogLine bounds the bytes a JSON log writer holds while it
// waits for the end of a line; a longer line is converted in pieces.
const maxPartialLogLine = 64 << 10

// logLineDate matches the date log.LstdFlags (optionally with
// log.Lmicroseconds) puts before each line.
var logLineDate = regexp.MustCompile(`^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2})(\.\d+)? `)

// logModule matches the "module: " prefix of a message: lower case,
// digits and dots, as in "serf", "memberlist", "agent.ipc".
var logModule = regexp.MustCompile(`^([a-z][a-z0-9_.-]*): `)

// serfToHclog maps Serf's level names to hclog's.
var serfToHclog = map[string]hclog.Level{
	"TRACE": hclog.Trace,
	"DEBUG": hclog.Debug,
	"INFO":  hclog.Info,
	"WARN":  hclog.Warn,
	"ERR":   hclog.Error,
	"ERROR": hclog.Error,
	"CRIT":  hclog.Error,
}

// logLine is a Serf-shaped line taken apart.
type logLine struct {
	when    time.Time // zero when the line has no date
	level   string    // Serf's level name, "" when the line has none
	module  string    // "" when the message has no module prefix
	message string
}

// parseLogLine splits "2026/12/01 20:00:00 [INFO] serf: text". Every
// part is optional; whatever is left is the message. Dates are read in
// the local zone, as log.Logger writes them.
func parseLogLine(s string) logLine {
	var l logLine
	s = strings.TrimRight(s, "\r\n")
	if m := logLineDate.FindStringSubmatch(s); m != nil {
		if t, err := time.ParseInLocation("2006/01/02 15:04:05.999999999", m[1]+m[2], time.Local); err == nil {
			l.when = t
		}
		s = s[len(m[0]):]
	}
	if strings.HasPrefix(s, "[") {
		if end := strings.IndexByte(s, ']'); end > 0 {
			if _, known := serfToHclog[s[1:end]]; known {
				l.level = s[1:end]
				s = strings.TrimLeft(s[end+1:], " ")
			}
		}
	}
	if m := logModule.FindStringSubmatch(s); m != nil {
		l.module = m[1]
		s = s[len(m[0]):]
	}
	l.message = s
	return l
}

// jsonLogConverter logs parsed lines through an hclog JSON logger. It is
// safe for concurrent use; each line reaches out in one Write.
type jsonLogConverter struct {
	mu     sync.Mutex
	logger hclog.Logger
	now    func() time.Time
	stamp  time.Time // the time of the line being logged; guarded by mu
	prefix *prefixWriter
}

// newJSONLogConverter writes JSON lines to out. With levelPrefix, each
// object is preceded by the Serf level in brackets ("[WARN] {...}"), the
// shape SyslogWriter reads to choose a priority and then strips.
func newJSONLogConverter(out io.Writer, levelPrefix bool, now func() time.Time) *jsonLogConverter {
	c := &jsonLogConverter{now: now}
	if levelPrefix {
		c.prefix = &prefixWriter{w: out}
		out = c.prefix
	}
	c.logger = hclog.New(&hclog.LoggerOptions{
		Level:      hclog.Trace, // the level filters before us decide
		Output:     out,
		JSONFormat: true,
		TimeFormat: jsonTimeFormat,
		TimeFn:     func() time.Time { return c.stamp },
		Mutex:      hclog.NoopLocker{}, // c.mu serialises
	})
	return c
}

// convert logs one line.
func (c *jsonLogConverter) convert(line string) {
	l := parseLogLine(line)
	level, ok := serfToHclog[l.level]
	if !ok {
		level = hclog.Info
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stamp = lineTime(l.when, c.now())
	if c.prefix != nil {
		c.prefix.prefix = "[" + levelOr(l.level, "INFO") + "] "
	}
	logger := c.logger
	if l.module != "" {
		logger = logger.Named(l.module)
	}
	logger.Log(level, l.message)
}

// lineTime is the time to print for a line dated when (second precision,
// or zero) and converted at now. While now is still in the line's own
// second, the line was almost surely written just now, so now gives it
// milliseconds and is off by less than a second at worst; later (lines
// held until the banner is out, or replayed from the monitor ring) the
// line keeps its own date.
func lineTime(when, now time.Time) time.Time {
	if when.IsZero() || now.Truncate(time.Second).Equal(when) {
		return now.UTC()
	}
	return when.UTC()
}

func levelOr(level, fallback string) string {
	if level == "" {
		return fallback
	}
	return level
}

// prefixWriter puts prefix before each Write, in the same Write.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if _, err := p.w.Write(append([]byte(p.prefix), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// JSONLogWriter turns the Serf-shaped log lines written to it into JSON
// objects, one per line, on the writer it wraps. Partial lines wait for
// their end (up to 64 KiB).
type JSONLogWriter struct {
	conv *jsonLogConverter
	out  *errWriter

	mu      sync.Mutex
	partial []byte // guarded by mu
}

// NewJSONLogWriter returns a writer for the daemon's console output: each
// line written to it reaches w as a JSON object with @timestamp,
// @level, @module and @message.
func NewJSONLogWriter(w io.Writer) *JSONLogWriter {
	return newJSONLogWriter(w, false)
}

// NewJSONSyslogWriter is NewJSONLogWriter for a SyslogWriter: the object
// follows the line's level in brackets, so the syslog priority still
// follows the level; SyslogWriter strips the brackets and sends the JSON.
func NewJSONSyslogWriter(w io.Writer) *JSONLogWriter {
	return newJSONLogWriter(w, true)
}

func newJSONLogWriter(w io.Writer, levelPrefix bool) *JSONLogWriter {
	out := &errWriter{w: w}
	return &JSONLogWriter{conv: newJSONLogConverter(out, levelPrefix, time.Now), out: out}
}

// Write converts every complete line in p. It reports the first error of
// the wrapped writer.
func (j *JSONLogWriter) Write(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.partial = append(j.partial, p...)
	for {
		i := bytes.IndexByte(j.partial, '\n')
		if i < 0 {
			if len(j.partial) < maxPartialLogLine {
				break
			}
			i = len(j.partial) - 1 // too long: convert what we have
		}
		line := string(j.partial[:i+1])
		j.partial = j.partial[i+1:]
		j.conv.convert(line)
	}
	if len(j.partial) == 0 {
		j.partial = nil
	}
	if err := j.out.take(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// errWriter remembers the first error of w, which hclog drops.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

// take returns and clears the remembered error.
func (e *errWriter) take() error {
	err := e.err
	e.err = nil
	return err
}

// jsonLineFormatter converts single lines to JSON text for one monitor
// stream; only the stream's goroutine uses it.
type jsonLineFormatter struct {
	buf  bytes.Buffer
	conv *jsonLogConverter
}

func newJSONLineFormatter() *jsonLineFormatter {
	f := &jsonLineFormatter{}
	f.conv = newJSONLogConverter(&f.buf, false, time.Now)
	return f
}

// format returns line as one JSON object, with no trailing newline.
func (f *jsonLineFormatter) format(line string) string {
	f.buf.Reset()
	f.conv.convert(line)
	return strings.TrimRight(f.buf.String(), "\n")
}
