package agent

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-metrics"

	"github.com/serfclone/serf/serf"
)

// maxHandlerOutput is how much of a handler's combined stdout and stderr
// is kept: the last 8 KiB, as Serf does.
const maxHandlerOutput = 8 * 1024

// slowScriptWarning is when a still-running handler gets a warning.
const slowScriptWarning = time.Second

// ScriptEventHandler runs the configured handler scripts for each event.
// Scripts run one at a time, in event order, on a goroutine of their own:
// unlike Serf 0.10, a slow or hung script delays only later scripts and
// never the agent's event loop, RPC streams or membership.
type ScriptEventHandler struct {
	selfFn func() serf.Member
	logger *log.Logger

	scriptsLock sync.RWMutex
	scripts     []EventScript

	queueLock sync.Mutex
	queue     []serf.Event
	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
}

// NewScriptEventHandler starts the runner. self returns the local member,
// whose name and tags fill SERF_SELF_* and SERF_TAG_*.
func NewScriptEventHandler(self func() serf.Member, scripts []EventScript, logger *log.Logger) *ScriptEventHandler {
	h := &ScriptEventHandler{
		selfFn:  self,
		logger:  logger,
		scripts: scripts,
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go h.run()
	return h
}

// UpdateScripts replaces the scripts from the next event on (SIGHUP).
func (h *ScriptEventHandler) UpdateScripts(scripts []EventScript) {
	h.scriptsLock.Lock()
	defer h.scriptsLock.Unlock()
	h.scripts = scripts
}

// HandleEvent queues the event for the runner; it never blocks.
func (h *ScriptEventHandler) HandleEvent(e serf.Event) {
	h.queueLock.Lock()
	h.queue = append(h.queue, e)
	h.queueLock.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Stop ends the runner after the script in progress, if any, finishes.
func (h *ScriptEventHandler) Stop() {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	<-h.done
}

func (h *ScriptEventHandler) run() {
	defer close(h.done)
	for {
		h.queueLock.Lock()
		var next serf.Event
		if len(h.queue) > 0 {
			next = h.queue[0]
			h.queue[0] = nil
			h.queue = h.queue[1:]
		}
		h.queueLock.Unlock()

		if next == nil {
			select {
			case <-h.wake:
				continue
			case <-h.stop:
				return
			}
		}
		select {
		case <-h.stop:
			return
		default:
		}
		h.dispatch(next)
	}
}

// dispatch runs every script whose filter matches, in configuration order.
func (h *ScriptEventHandler) dispatch(e serf.Event) {
	eventType, name := eventTypeAndName(e)
	h.scriptsLock.RLock()
	scripts := h.scripts
	h.scriptsLock.RUnlock()
	for _, s := range scripts {
		if !s.Matches(eventType, name) {
			continue
		}
		if err := invokeEventScript(h.logger, s.Script, h.selfFn(), e); err != nil {
			h.logger.Printf("[ERR] agent: Error invoking script '%s': %s", s.Script, err)
		}
	}
}

// eventTypeAndName returns the filter type string and, for user events and
// queries, the name.
func eventTypeAndName(e serf.Event) (string, string) {
	switch ev := e.(type) {
	case serf.UserEvent:
		return EventUser, ev.Name
	case *serf.Query:
		return EventQuery, ev.Name
	default:
		return e.EventType().String(), ""
	}
}

// sanitizeTagName turns a tag name into the SERF_TAG_ suffix.
var sanitizeTagName = regexp.MustCompile(`[^A-Z0-9_]`)

// eventEnv returns the SERF_* variables for an event.
func eventEnv(self serf.Member, e serf.Event) []string {
	env := []string{
		"SERF_EVENT=" + eventTypeOf(e),
		"SERF_SELF_NAME=" + self.Name,
		"SERF_SELF_ROLE=" + self.Tags["role"],
	}
	for k, v := range self.Tags {
		env = append(env, "SERF_TAG_"+sanitizeTagName.ReplaceAllString(strings.ToUpper(k), "_")+"="+v)
	}
	switch ev := e.(type) {
	case serf.UserEvent:
		env = append(env, "SERF_USER_EVENT="+ev.Name, fmt.Sprintf("SERF_USER_LTIME=%d", ev.LTime))
	case *serf.Query:
		env = append(env, "SERF_QUERY_NAME="+ev.Name, fmt.Sprintf("SERF_QUERY_LTIME=%d", ev.LTime))
	}
	return env
}

func eventTypeOf(e serf.Event) string {
	t, _ := eventTypeAndName(e)
	return t
}

// eventStdin returns what the script reads: member lines, or the payload
// with a newline added if it lacks one.
func eventStdin(e serf.Event) []byte {
	switch ev := e.(type) {
	case serf.MemberEvent:
		var buf bytes.Buffer
		for _, m := range ev.Members {
			buf.WriteString(memberLine(m))
		}
		return buf.Bytes()
	case serf.UserEvent:
		return payloadWithNewline(ev.Payload)
	case *serf.Query:
		return payloadWithNewline(ev.Payload)
	}
	return nil
}

func payloadWithNewline(p []byte) []byte {
	if len(p) == 0 || p[len(p)-1] == '\n' {
		return p
	}
	out := make([]byte, len(p)+1)
	copy(out, p)
	out[len(p)] = '\n'
	return out
}

// eventClean escapes tabs and newlines in member-line fields.
var eventClean = strings.NewReplacer("\t", `\t`, "\n", `\n`)

// memberLine formats a member for a handler: name, IP, role, tags.
func memberLine(m serf.Member) string {
	pairs := make([]string, 0, len(m.Tags))
	for k, v := range m.Tags {
		pairs = append(pairs, k+"="+v)
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\n",
		eventClean.Replace(m.Name), m.Addr.String(),
		eventClean.Replace(m.Tags["role"]), eventClean.Replace(strings.Join(pairs, ",")))
}

// invokeEventScript runs one script for one event and, for a query,
// responds with its output.
func invokeEventScript(logger *log.Logger, script string, self serf.Member, e serf.Event) error {
	defer metrics.MeasureSince([]string{"agent", "invoke", script}, time.Now())

	out := newTailBuffer(maxHandlerOutput)
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = append(os.Environ(), eventEnv(self, e)...)
	cmd.Stdout = out
	cmd.Stderr = out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}

	payload := eventStdin(e)
	go func() {
		_, werr := stdin.Write(payload)
		stdin.Close()
		if werr != nil && len(payload) > 0 && e.EventType() != serf.EventMemberJoin &&
			e.EventType() != serf.EventMemberLeave && e.EventType() != serf.EventMemberFailed &&
			e.EventType() != serf.EventMemberUpdate && e.EventType() != serf.EventMemberReap {
			logger.Printf("[ERR] Error writing payload: %s", werr)
		}
	}()

	slow := time.AfterFunc(slowScriptWarning, func() {
		logger.Printf("[WARN] agent: Script '%s' slow, execution exceeding %v", script, slowScriptWarning)
	})
	err = cmd.Wait()
	slow.Stop()

	output := out.Bytes()
	logger.Printf("[DEBUG] agent: Event '%s' script output: %s", eventTypeOf(e), output)
	if err != nil {
		return err
	}
	if q, ok := e.(*serf.Query); ok && len(output) > 0 {
		if err := q.Respond(output); err != nil {
			logger.Printf("[WARN] agent: Failed to respond to query '%s': %s", q.String(), err)
		}
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it. Handlers' stdout and
// stderr share one, so their output interleaves as written.
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
