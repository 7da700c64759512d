package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/go-metrics"
	"github.com/hashicorp/logutils"
	"github.com/hashicorp/memberlist"

	"github.com/serfclone/serf/agent"
	"github.com/serfclone/serf/serf"
)

// gracefulTimeout bounds a graceful leave on a signal; past it the agent
// exits with status 1.
const gracefulTimeout = 3 * time.Second

// AgentCommand is `serf agent`: it runs the daemon until a signal.
type AgentCommand struct {
	Ui         cli.Ui
	ShutdownCh <-chan struct{}

	args       []string
	notifier   *agent.Notifier
	readyOnce  sync.Once
	ready      atomic.Bool // set with READY=1; the HTTP health check reads it
	retryLock  sync.Mutex
	retryAddrs []string
	// retryRunning is true while a retry-join loop runs.
	retryRunning bool
	// logFilters are the level filters of the console and of syslog,
	// which a reload retunes.
	logFilters []*reloadableLevelFilter
	scripts    *agent.ScriptEventHandler
	agent      *agent.Agent
	retryStop  chan struct{}
	retryWG    sync.WaitGroup
	retryFatal chan struct{}
}

// Synopsis implements cli.Command.
func (c *AgentCommand) Synopsis() string { return "Run a Serf agent (a cluster member)" }

// Help implements cli.Command.
func (c *AgentCommand) Help() string { return agent.HelpText }

// Run implements cli.Command.
func (c *AgentCommand) Run(args []string) int {
	c.args = args
	ui := &cli.PrefixedUi{OutputPrefix: "==> ", InfoPrefix: "    ", ErrorPrefix: "==> ", Ui: c.Ui}

	conf, warnings, err := agent.BuildConfig(args, os.Stderr)
	if err != nil {
		var ferr *agent.FlagError
		if errors.As(err, &ferr) {
			if errors.Is(err, flag.ErrHelp) {
				c.Ui.Error(c.Help())
				return 0
			}
			c.Ui.Output("==> " + c.Help())
			return 1
		}
		ui.Error(err.Error())
		return 1
	}
	for _, w := range warnings {
		ui.Error(w)
	}

	// Logs go to the console after the banner (buffered until then), to
	// the monitor ring, and optionally to syslog.
	var console io.Writer = &cli.UiWriter{Ui: ui}
	if conf.LogJSON { // JSON is the last step; filters and the monitor ring see text
		console = agent.NewJSONLogWriter(console)
	}
	gate := &agent.GatedWriter{Writer: console}
	logWriter := agent.NewLogWriter(512)
	level, err := agent.ValidateLogLevel(conf.LogLevel)
	if err != nil {
		ui.Error(err.Error())
		return 1
	}
	c.logFilters = []*reloadableLevelFilter{newReloadableLevelFilter(level, gate)}
	if conf.EnableSyslog {
		// The syslog writer's own filter cannot change; it passes
		// everything to one that a reload can.
		sw, err := agent.NewSyslogWriter(conf.SyslogFacility, "TRACE")
		if err != nil {
			ui.Error(fmt.Sprintf("Syslog setup failed: %v", err))
			return 1
		}
		var syslogOut io.Writer = sw
		if conf.LogJSON {
			syslogOut = agent.NewJSONSyslogWriter(sw)
		}
		c.logFilters = append(c.logFilters, newReloadableLevelFilter(level, syslogOut))
	}
	outputs := []io.Writer{logWriter}
	for _, f := range c.logFilters {
		outputs = append(outputs, f)
	}
	logOutput := io.MultiWriter(outputs...)

	prom, metricsHandler, err := setupTelemetry(conf, log.New(logOutput, "", log.LstdFlags))
	if err != nil {
		ui.Error(err.Error())
		return 1
	}
	if prom != nil {
		defer prom.Shutdown()
	}

	settings, notices, err := conf.StartupSettings()
	for _, n := range notices {
		ui.Output(n)
	}
	if err != nil {
		ui.Error(err.Error())
		return 1
	}

	ui.Output("Starting Serf agent...")
	serfConf, err := buildSerfConfig(conf, settings, logOutput)
	if err != nil {
		ui.Error(fmt.Sprintf("Failed to setup the Serf agent: %v", err))
		return 1
	}
	a, err := agent.Create(conf, serfConf, logOutput)
	if err != nil {
		ui.Error(fmt.Sprintf("Failed to setup the Serf agent: %v", err))
		return 1
	}
	if err := a.Start(); err != nil {
		ui.Error(fmt.Sprintf("Failed to start the Serf agent: %v", err))
		return 1
	}
	c.agent = a
	defer a.Shutdown()
	a.StartClusterGauges()

	scripts, _ := agent.ParseEventHandlers(conf.EventHandlers)
	c.scripts = agent.NewScriptEventHandler(a.Serf().LocalMember, scripts, a.Logger())
	a.RegisterEventHandler(c.scripts)
	defer c.scripts.Stop()

	if conf.Discover != "" {
		iface, _ := conf.MDNSNetworkInterface()
		if iface != nil {
			a.Logger().Printf("[INFO] agent: Starting mDNS listener on interface %s", iface.Name)
		}
		local := a.Serf().Memberlist().LocalNode()
		m, err := agent.NewAgentMDNS(a, logOutput, conf.ReplayOnJoin, conf.NodeName, conf.Discover,
			iface, local.Addr, int(local.Port), conf.MDNS.DisableIPv4, conf.MDNS.DisableIPv6)
		if err != nil {
			ui.Error(fmt.Sprintf("Error starting mDNS listener: %s", err))
			return 1
		}
		defer m.Shutdown()
	}

	ui.Output("Starting Serf agent RPC...")
	ln, err := net.Listen("tcp", conf.RPCAddr)
	if err != nil {
		ui.Error(fmt.Sprintf("Error starting RPC listener: %s", err))
		return 1
	}
	ipc := agent.NewAgentIPC(a, conf.RPCAuthKey, ln, logOutput, logWriter)
	defer ipc.Shutdown()
	if conf.HTTPAddr != "" {
		hs, err := agent.StartHTTPServer(a, conf.HTTPAddr, agent.HTTPConfig{AuthToken: conf.RPCAuthKey,
			LogWriter: logWriter, MetricsHandler: metricsHandler, Ready: c.ready.Load})
		if err != nil {
			ui.Error(fmt.Sprintf("Error starting HTTP listener: %s", err))
			return 1
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), gracefulTimeout)
			defer cancel()
			_ = hs.Shutdown(ctx)
		}()
	}

	ui.Output("Serf agent running!")
	c.printBanner(ui, conf, settings)

	if len(conf.StartJoin) > 0 {
		ui.Output(fmt.Sprintf("Joining cluster...(replay: %v)", conf.ReplayOnJoin))
		n, err := a.Join(conf.StartJoin, conf.ReplayOnJoin)
		if err != nil {
			ui.Error(err.Error())
			return 1
		}
		ui.Info(fmt.Sprintf("Join completed. Synced with %d initial agents", n))
	}

	ui.Output("")
	ui.Output("Log data will now stream in as it occurs:\n")
	gate.Flush()

	// systemd (Type=notify) hears READY=1 once the agent has joined, or
	// at once when it has nothing to join.
	c.notifier = agent.NewNotifier()
	c.retryStop = make(chan struct{})
	c.retryFatal = make(chan struct{})
	c.setRetryJoin(conf.RetryJoin)
	if len(conf.RetryJoin) > 0 {
		c.startRetryJoin(conf)
	} else {
		c.notifyReady()
	}
	defer func() {
		close(c.retryStop)
		c.retryWG.Wait()
	}()
	if interval, err := agent.WatchdogInterval(); err != nil {
		a.Logger().Printf("[WARN] agent: %v", err)
	} else if interval > 0 {
		go c.notifier.RunWatchdog(interval, a.ShutdownCh())
	}

	return c.handleSignals(ui, conf)
}

// printBanner prints the startup summary with the colons in column 32.
func (c *AgentCommand) printBanner(ui cli.Ui, conf *agent.Config, s *agent.StartupSettings) {
	line := func(label, value string) {
		ui.Info(fmt.Sprintf("%s%s: %s", strings.Repeat(" ", 27-len(label)), label, value))
	}
	line("Node name", fmt.Sprintf("'%s'", conf.NodeName))
	line("Bind addr", fmt.Sprintf("'%s'", s.BindAddr))
	if s.AdvertiseIP != "" {
		ui.Info(fmt.Sprintf("Advertise addr: '%s'", net.JoinHostPort(s.AdvertiseIP, fmt.Sprint(s.AdvertisePort))))
	}
	line("RPC addr", fmt.Sprintf("'%s'", conf.RPCAddr))
	line("Encrypted", fmt.Sprintf("%#v", c.agent.Serf().EncryptionEnabled()))
	line("Snapshot", fmt.Sprintf("%v", conf.SnapshotPath != ""))
	line("Profile", s.Profile)
	line("Message Compression Enabled", fmt.Sprintf("%v", conf.EnableCompression))
	if conf.Discover != "" {
		line("mDNS cluster", conf.Discover)
	}
}

// notifyReady tells systemd the agent is up, once.
func (c *AgentCommand) notifyReady() {
	c.readyOnce.Do(func() {
		c.ready.Store(true)
		if err := c.notifier.Notify("READY=1"); err != nil {
			c.agent.Logger().Printf("[WARN] agent: failed to notify systemd: %v", err)
		}
	})
}

// setRetryJoin records the addresses retry join uses; a reload may change
// them while it runs.
func (c *AgentCommand) setRetryJoin(addrs []string) {
	c.retryLock.Lock()
	defer c.retryLock.Unlock()
	c.retryAddrs = append([]string(nil), addrs...)
}

func (c *AgentCommand) retryJoinAddrs() []string {
	c.retryLock.Lock()
	defer c.retryLock.Unlock()
	return append([]string(nil), c.retryAddrs...)
}

// startRetryJoin starts the retry loop unless it already runs.
func (c *AgentCommand) startRetryJoin(conf *agent.Config) {
	c.retryLock.Lock()
	defer c.retryLock.Unlock()
	if c.retryRunning {
		return
	}
	c.retryRunning = true
	c.retryWG.Add(1)
	go c.retryJoin(conf)
}

// retryJoin joins in the background until it succeeds or runs out of
// attempts, in which case the agent exits with status 1. Addresses are
// taken afresh on each attempt, so host names are resolved again and a
// reload's new list is used.
func (c *AgentCommand) retryJoin(conf *agent.Config) {
	defer c.retryWG.Done()
	defer func() {
		c.retryLock.Lock()
		c.retryRunning = false
		c.retryLock.Unlock()
	}()
	logger := c.agent.Logger()
	attempt := 0
	for {
		logger.Printf("[INFO] agent: Joining cluster...(replay: %v)", conf.ReplayOnJoin)
		n, err := c.agent.Join(c.retryJoinAddrs(), conf.ReplayOnJoin)
		if err == nil {
			logger.Printf("[INFO] agent: Join completed. Synced with %d initial agents", n)
			c.notifyReady()
			return
		}
		attempt++
		if conf.RetryMaxAttempts > 0 && attempt > conf.RetryMaxAttempts {
			logger.Printf("[ERR] agent: maximum retry join attempts made, exiting")
			close(c.retryFatal)
			return
		}
		logger.Printf("[WARN] agent: Join failed: %v, retrying in %v", err, conf.RetryInterval)
		select {
		case <-time.After(conf.RetryInterval):
		case <-c.retryStop:
			return
		}
	}
}

// handleSignals waits for a signal or a shutdown and returns the exit code.
func (c *AgentCommand) handleSignals(ui cli.Ui, conf *agent.Config) int {
	signalCh := make(chan os.Signal, 4)
	signal.Notify(signalCh, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(signalCh)

	for {
		var sig os.Signal
		select {
		case s := <-signalCh:
			sig = s
		case <-c.ShutdownCh:
			sig = os.Interrupt
		case <-c.agent.ShutdownCh():
			// Serf stopped by itself (a lost name conflict) or an RPC leave.
			return 0
		case <-c.retryFatal:
			return 1
		}

		ui.Output(fmt.Sprintf("Caught signal: %v", sig))
		if sig == syscall.SIGHUP {
			conf = c.handleReload(ui, conf)
			continue
		}

		graceful := (sig == os.Interrupt && !conf.SkipLeaveOnInt) || (sig == syscall.SIGTERM && conf.LeaveOnTerm)
		if !graceful {
			return 1
		}

		ui.Output("Gracefully shutting down agent...")
		_ = c.notifier.Notify("STOPPING=1")
		done := make(chan error, 1)
		go func() { done <- c.agent.Leave() }()
		select {
		case <-signalCh:
			return 1
		case <-time.After(gracefulTimeout):
			return 1
		case err := <-done:
			if err != nil {
				ui.Error(fmt.Sprintf("Error: %s", err))
				select {
				case <-time.After(gracefulTimeout):
				case <-signalCh:
				}
				return 1
			}
			return 0
		}
	}
}

// handleReload re-reads the configuration and applies what Serf applies
// on SIGHUP: log level, event handlers and tags.
func (c *AgentCommand) handleReload(ui cli.Ui, old *agent.Config) *agent.Config {
	ui.Output("Reloading configuration...")
	conf, warnings, err := agent.BuildConfig(c.args, os.Stderr)
	if err != nil {
		ui.Error(err.Error())
		ui.Error("Failed to reload configs")
		return old
	}
	for _, w := range warnings {
		ui.Error(w)
	}

	if level, err := agent.ValidateLogLevel(conf.LogLevel); err != nil {
		ui.Error(err.Error())
		conf.LogLevel = old.LogLevel
	} else {
		for _, f := range c.logFilters {
			f.SetMinLevel(level)
		}
	}

	scripts, err := agent.ParseEventHandlers(conf.EventHandlers)
	if err != nil {
		ui.Error(err.Error())
		ui.Error("Failed to reload configs")
		return old
	}
	c.scripts.UpdateScripts(scripts)

	// Beyond Serf: a changed retry_join list takes effect, and a retry
	// loop starts if one is now configured and none runs.
	c.setRetryJoin(conf.RetryJoin)
	if len(conf.RetryJoin) > 0 && c.agent.Serf().NumMembers() <= 1 {
		c.startRetryJoin(conf)
	}

	// Serf 0.10 replaces the tags with the configured ones here, which
	// wipes a tags file. With a tags file we keep the runtime tags: the
	// file is their source of truth.
	if conf.TagsFile == "" {
		if err := c.agent.SetTags(conf.Tags); err != nil {
			ui.Error(fmt.Sprintf("Failed to update tags: %v", err))
		}
	}
	return conf
}

// buildSerfConfig turns the agent configuration into the library's.
func buildSerfConfig(conf *agent.Config, s *agent.StartupSettings, logOutput io.Writer) (*serf.Config, error) {
	tags, restored, err := conf.InitialTags()
	if err != nil {
		return nil, err
	}
	keys, err := conf.InitialKeyring()
	if err != nil {
		return nil, err
	}

	sc := serf.DefaultConfig()
	switch s.Profile {
	case "wan":
		sc.MemberlistConfig = memberlist.DefaultWANConfig()
	case "local":
		sc.MemberlistConfig = memberlist.DefaultLocalConfig()
	default:
		sc.MemberlistConfig = memberlist.DefaultLANConfig()
	}
	ml := sc.MemberlistConfig
	ml.BindAddr = s.BindIP
	ml.BindPort = s.BindPort
	if s.AdvertiseIP != "" {
		ml.AdvertiseAddr = s.AdvertiseIP
		ml.AdvertisePort = s.AdvertisePort
	}
	ml.EnableCompression = conf.EnableCompression
	ml.LogOutput = logOutput
	switch {
	case conf.KeyringFile != "":
		kr, err := memberlist.NewKeyring(keys, keys[0])
		if err != nil {
			return nil, fmt.Errorf("Failed to restore keyring: %s", err)
		}
		ml.Keyring = kr
	case len(keys) > 0:
		// memberlist builds the keyring from the key; a key of the wrong
		// size fails there, as Serf reports it: "Failed to start the Serf
		// agent: Error creating Serf: Failed to create memberlist: key
		// size must be 16, 24 or 32 bytes".
		ml.SecretKey = keys[0]
	}

	sc.NodeName = conf.NodeName
	sc.Tags = tags
	if conf.Protocol < 0 || conf.Protocol > 255 {
		return nil, fmt.Errorf("Protocol version '%d' out of range", conf.Protocol)
	}
	sc.ProtocolVersion = uint8(conf.Protocol)
	sc.SnapshotPath = conf.SnapshotPath
	sc.RejoinAfterLeave = conf.RejoinAfterLeave
	sc.KeyringFile = conf.KeyringFile
	sc.EnableNameConflictResolution = !conf.DisableNameResolution
	if conf.DisablePush {
		sc.PushFanout = 0
	}
	sc.CoalescePeriod = 3 * time.Second
	sc.QuiescentPeriod = time.Second
	sc.UserCoalescePeriod = 3 * time.Second
	sc.UserQuiescentPeriod = time.Second
	if conf.ReconnectInterval != 0 {
		sc.ReconnectInterval = conf.ReconnectInterval
	}
	if conf.ReconnectTimeout != 0 {
		sc.ReconnectTimeout = conf.ReconnectTimeout
	}
	if conf.TombstoneTimeout != 0 {
		sc.TombstoneTimeout = conf.TombstoneTimeout
	}
	sc.BroadcastTimeout = conf.BroadcastTimeout
	sc.QueryResponseSizeLimit = conf.QueryResponseSizeLimit
	sc.QuerySizeLimit = conf.QuerySizeLimit
	sc.UserEventSizeLimit = conf.UserEventSizeLimit
	sc.LogOutput = logOutput
	logf := func(format string, args ...any) {
		fmt.Fprintf(logOutput, "%s "+format+"\n", append([]any{time.Now().Format("2006/01/02 15:04:05")}, args...)...)
	}
	if restored {
		logf("[INFO] agent: Restored %d tag(s) from %s", len(tags), conf.TagsFile)
	}
	if conf.KeyringFile != "" {
		logf("[INFO] agent: Restored keyring with %d keys from %s", len(keys), conf.KeyringFile)
	}
	return sc, nil
}

// setupTelemetry installs go-metrics with Serf's service name and an
// in-memory sink dumped on SIGUSR1, plus the configured external sinks and
// the Prometheus endpoint.
func setupTelemetry(conf *agent.Config, logger *log.Logger) (*agent.PrometheusServer, http.Handler, error) {
	inm := metrics.NewInmemSink(10*time.Second, time.Minute)
	metrics.DefaultInmemSignal(inm)
	mc := metrics.DefaultConfig("serf-agent")
	mc.EnableHostname = false

	sinks := metrics.FanoutSink{inm}
	if conf.StatsiteAddr != "" {
		sink, err := metrics.NewStatsiteSink(conf.StatsiteAddr)
		if err != nil {
			return nil, nil, fmt.Errorf("Failed to start statsite sink. Got: %s", err)
		}
		sinks = append(sinks, sink)
	}
	if conf.StatsdAddr != "" {
		sink, err := metrics.NewStatsdSink(conf.StatsdAddr)
		if err != nil {
			return nil, nil, fmt.Errorf("Failed to start statsd sink. Got: %s", err)
		}
		sinks = append(sinks, sink)
	}
	if len(sinks) > 1 {
		mc.EnableHostname = true
	}
	var prom *agent.PrometheusServer
	var metricsHandler http.Handler
	if conf.MetricsAddr != "" {
		var err error
		prom, err = agent.NewPrometheusServer(conf.MetricsAddr, logger)
		if err != nil {
			return nil, nil, fmt.Errorf("Failed to start Prometheus metrics: %s", err)
		}
		sinks = append(sinks, prom.Sink)
		metricsHandler = prom.Handler()
	} else if conf.HTTPAddr != "" {
		// The HTTP API serves /metrics even without -metrics-addr.
		sink, h, err := agent.NewPrometheusSink()
		if err != nil {
			return nil, nil, fmt.Errorf("Failed to start Prometheus metrics: %s", err)
		}
		sinks = append(sinks, sink)
		metricsHandler = h
	}
	if _, err := metrics.NewGlobal(mc, sinks); err != nil {
		if prom != nil {
			prom.Shutdown()
		}
		return nil, nil, fmt.Errorf("Failed to start metrics: %s", err)
	}
	return prom, metricsHandler, nil
}

// reloadableLevelFilter is a log level filter whose level a reload may
// change while other goroutines log. logutils.LevelFilter alone is not
// safe for that: SetMinLevel rebuilds the map that every Write reads.
type reloadableLevelFilter struct {
	mu     sync.RWMutex
	filter *logutils.LevelFilter
}

func newReloadableLevelFilter(level string, w io.Writer) *reloadableLevelFilter {
	return &reloadableLevelFilter{filter: agent.NewLevelFilter(level, w)}
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
