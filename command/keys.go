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
	return "Manipulate the internal encryption keyring used by Serf"
}

func (c *KeysCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf keys [options]...

  Manage the internal encryption keyring used by Serf. Modifications made by
  this command will be broadcasted to all members in the cluster and applied
  locally on each member. Operations of this command are idempotent.

  To facilitate key rotation, Serf allows for multiple encryption keys to be in
  use simultaneously. Only one key, the "primary" key, will be used for
  encrypting messages. All other keys are used for decryption only.

  All variations of this command will return 0 if all nodes reply and report
  no errors. If any node fails to respond or reports failure, we return 1.

  WARNING: Running with multiple encryption keys enabled is recommended as a
  transition state only. Performance may be impacted by using multiple keys.

Options:

  -install=<key>            Install a new key onto Serf's internal keyring. This
                            will enable the key for decryption. The key will not
                            be used to encrypt messages until the primary key is
                            changed.
  -use=<key>                Change the primary key used for encrypting messages.
                            All nodes in the cluster must already have this key
                            installed if they are to continue communicating with
                            eachother.
  -remove=<key>             Remove a key from Serf's internal keyring. The key
                            being removed may not be the current primary key.
  -list                     List all currently known keys in the cluster. This
                            will ask all nodes in the cluster for a list of keys
                            and dump a summary containing each key and the
                            number of members it is installed on to the console.
  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.
  -rpc-auth=""              RPC auth token of the Serf agent.
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
