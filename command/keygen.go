package command

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

// KeygenCommand prints a new random encryption key for -encrypt.
type KeygenCommand struct {
	Meta
}

// keyLength is the size of the keys keygen makes: AES-256.
const keyLength = 32

func (c *KeygenCommand) Synopsis() string { return "Print a fresh random encryption key" }

func (c *KeygenCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf keygen

  Prints 32 random bytes in base64: a key ready for the agent's -encrypt
  flag, its encrypt_key setting, its keyring file or "serf keys -install". No
  agent is needed; arguments are ignored.
`)
}

// Run ignores its arguments, as Serf's keygen does.
func (c *KeygenCommand) Run(_ []string) int {
	key := make([]byte, keyLength)
	n, err := rand.Read(key)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error reading random data: %s", err))
		return 1
	}
	if n != keyLength {
		c.Ui.Error("Couldn't read enough entropy. Generate more entropy!")
		return 1
	}
	c.Ui.Output(base64.StdEncoding.EncodeToString(key))
	return 0
}
