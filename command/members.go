package command

import (
	"fmt"
	"strings"

	"github.com/serfclone/serf/client"
)

// MembersCommand lists the members the agent knows.
type MembersCommand struct {
	Meta
}

// memberJSON is one member in -format=json output; the field order is
// the output's key order.
type memberJSON struct {
	Name     string            `json:"name"`
	Addr     string            `json:"addr"`
	Port     uint16            `json:"port"`
	Tags     map[string]string `json:"tags"`
	Status   string            `json:"status"`
	Protocol protocolJSON      `json:"protocol"`
}

// protocolJSON is the Serf (delegate) protocol range of a member.
type protocolJSON struct {
	Max     uint8 `json:"max"`
	Min     uint8 `json:"min"`
	Version uint8 `json:"version"`
}

type membersJSON struct {
	Members []memberJSON `json:"members"`
}

func (c *MembersCommand) Synopsis() string { return "Lists the members of a Serf cluster" }

func (c *MembersCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf members [options]

  Outputs the members of a running Serf agent.

Options:

  -detailed                 Additional information such as protocol verions
                            will be shown (only affects text output format).

  -format                   If provided, output is returned in the specified
                            format. Valid formats are 'json', and 'text' (default)

  -name=<regexp>            If provided, only members matching the regexp are
                            returned. The regexp is anchored at the start and end,
                            and must be a full match.

  -role=<regexp>            If provided, output is filtered to only nodes matching
                            the regular expression for role
                            '-role' is deprecated in favor of '-tag role=foo'.
                            The regexp is anchored at the start and end, and must be
                            a full match.

  -status=<regexp>          If provided, output is filtered to only nodes matching
                            the regular expression for status

  -tag <key>=<regexp>       If provided, output is filtered to only nodes with the
                            tag <key> with value matching the regular expression.
                            tag can be specified multiple times to filter on
                            multiple keys. The regexp is anchored at the start and end,
                            and must be a full match.

  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.

  -rpc-auth=""              RPC auth token of the Serf agent.
`)
}

func (c *MembersCommand) Run(args []string) int {
	var tagArgs stringsFlag
	fs := c.newFlagSet("members", c.Help)
	detailed := fs.Bool("detailed", false, "show protocol versions")
	format := fs.String("format", "text", "output format: text or json")
	name := fs.String("name", "", "regexp on the node name")
	role := fs.String("role", "", "regexp on the role tag (deprecated)")
	status := fs.String("status", "", "regexp on the status")
	fs.Var(&tagArgs, "tag", "key=regexp on a tag (repeatable)")
	rpc := addRPCFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 1
	}

	tags, bad, ok := parseTags(tagArgs)
	if !ok {
		c.Ui.Error(invalidTag(bad))
		return 1
	}
	if *role != "" {
		c.Ui.Output("Deprecation warning: 'Role' has been replaced with 'Tags'")
		tags["role"] = *role
	}

	cl := c.connect(rpc)
	if cl == nil {
		return 1
	}
	defer cl.Close()

	members, err := cl.MembersFiltered(tags, *status, *name)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error retrieving members: %s", err))
		return 1
	}

	out, err := render(*format, membersAsJSON(members), func() string {
		return membersAsText(members, *detailed)
	})
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Encoding error: %s", err))
		return 1
	}
	c.Ui.Output(strings.TrimSpace(out))
	return 0
}

func membersAsText(members []client.Member, detailed bool) string {
	lines := make([]string, 0, len(members))
	for _, m := range members {
		line := fmt.Sprintf("%s|%s|%s|%s", m.Name, hostPort(m.Addr, m.Port), m.Status, joinTags(m.Tags))
		if detailed {
			line += fmt.Sprintf("|Protocol Version: %d|Available Protocol Range: [%d, %d]",
				m.DelegateCur, m.DelegateMin, m.DelegateMax)
		}
		lines = append(lines, line)
	}
	return columnize(lines)
}

func membersAsJSON(members []client.Member) membersJSON {
	var out membersJSON
	for _, m := range members {
		out.Members = append(out.Members, memberJSON{
			Name:     m.Name,
			Addr:     hostPort(m.Addr, m.Port),
			Port:     m.Port,
			Tags:     m.Tags,
			Status:   m.Status,
			Protocol: protocolJSON{Max: m.DelegateMax, Min: m.DelegateMin, Version: m.DelegateCur},
		})
	}
	return out
}
