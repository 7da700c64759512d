package agent

import (
	"github.com/serfclone/serf/serf"
)

func (i *AgentIPC) handleQuery(c *rpcConn, seq uint64) error {
	var req ipcQueryRequest
	if err := c.decodeBody(queryCommand, &req); err != nil {
		return err
	}
	params := &serf.QueryParam{
		FilterNodes: req.FilterNodes,
		FilterTags:  req.FilterTags,
		RequestAck:  req.RequestAck,
		RelayFactor: req.RelayFactor,
		Timeout:     req.Timeout,
	}
	resp, err := i.agent.Query(req.Name, req.Payload, params)
	if err != nil {
		// No records follow an error header.
		return c.reply(seq, err, nil)
	}
	// The success header goes first, then the records.
	if err := c.reply(seq, nil, nil); err != nil {
		resp.Close()
		return err
	}
	c.wg.Add(1)
	go i.streamQueryResults(c, seq, resp)
	return nil
}

// streamQueryResults writes the acks and responses of a query as they
// arrive and a final "done" record when Serf closes the query at its
// deadline. If the client goes away first, the query is closed early; a
// failed write ends the connection.
func (i *AgentIPC) streamQueryResults(c *rpcConn, seq uint64, resp *serf.QueryResponse) {
	defer c.wg.Done()
	defer resp.Close()

	header := &ipcResponseHeader{Seq: seq}
	ackCh, respCh := resp.AckCh(), resp.ResponseCh()
	for ackCh != nil || respCh != nil {
		var rec ipcQueryRecord
		select {
		case from, ok := <-ackCh:
			if !ok {
				ackCh = nil
				continue
			}
			rec = ipcQueryRecord{Type: queryRecordAck, From: from}
		case r, ok := <-respCh:
			if !ok {
				respCh = nil
				continue
			}
			rec = ipcQueryRecord{Type: queryRecordResponse, From: r.From, Payload: r.Payload}
		case <-c.done:
			return
		}
		if err := c.send(header, &rec); err != nil {
			i.queryStreamFailed(c, err)
			return
		}
	}
	if err := c.send(header, &ipcQueryRecord{Type: queryRecordDone}); err != nil {
		i.queryStreamFailed(c, err)
	}
}

func (i *AgentIPC) queryStreamFailed(c *rpcConn, err error) {
	if c.closed() {
		return
	}
	i.logger.Printf("[ERR] agent.ipc: Failed to stream query results to %v: %v", c, err)
	c.close()
}
