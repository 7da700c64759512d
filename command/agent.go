package command

import (
	"context"
	"errors"
	"flag"
	"os"

	"github.com/hashicorp/cli"

	"github.com/serfclone/serf/agent"
)

// AgentCommand is `serf agent`: it parses the configuration and runs the
// daemon until a signal.
type AgentCommand struct {
	Ui cli.Ui
	// ShutdownCh, if not nil, stops the agent as an interrupt would.
	ShutdownCh <-chan struct{}
}

// Synopsis implements cli.Command.
func (c *AgentCommand) Synopsis() string { return "Run a Serf agent (a cluster member)" }

// Help implements cli.Command.
func (c *AgentCommand) Help() string { return agent.HelpText }

// Run implements cli.Command.
func (c *AgentCommand) Run(args []string) int {
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

	ctx, stop := c.stopContext()
	defer stop()
	reload := func() (*agent.Config, []string, error) { return agent.BuildConfig(args, os.Stderr) }
	return agent.NewDaemon(conf, ui, reload).Run(ctx)
}

// stopContext returns a context cancelled when ShutdownCh closes, and a
// function that releases the goroutine watching it.
func (c *AgentCommand) stopContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	if c.ShutdownCh == nil {
		return ctx, cancel
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-c.ShutdownCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		cancel()
		<-done
	}
}
