package command

import "github.com/hashicorp/cli"

// Commands returns the factories of every serf subcommand, with output on
// ui and flag errors on os.Stderr. extra adds commands built elsewhere and
// wins over a built-in of the same name.
//
// The agent command is passed in extra by main, because it handles the
// process's signals itself.
func Commands(ui cli.Ui, shutdownCh <-chan struct{}, extra map[string]cli.CommandFactory) map[string]cli.CommandFactory {
	return CommandsWithMeta(Meta{Ui: ui, ShutdownCh: shutdownCh}, extra)
}

// CommandsWithMeta is Commands with every shared setting spelled out, for
// callers that also redirect flag errors (main's tests do).
func CommandsWithMeta(m Meta, extra map[string]cli.CommandFactory) map[string]cli.CommandFactory {
	commands := make(map[string]cli.CommandFactory)
	for name, build := range builtins() {
		commands[name] = func() (cli.Command, error) { return build(m), nil }
	}
	for name, factory := range extra {
		commands[name] = factory
	}
	return commands
}

// builtins are the constructors of the subcommands in the shared table,
// by name.
func builtins() map[string]func(Meta) cli.Command {
	return map[string]func(Meta) cli.Command{
		"event":        func(m Meta) cli.Command { return &EventCommand{Meta: m} },
		"force-leave":  func(m Meta) cli.Command { return &ForceLeaveCommand{Meta: m} },
		"info":         func(m Meta) cli.Command { return &InfoCommand{Meta: m} },
		"join":         func(m Meta) cli.Command { return &JoinCommand{Meta: m} },
		"keygen":       func(m Meta) cli.Command { return &KeygenCommand{Meta: m} },
		"keys":         func(m Meta) cli.Command { return &KeysCommand{Meta: m} },
		"leave":        func(m Meta) cli.Command { return &LeaveCommand{Meta: m} },
		"members":      func(m Meta) cli.Command { return &MembersCommand{Meta: m} },
		"monitor":      func(m Meta) cli.Command { return &MonitorCommand{Meta: m} },
		"query":        func(m Meta) cli.Command { return &QueryCommand{Meta: m} },
		"reachability": func(m Meta) cli.Command { return &ReachabilityCommand{Meta: m} },
		"rtt":          func(m Meta) cli.Command { return &RTTCommand{Meta: m} },
		"tags":         func(m Meta) cli.Command { return &TagsCommand{Meta: m} },
		"version":      func(m Meta) cli.Command { return &VersionCommand{Meta: m} },
	}
}
