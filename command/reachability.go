package command

import (
	"fmt"
	"strings"
	"time"

	"github.com/serfclone/serf/client"
)

// ReachabilityCommand checks that every live member answers a ping query,
// which tells whether gossip reaches the whole cluster.
type ReachabilityCommand struct {
	Meta
}

// pingQuery is the internal query every agent acknowledges. The agent
// accepts this reserved name only with a nil payload.
const pingQuery = "_serf_ping"

const (
	tooManyAcks     = "This could mean Serf is detecting false-failures due to a misconfiguration or network issue."
	tooFewAcks      = "This could mean Serf gossip packets are being lost due to a misconfiguration or network issue."
	duplicates      = "Duplicate responses means there is a misconfiguration. Verify that node names are unique."
	troubleshooting = `
Troubleshooting tips:
* Ensure that the bind addr:port is accessible by all other nodes
* If an advertise address is set, ensure it routes to the bind address
* Check that no nodes are behind a NAT
* If nodes are behind firewalls or iptables, check that Serf traffic is permitted (UDP and TCP)
* Verify networking equipment is functional`
)

func (c *ReachabilityCommand) Synopsis() string {
	return "Check which members can be reached from here"
}

func (c *ReachabilityCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf reachability [options]

  Sends a special query that every agent acknowledges, and compares the
  acknowledgements with the members the agent believes alive. It then names
  the members that are missing (or unexpected) and lists what usually causes
  that: blocked ports, wrong advertise addresses, NAT, firewalls.

Options:

  -rpc-addr=127.0.0.1:7373  Where the agent listens for RPC, as host:port. When
                            the flag is absent, SERF_RPC_ADDR is used if set.
  -rpc-auth=""              Token for an agent configured with rpc_auth. When
                            the flag is absent, SERF_RPC_AUTH is used if set.
  -verbose                  Also print each acknowledgement as it arrives, and
                            how long the query took.
`)
}

func (c *ReachabilityCommand) Run(args []string) int {
	fs := c.newFlagSet("reachability", c.Help)
	verbose := fs.Bool("verbose", false, "print each ack and the timings")
	rpc := addRPCFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 1
	}

	cl := c.connect(rpc)
	if cl == nil {
		return 1
	}
	defer cl.Close()

	members, err := cl.Members()
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error getting members: %s", err))
		return 1
	}
	live := make(map[string]bool)
	liveCount := 0
	for _, m := range members {
		if m.Status == "alive" {
			live[m.Name] = true
			liveCount++
		}
	}
	c.Ui.Output(fmt.Sprintf("Total members: %d, live members: %d", len(members), liveCount))

	acks := make(chan string)
	start := time.Now()
	// FilterTags stays nil here, unlike in `serf query`: that is what
	// Serf sends.
	err = cl.Query(&client.QueryParam{Name: pingQuery, RequestAck: true, AckCh: acks})
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error sending query: %s", err))
		return 1
	}
	c.Ui.Output("Starting reachability test...")

	acked := make(map[string]bool)
	var ackOrder []string
	var lastAck time.Time
	sawDuplicate := false
	for acks != nil {
		select {
		case from, ok := <-acks:
			if !ok {
				acks = nil
				continue
			}
			lastAck = time.Now()
			if acked[from] {
				c.Ui.Output(fmt.Sprintf("Duplicate response from '%s'", from))
				sawDuplicate = true
				continue
			}
			acked[from] = true
			ackOrder = append(ackOrder, from)
			if *verbose {
				c.Ui.Output(fmt.Sprintf("\tAck from '%s'", from))
			}
		case <-c.ShutdownCh:
			c.Ui.Error("Test interrupted")
			return 1
		}
	}

	if *verbose {
		toLast := time.Duration(0)
		if !lastAck.IsZero() {
			toLast = lastAck.Sub(start)
		}
		c.Ui.Output(fmt.Sprintf("Query time: %0.2f sec, time to last response: %0.2f sec",
			time.Since(start).Seconds(), toLast.Seconds()))
	}
	if sawDuplicate {
		c.Ui.Output(duplicates)
	}

	switch {
	case len(acked) > liveCount:
		c.Ui.Output("Received more acks than live nodes! Acks from non-live nodes:")
		for _, from := range ackOrder {
			if !live[from] {
				c.Ui.Output("\t" + from)
			}
		}
		c.Ui.Output(tooManyAcks)
		c.Ui.Output(troubleshooting)
		return 1
	case len(acked) < liveCount:
		c.Ui.Output("Received less acks than live nodes! Missing acks from:")
		for _, m := range members {
			if live[m.Name] && !acked[m.Name] {
				c.Ui.Output("\t" + m.Name)
			}
		}
		c.Ui.Output(tooFewAcks)
		c.Ui.Output(troubleshooting)
		return 1
	}
	c.Ui.Output("Successfully contacted all live nodes")
	if sawDuplicate {
		return 1
	}
	return 0
}
