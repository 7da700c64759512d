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

func (c *KeygenCommand) Synopsis() string { return "Generates a new encryption key" }

func (c *KeygenCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf keygen

  Generates a new encryption key that can be used to configure the
  agent to encrypt traffic. The output of this command is already
  in the proper format that the agent expects.
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
