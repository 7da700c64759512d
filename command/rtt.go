package command

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/serfclone/serf/client"
)

// RTTCommand estimates the round trip time between two nodes from their
// network coordinates.
type RTTCommand struct {
	Meta
}

func (c *RTTCommand) Synopsis() string { return "Estimate the network round trip between two members" }

func (c *RTTCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf rtt [options] node1 [node2]

  Prints how long a message from one member to another and back is expected
  to take, computed from the network coordinates the agent keeps for both;
  no packet is sent to measure it.

  With one name, the second member is the agent the command talks to. Names
  are member names as "serf members" shows them, not addresses.

Options:

  -rpc-addr=127.0.0.1:7373  Where the agent listens for RPC, as host:port. When
                            the flag is absent, SERF_RPC_ADDR is used if set.
  -rpc-auth=""              Token for an agent configured with rpc_auth. When
                            the flag is absent, SERF_RPC_AUTH is used if set.
`)
}

func (c *RTTCommand) Run(args []string) int {
	fs := c.newFlagSet("rtt", c.Help)
	rpc := addRPCFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 1
	}

	// Serf connects before it looks at the node names, so a connection
	// error wins over a usage error.
	cl := c.connect(rpc)
	if cl == nil {
		return 1
	}
	defer cl.Close()

	nodes := fs.Args()
	if len(nodes) == 0 || len(nodes) > 2 {
		return c.usageError("One or two node names must be specified", c.Help())
	}
	if len(nodes) == 1 {
		stats, err := cl.Stats()
		if err != nil {
			c.Ui.Error(fmt.Sprintf("Error querying agent: %s", err))
			return 1
		}
		nodes = append(nodes, stats["agent"]["name"])
	}

	coords := make([]*client.Coordinate, 2)
	for i, node := range nodes {
		coord, err := cl.GetCoordinate(node)
		if err != nil {
			c.Ui.Error(fmt.Sprintf("Error getting coordinates: %s", err))
			return 1
		}
		if coord == nil {
			c.Ui.Error(fmt.Sprintf("Could not find a coordinate for node %q", node))
			return 1
		}
		coords[i] = coord
	}

	rtt, err := estimateRTT(coords[0], coords[1])
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error computing the round trip time: %s", err))
		return 1
	}
	ms := float64(rtt.Nanoseconds()) / float64(time.Millisecond)
	c.Ui.Output(fmt.Sprintf("Estimated %s <-> %s rtt: %.3f ms", nodes[0], nodes[1], ms))
	return 0
}

// estimateRTT is the Vivaldi distance between two coordinates: the
// Euclidean distance of the vectors plus both heights, plus both
// adjustments unless that would make it non-positive. The result is
// truncated to whole nanoseconds, as Serf does before printing.
func estimateRTT(a, b *client.Coordinate) (time.Duration, error) {
	if len(a.Vec) != len(b.Vec) {
		return 0, errors.New("coordinates have different dimensions")
	}
	var sum float64
	for i := range a.Vec {
		d := a.Vec[i] - b.Vec[i]
		sum += d * d
	}
	dist := math.Sqrt(sum) + a.Height + b.Height
	if adjusted := dist + a.Adjustment + b.Adjustment; adjusted > 0 {
		dist = adjusted
	}
	return time.Duration(dist * float64(time.Second)), nil
}
