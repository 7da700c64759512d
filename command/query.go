package command

import (
	"fmt"
	"github.com/serfclone/serf/internal/flagvalues"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/serfclone/serf/client"
)

// QueryCommand sends a query to the cluster and prints the acks and
// responses until the query is over.
type QueryCommand struct {
	Meta
}

// queryJSON is the -format=json output; the capitalised keys are Serf's.
type queryJSON struct {
	Acks      []string
	Responses map[string]string
}

func (c *QueryCommand) Synopsis() string { return "Ask the cluster a question and collect the answers" }

func (c *QueryCommand) Help() string {
	return strings.TrimSpace(`
Usage: serf query [options] name payload

  Sends a query called name, with an optional payload, to the cluster.
  Members that handle the query answer it; the command prints each
  acknowledgement and answer as it arrives and returns when the query's time
  is up.

Options:

  -format                   Output format, text (the default) or json. Give it
                            as -format=json. json prints one object at the end.
  -node=NAME                Only this member should answer. Repeat the flag to
                            name several.
  -tag key=regexp           Only members whose tag key matches the expression
                            should answer. Repeat the flag for several tags.
  -timeout="15s"            How long to collect answers, as a Go duration.
                            Without it the agent picks a time that grows with
                            the size of the cluster.
  -no-ack                   Do not ask members to confirm that they received
                            the query; only answers are printed.
  -relay-factor             Ask each answering member to send its answer
                            through this many other members too (0 to 255,
                            default 0), so it still arrives over a lossy
                            network. Give it as -relay-factor=2.
  -rpc-addr=127.0.0.1:7373  Where the agent listens for RPC, as host:port. When
                            the flag is absent, SERF_RPC_ADDR is used if set.
  -rpc-auth=""              Token for an agent configured with rpc_auth. When
                            the flag is absent, SERF_RPC_AUTH is used if set.
`)
}

func (c *QueryCommand) Run(args []string) int {
	var nodes, tagArgs flagvalues.StringList
	fs := c.newFlagSet("query", c.Help)
	format := fs.String("format", "text", "output format: text or json")
	fs.Var(&nodes, "node", "node that should answer (repeatable)")
	fs.Var(&tagArgs, "tag", "key=regexp tag filter (repeatable)")
	timeout := fs.Duration("timeout", 0, "query timeout; 0 lets the agent choose")
	noAck := fs.Bool("no-ack", false, "do not ask for acknowledgements")
	relayFactor := fs.Int("relay-factor", 0, "extra nodes relaying each answer (0-255)")
	rpc := addRPCFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 1
	}

	tags, err := flagvalues.ParseTags(tagArgs)
	if err != nil {
		c.Ui.Error("Error: " + err.Error())
		return 1
	}
	args = fs.Args()
	switch {
	case len(args) < 1:
		return c.usageError("A query name must be specified.", c.Help())
	case len(args) > 2:
		return c.usageError("Too many command line arguments. Only a name and payload must be specified.", c.Help())
	}
	name := args[0]
	var payload []byte
	if len(args) == 2 {
		payload = []byte(args[1])
	}
	if *relayFactor < 0 || *relayFactor > 255 {
		c.Ui.Error("Relay factor must be between 0 and 255")
		return 1
	}

	cl := c.connect(rpc)
	if cl == nil {
		return 1
	}
	defer cl.Close()

	var out queryOutput
	switch *format {
	case "text":
		out = &queryText{ui: c.Ui, name: name, showAcks: !*noAck}
	case "json":
		out = &queryJSONOutput{ui: c.Ui, result: queryJSON{Responses: map[string]string{}}}
	default:
		c.Ui.Error(fmt.Sprintf("Invalid format: %s", *format))
		return 1
	}

	// Unbuffered channels fed by one goroutine of the client: acks and
	// responses arrive here in exactly the order the agent sent them.
	acks := make(chan string)
	responses := make(chan client.NodeResponse)
	err = cl.Query(&client.QueryParam{
		FilterNodes: nodes,
		FilterTags:  tags,
		RequestAck:  !*noAck,
		RelayFactor: uint8(*relayFactor),
		Timeout:     *timeout,
		Name:        name,
		Payload:     payload,
		AckCh:       acks,
		RespCh:      responses,
	})
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error sending query: %s", err))
		return 1
	}
	out.dispatched()

	for acks != nil || responses != nil {
		select {
		case from, ok := <-acks:
			if !ok {
				acks = nil
				continue
			}
			out.ack(from)
		case r, ok := <-responses:
			if !ok {
				responses = nil
				continue
			}
			out.response(r)
		case <-c.ShutdownCh:
			return 1
		}
	}
	out.done()
	return 0
}

// queryOutput prints query results in one format.
type queryOutput interface {
	dispatched()
	ack(from string)
	response(r client.NodeResponse)
	done()
}

// queryText streams results as they arrive.
type queryText struct {
	ui        cli.Ui
	name      string
	showAcks  bool
	acks      int
	responses int
}

func (q *queryText) dispatched() { q.ui.Output(fmt.Sprintf("Query '%s' dispatched", q.name)) }

func (q *queryText) ack(from string) {
	q.acks++
	q.ui.Output(fmt.Sprintf("Ack from '%s'", from))
}

func (q *queryText) response(r client.NodeResponse) {
	q.responses++
	// One trailing newline is dropped: handler scripts usually end their
	// answer with one.
	payload := strings.TrimSuffix(string(r.Payload), "\n")
	q.ui.Output(fmt.Sprintf("Response from '%s': %s", r.From, payload))
}

func (q *queryText) done() {
	if q.showAcks {
		q.ui.Output(fmt.Sprintf("Total Acks: %d", q.acks))
	}
	q.ui.Output(fmt.Sprintf("Total Responses: %d", q.responses))
}

// queryJSONOutput collects results and prints them once the query is over.
type queryJSONOutput struct {
	ui     cli.Ui
	result queryJSON
}

func (q *queryJSONOutput) dispatched()     {}
func (q *queryJSONOutput) ack(from string) { q.result.Acks = append(q.result.Acks, from) }

func (q *queryJSONOutput) response(r client.NodeResponse) {
	q.result.Responses[r.From] = string(r.Payload)
}

func (q *queryJSONOutput) done() {
	// Strings and a map of strings always encode; there is no error to
	// report.
	out, _ := render("json", q.result, nil)
	q.ui.Output(out)
}
