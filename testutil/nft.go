package testutil

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// This file changes packet loss on a namespace while a test runs: one
// table of its own (inet serftest) whose input chain drops a share of the
// packets, from every sender or from one. Setting new drops replaces the
// old ones in a single nft transaction, so a phase change never leaves a
// moment with both or neither.

// nftTable is the table these helpers own in each namespace.
const nftTable = "serftest"

// Drop is one rule of SetDrops: drop Percent% of the packets arriving
// from From (an IP literal), or from everyone when From is empty.
type Drop struct {
	From    string
	Percent int
}

// RequireNFT skips the test when the nft command is missing.
func RequireNFT(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skipf("packet loss needs nftables (apt-get install nftables, or run the make target that installs it): %v", err)
	}
}

// SetDrops replaces the namespace's drop rules with drops; none clears
// them. Loopback traffic is never dropped, so the agent's own RPC and
// the CLI are not affected.
func (h *NetHost) SetDrops(t testing.TB, drops ...Drop) {
	t.Helper()
	RequireNFT(t)
	var b strings.Builder
	// Creating the table first makes the delete valid when it is absent.
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\n", nftTable, nftTable)
	if len(drops) > 0 {
		fmt.Fprintf(&b, "table inet %s {\n\tchain input {\n\t\ttype filter hook input priority -10; policy accept;\n\t\tiifname \"lo\" accept\n", nftTable)
		for _, d := range drops {
			if d.Percent <= 0 {
				continue
			}
			match := ""
			if d.From != "" {
				match = "ip saddr " + d.From + " "
			}
			if d.Percent >= 100 {
				fmt.Fprintf(&b, "\t\t%scounter drop\n", match)
			} else {
				fmt.Fprintf(&b, "\t\t%snumgen random mod 100 < %d counter drop\n", match, d.Percent)
			}
		}
		b.WriteString("\t}\n}\n")
	}
	prog, argv := h.Exec("nft", "-f", "-")
	cmd := exec.Command(prog, argv...)
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in %s: %v: %s\nrules:\n%s", h.Namespace, err, out, b.String())
	}
}

// DropCounts returns how many packets the namespace's drop rules have
// dropped so far, for logs: a loss test that dropped nothing tested
// nothing.
func (h *NetHost) DropCounts(t testing.TB) string {
	t.Helper()
	out, err := h.Run(netnsCommandTimeout, "nft", "list", "table", "inet", nftTable)
	if err != nil {
		return err.Error()
	}
	var counts []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "drop") {
			counts = append(counts, strings.TrimSpace(line))
		}
	}
	return strings.Join(counts, "; ")
}
