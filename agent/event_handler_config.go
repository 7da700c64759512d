package agent

import (
	"log"
	"time"

	"github.com/serfclone/serf/serf"
)

// HandlerShutdownTimeout bounds the handler runner's Shutdown when the
// agent stops: SIGTERM to every script's process group, SIGKILL to what
// is left shortly before this passes. It keeps the agent's exit within
// broadcast_timeout + 2s whatever the scripts do.
const HandlerShutdownTimeout = 1500 * time.Millisecond

// HandlerConfig returns the runner configuration for this agent
// configuration: its queue limit and timeout, and a kept output size of
// 8 KiB or query_response_size_limit, whichever is larger, so a script's
// output can fill the largest response the agent may send.
func (c *Config) HandlerConfig(self func() serf.Member, scripts []EventScript, logger *log.Logger) HandlerConfig {
	conf := DefaultHandlerConfig()
	conf.Self = self
	conf.Scripts = scripts
	conf.Logger = logger
	if c.HandlerQueueLimit > 0 {
		conf.QueueLimit = c.HandlerQueueLimit
	}
	conf.Timeout = c.HandlerTimeout
	if c.QueryResponseSizeLimit > conf.ResponseLimit {
		conf.ResponseLimit = c.QueryResponseSizeLimit
	}
	return conf
}
