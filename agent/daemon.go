package agent

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/cli"
)

// ReloadFunc builds the configuration anew for a reload (SIGHUP): the
// command line and files read again. warnings are printed like those of
// the first start.
type ReloadFunc func() (conf *Config, warnings []string, err error)

// Daemon is `serf agent`: the agent, its event handlers, mDNS, the RPC
// server, retry join, telemetry and systemd notifications, wired together
// and run until a signal or a leave. It owns every goroutine it starts;
// Run returns only after they have stopped, or after the shutdown deadline
// (see docs/agent-design.md).
type Daemon struct {
	conf   *Config
	ui     cli.Ui
	reload ReloadFunc

	// Logs go to the console after the banner (gate buffers them until
	// then), to the monitor ring (logWriter), and optionally to syslog.
	gate       *GatedWriter
	logWriter  *LogWriter
	logFilters []*reloadableLevelFilter
	logOutput  io.Writer
	logger     *log.Logger

	telemetry *telemetry
	agent     *Agent
	scripts   *ScriptEventHandler
	mdns      *AgentMDNS
	ipc       *AgentIPC
	http      *HTTPServer
	retry     *retryJoiner

	notifier  *Notifier
	readyOnce sync.Once
	// ready is set with READY=1; the HTTP health check reads it.
	ready atomic.Bool

	// stopBackground ends the systemd watchdog pinger and the start-up page
	// release (memory.go), both counted in wg.
	stopBackground chan struct{}
	wg             sync.WaitGroup
	// stragglers counts goroutines that run a step the shutdown stops
	// waiting for at its deadline: a leave, the handler runner's stop.
	stragglers sync.WaitGroup
}

// NewDaemon prepares a daemon for conf (as built by BuildConfig, its
// warnings already printed). ui gets Serf's console output: it should
// prefix output and errors with "==> " and info with four spaces. reload
// is called on SIGHUP.
func NewDaemon(conf *Config, ui cli.Ui, reload ReloadFunc) *Daemon {
	return &Daemon{
		conf:           conf,
		ui:             ui,
		reload:         reload,
		logger:         log.New(io.Discard, "", 0),
		notifier:       NewNotifier(),
		stopBackground: make(chan struct{}),
	}
}

// Run starts the agent and runs it until a signal, a leave by RPC, Serf
// stopping by itself, retry join giving up, or ctx being cancelled (which
// counts as an interrupt). It returns the exit code of `serf agent`.
func (d *Daemon) Run(ctx context.Context) int {
	if code, ok := d.start(); !ok {
		stopCtx, cancel := d.stopDeadline()
		defer cancel()
		d.shutdown(stopCtx)
		return code
	}
	code, stopCtx, cancel := d.waitForStop(ctx)
	defer cancel()
	d.shutdown(stopCtx)
	return code
}

// stopDeadline is the time the daemon gives itself to stop, from the
// moment it decides to: a leave waits up to broadcast_timeout for its
// broadcast, and two seconds cover the rest.
func (d *Daemon) stopDeadline() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d.conf.BroadcastTimeout+2*time.Second)
}

// start brings the daemon up in Serf's order, printing what Serf prints.
// ok is false on failure, with the exit code; what did start is stopped
// by Run.
func (d *Daemon) start() (code int, ok bool) {
	conf := d.conf
	if err := d.setupLogging(); err != nil {
		d.ui.Error(err.Error())
		return 1, false
	}

	if n := conf.GoMaxProcs(os.Getenv("GOMAXPROCS")); n > 0 {
		runtime.GOMAXPROCS(n)
	}
	d.logger.Printf("[DEBUG] agent: GOMAXPROCS is %d", runtime.GOMAXPROCS(0))
	tuneGC(os.Getenv("GOGC")) // memory.go

	t, err := setupTelemetry(conf, d.logger)
	if err != nil {
		d.ui.Error(err.Error())
		return 1, false
	}
	d.telemetry = t

	settings, notices, err := conf.StartupSettings()
	for _, n := range notices {
		d.ui.Output(n)
	}
	if err != nil {
		d.ui.Error(err.Error())
		return 1, false
	}

	d.ui.Output("Starting Serf agent...")
	serfConf, err := conf.SerfConfig(settings, d.logOutput)
	if err != nil {
		d.ui.Error(fmt.Sprintf("Failed to setup the Serf agent: %v", err))
		return 1, false
	}
	a, err := Create(conf, serfConf, d.logOutput)
	if err != nil {
		d.ui.Error(fmt.Sprintf("Failed to setup the Serf agent: %v", err))
		return 1, false
	}
	d.agent = a
	if err := a.Start(); err != nil {
		d.ui.Error(fmt.Sprintf("Failed to start the Serf agent: %v", err))
		return 1, false
	}
	a.StartClusterGauges()

	// BuildConfig has parsed the handler specs already.
	d.scripts = NewScriptEventHandler(conf.HandlerConfig(a.Serf().LocalMember, conf.Scripts, a.Logger()))
	a.RegisterEventHandler(d.scripts)

	if conf.Discover != "" {
		if err := d.startMDNS(); err != nil {
			d.ui.Error(fmt.Sprintf("Error starting mDNS listener: %s", err))
			return 1, false
		}
	}

	// Serf announces the RPC server only once its listener is up.
	ln, err := net.Listen("tcp", conf.RPCAddr)
	if err != nil {
		d.ui.Error(fmt.Sprintf("Error starting RPC listener: %s", err))
		return 1, false
	}
	d.ui.Output("Starting Serf agent RPC...")
	d.ipc = NewAgentIPC(a, conf.RPCAuthKey, ln, d.logOutput, d.logWriter)
	if conf.HTTPAddr != "" {
		hs, err := StartHTTPServer(a, conf.HTTPAddr, HTTPConfig{AuthToken: conf.RPCAuthKey,
			LogWriter: d.logWriter, MetricsHandler: d.telemetry.handler, Ready: d.ready.Load})
		if err != nil {
			d.ui.Error(fmt.Sprintf("Error starting HTTP listener: %s", err))
			return 1, false
		}
		d.http = hs
	}

	d.ui.Output("Serf agent running!")
	d.printBanner(settings)

	// The start join cannot be cancelled: until it returns, SIGINT has
	// its default effect and kills the process, as in Serf.
	if len(conf.StartJoin) > 0 {
		d.ui.Output(fmt.Sprintf("Joining cluster...(replay: %v)", conf.ReplayOnJoin))
		n, err := a.Join(conf.StartJoin, conf.ReplayOnJoin)
		if err != nil {
			d.ui.Error(err.Error())
			return 1, false
		}
		d.ui.Info(fmt.Sprintf("Join completed. Synced with %d initial agents", n))
	}

	d.ui.Output("")
	d.ui.Output("Log data will now stream in as it occurs:\n")
	d.gate.Flush()

	// systemd (Type=notify) hears READY=1 once the agent has joined, or
	// at once when it has nothing to join.
	d.retry = newRetryJoiner(a, d.notifyReady)
	d.retry.SetAddrs(conf.RetryJoin)
	if len(conf.RetryJoin) > 0 {
		d.retry.Start(conf)
	} else {
		d.notifyReady()
	}
	d.startWatchdog()
	d.startPageRelease()
	return 0, true
}

// setupLogging builds the log pipeline: console (gated until the banner
// is out) and syslog, each behind a level filter a reload can retune, and
// the monitor ring, which sees every level.
func (d *Daemon) setupLogging() error {
	level, err := ValidateLogLevel(d.conf.LogLevel)
	if err != nil {
		return err
	}
	var console io.Writer = &cli.UiWriter{Ui: d.ui}
	if d.conf.LogJSON {
		// JSON is the last step: the filters and the monitor ring see
		// the text lines. The objects go out without the four-space
		// indent of the text lines, so each line parses on its own.
		raw := d.ui
		if p, ok := raw.(*cli.PrefixedUi); ok {
			raw = p.Ui
		}
		console = NewJSONLogWriter(&cli.UiWriter{Ui: raw})
	}
	d.gate = &GatedWriter{Writer: console}
	d.logWriter = NewLogWriter(512)
	d.logFilters = []*reloadableLevelFilter{newReloadableLevelFilter(level, d.gate)}
	if d.conf.EnableSyslog {
		// The syslog writer's own filter cannot change; it passes
		// everything to one that a reload can.
		sw, err := NewSyslogWriter(d.conf.SyslogFacility, "TRACE")
		if err != nil {
			return fmt.Errorf("Syslog setup failed: %w", err)
		}
		var syslogOut io.Writer = sw
		if d.conf.LogJSON {
			syslogOut = NewJSONSyslogWriter(sw)
		}
		d.logFilters = append(d.logFilters, newReloadableLevelFilter(level, syslogOut))
	}
	outputs := []io.Writer{d.logWriter}
	for _, f := range d.logFilters {
		outputs = append(outputs, f)
	}
	d.logOutput = io.MultiWriter(outputs...)
	d.logger = log.New(d.logOutput, "", log.LstdFlags)
	return nil
}

// startMDNS starts the mDNS responder and poller on the configured
// interface, announcing the gossip address.
func (d *Daemon) startMDNS() error {
	conf := d.conf
	iface, _ := conf.MDNSNetworkInterface()
	if iface != nil {
		d.logger.Printf("[INFO] agent: Starting mDNS listener on interface %s", iface.Name)
	}
	local := d.agent.Serf().Memberlist().LocalNode()
	m, err := NewAgentMDNS(d.agent, d.logOutput, conf.ReplayOnJoin, conf.NodeName, conf.Discover,
		iface, local.Addr, int(local.Port), conf.MDNS.DisableIPv4, conf.MDNS.DisableIPv6)
	if err != nil {
		return err
	}
	d.mdns = m
	return nil
}

// printBanner prints the startup summary with the colons in column 32.
func (d *Daemon) printBanner(s *StartupSettings) {
	conf := d.conf
	line := func(label, value string) {
		d.ui.Info(fmt.Sprintf("%s%s: %s", strings.Repeat(" ", 27-len(label)), label, value))
	}
	line("Node name", fmt.Sprintf("'%s'", conf.NodeName))
	line("Bind addr", fmt.Sprintf("'%s'", s.BindAddr))
	if s.AdvertiseIP != "" {
		d.ui.Info(fmt.Sprintf("Advertise addr: '%s'", net.JoinHostPort(s.AdvertiseIP, fmt.Sprint(s.AdvertisePort))))
	}
	line("RPC addr", fmt.Sprintf("'%s'", conf.RPCAddr))
	line("Encrypted", fmt.Sprintf("%#v", d.agent.Serf().EncryptionEnabled()))
	line("Snapshot", fmt.Sprintf("%v", conf.SnapshotPath != ""))
	line("Profile", s.Profile)
	line("Message Compression Enabled", fmt.Sprintf("%v", conf.EnableCompression))
	if conf.Discover != "" {
		line("mDNS cluster", conf.Discover)
	}
}

// notifyReady tells systemd the agent is up, once.
func (d *Daemon) notifyReady() {
	d.readyOnce.Do(func() {
		d.ready.Store(true)
		if err := d.notifier.Notify("READY=1"); err != nil {
			d.logger.Printf("[WARN] agent: failed to notify systemd: %v", err)
		}
	})
}

// startWatchdog pings systemd's watchdog, if it asked for that, until
// the shutdown.
func (d *Daemon) startWatchdog() {
	interval, err := WatchdogInterval()
	if err != nil {
		d.logger.Printf("[WARN] agent: %v", err)
		return
	}
	if interval <= 0 {
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.notifier.RunWatchdog(interval, d.stopBackground)
	}()
}
