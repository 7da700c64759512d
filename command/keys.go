package command

import (
	"fmt"
	"strings"

	"github.com/serfclone/serf/client"
)

// KeysCommand manages the cluster's encryption keyring.
type KeysCommand struct {
	Meta
}

func (c *KeysCommand) Synopsis() string {
	return "Inspect and rotate the cluster's gossip encryption keys"
}

func (c *KeysCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf keys [options]...

  Changes or lists the keys that encrypt gossip, on every member at once: the
  agent sends the request to the whole cluster and waits for each member's
  answer. Repeating a change is harmless.

  A member may hold several keys. It encrypts with one, the primary key, and
  tries all of them when decrypting. To rotate, install the new key, make it
  primary with -use once every member has it, then remove the old one. Extra
  keys cost CPU on every message, so keep more than one only while rotating.

  Exit status is 0 when every member answered and none reported a problem, 1
  otherwise; the members that reported an error are listed with their message.

  Give exactly one of the options below besides the RPC ones.

Options:

  -install=<key>            Add a base64 key to every keyring. Members accept
                            messages encrypted with it at once but keep
                            encrypting with the primary key.
  -use=<key>                Make an installed key the primary key everywhere.
                            Install it on every member first, or those without
                            it stop understanding the others.
  -remove=<key>             Delete a key from every keyring. The primary key
                            cannot be removed.
  -list                     Ask every member for its keys and print each key
                            with the number of members that hold it.
  -rpc-addr=127.0.0.1:7373  Where the agent listens for RPC, as host:port. When
                            the flag is absent, SERF_RPC_ADDR is used if set.
  -rpc-auth=""              Token for an agent configured with rpc_auth. When
                            the flag is absent, SERF_RPC_AUTH is used if set.
`)
}

// keyChange describes one of the keyring-changing actions.
type keyChange struct {
	start, success, failure string
	call                    func(*client.RPCClient, string) (client.KeyResponse, error)
}

func (c *KeysCommand) Run(args []string) int {
	fs := c.newFlagSet("keys", c.Help)
	installKey := fs.String("install", "", "key to install")
	useKey := fs.String("use", "", "key to make primary")
	removeKey := fs.String("remove", "", "key to remove")
	list := fs.Bool("list", false, "list the keys of the cluster")
	rpc := addRPCFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 1
	}

	actions := 0
	for _, given := range []bool{*installKey != "", *useKey != "", *removeKey != "", *list} {
		if given {
			actions++
		}
	}
	if actions > 1 {
		c.Ui.Error("Only one of -install, -use, -remove, or -list allowed")
		return 1
	}
	if actions == 0 {
		c.Ui.Output(c.Help())
		return 1
	}

	cl := c.connect(rpc)
	if cl == nil {
		return 1
	}
	defer cl.Close()

	switch {
	case *list:
		return c.listKeys(cl)
	case *installKey != "":
		return c.change(cl, *installKey, keyChange{
			start:   "==> Installing key on all members...",
			success: "==> Successfully installed key!",
			failure: "Error installing key",
			call:    (*client.RPCClient).InstallKey,
		})
	case *useKey != "":
		return c.change(cl, *useKey, keyChange{
			start:   "==> Changing primary key on all members...",
			success: "==> Successfully changed primary key!",
			failure: "Error changing primary key",
			call:    (*client.RPCClient).UseKey,
		})
	default:
		return c.change(cl, *removeKey, keyChange{
			start:   "==> Removing key on all members...",
			success: "==> Successfully removed key!",
			failure: "Error removing key",
			call:    (*client.RPCClient).RemoveKey,
		})
	}
}

func (c *KeysCommand) change(cl *client.RPCClient, key string, k keyChange) int {
	c.Ui.Output(k.start)
	resp, err := k.call(cl, key)
	if err != nil {
		c.reportFailure(resp, fmt.Sprintf("%s: %s", k.failure, err))
		return 1
	}
	c.Ui.Output(k.success)
	return 0
}

func (c *KeysCommand) listKeys(cl *client.RPCClient) int {
	c.Ui.Output("==> Asking all members for installed keys...")
	resp, err := cl.ListKeys()
	if err != nil {
		c.reportFailure(resp, fmt.Sprintf("Failed to gather member keys: %s", err))
		return 1
	}
	c.Ui.Output("==> Keys gathered, listing cluster keys...")
	c.Ui.Output("")
	lines := make([]string, 0, len(resp.Keys))
	for _, key := range sortedKeys(resp.Keys) {
		lines = append(lines, fmt.Sprintf("%s | [%d/%d]", key, resp.Keys[key], resp.NumNodes))
	}
	c.Ui.Output(strings.TrimSpace(columnize(lines)))
	return 0
}

// reportFailure prints what each failing node said, if anything, then an
// empty line and the error.
func (c *KeysCommand) reportFailure(resp client.KeyResponse, msg string) {
	if len(resp.Messages) > 0 {
		lines := make([]string, 0, len(resp.Messages))
		for _, node := range sortedKeys(resp.Messages) {
			lines = append(lines, fmt.Sprintf("failed: | %s | %s", node, resp.Messages[node]))
		}
		c.Ui.Error(strings.TrimSpace(columnize(lines)))
	}
	c.Ui.Error("")
	c.Ui.Error(msg)
}
