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

func (c *RTTCommand) Synopsis() string { return "Estimates network round trip time between nodes" }

func (c *RTTCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf rtt [options] node1 [node2]

  Estimates the round trip time between two nodes using Serf's network
  coordinate model of the cluster.

  At least one node name is required. If the second node name isn't given, it
  is set to the agent's node name. Note that these are node names as known to
  Serf as "serf members" would show, not IP addresses.

Options:

  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.

  -rpc-auth=""              RPC auth token of the Serf agent.
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
