package command

import (
	"fmt"
	"strings"

	"github.com/serfclone/serf/client"
	"github.com/serfclone/serf/internal/flagvalues"
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

func (c *MembersCommand) Synopsis() string { return "List the members the agent knows" }

func (c *MembersCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf members [options]

  Prints one line per member the agent knows of, including members that left
  or failed and are not yet reaped: name, address, status and tags, in the
  agent's order (by name from this agent, random from a Serf 0.10 agent).
  The filters below combine: a member is listed when it matches all of them.

Options:

  -detailed                 Add the protocol versions of each member to the
                            text output (json output always has them).
  -format                   Output format, text (the default) or json. Give it
                            as -format=json.
  -name=<regexp>            Only members whose name matches the regular
                            expression. The expression must match the whole
                            name, not part of it.
  -role=<regexp>            Only members whose "role" tag matches; the same as
                            -tag role=<regexp>, kept for old scripts.
  -status=<regexp>          Only members whose status (alive, leaving, left,
                            failed) matches. The expression must match the
                            whole status.
  -tag <key>=<regexp>       Only members with tag <key> whose value matches the
                            expression, as a whole. Repeat the flag to filter
                            on several tags.
  -rpc-addr=127.0.0.1:7373  Where the agent listens for RPC, as host:port. When
                            the flag is absent, SERF_RPC_ADDR is used if set.
  -rpc-auth=""              Token for an agent configured with rpc_auth. When
                            the flag is absent, SERF_RPC_AUTH is used if set.
`)
}

func (c *MembersCommand) Run(args []string) int {
	var tagArgs flagvalues.StringList
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

	tags, err := flagvalues.ParseTags(tagArgs)
	if err != nil {
		c.Ui.Error("Error: " + err.Error())
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
