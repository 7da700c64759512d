package agent

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/serfclone/serf/serf"
)

// This file holds the request/reply commands. Each handler decodes its
// body (a body that fails to decode closes the connection without a
// reply, as in Serf), runs the command and sends exactly the reply shape
// Serf sends: some commands always carry a body, even on error.

// decodeBody reads the request body of command into v.
func (c *rpcConn) decodeBody(command string, v interface{}) error {
	if err := c.decode(v); err != nil {
		return fmt.Errorf("failed to decode %s request: %w", command, err)
	}
	return nil
}

func (i *AgentIPC) handleHandshake(c *rpcConn, seq uint64) error {
	var req ipcHandshakeRequest
	if err := c.decodeBody(handshakeCommand, &req); err != nil {
		return err
	}
	var err error
	switch {
	case req.Version < minIPCVersion || req.Version > maxIPCVersion:
		err = errors.New(errUnsupportedIPCVersion)
	case c.version != 0:
		err = errors.New(errDuplicateHandshake)
	default:
		c.version = req.Version
	}
	return c.reply(seq, err, nil)
}

func (i *AgentIPC) handleAuth(c *rpcConn, seq uint64) error {
	var req ipcAuthRequest
	if err := c.decodeBody(authCommand, &req); err != nil {
		return err
	}
	// Without a configured key only the empty token matches, so a CLI
	// with SERF_RPC_AUTH set fails against such an agent, as with Serf.
	// A wrong token after a good one does not revoke the earlier success.
	var err error
	if req.AuthKey == i.authKey {
		c.didAuth = true
	} else {
		err = errors.New(errInvalidAuthToken)
	}
	return c.reply(seq, err, nil)
}

func (i *AgentIPC) handleMembers(c *rpcConn, seq uint64) error {
	body, err := i.members.get(i.agent.Serf())
	if err != nil {
		return err
	}
	return c.replyEncoded(seq, body)
}

func (i *AgentIPC) handleMembersFiltered(c *rpcConn, seq uint64) error {
	var req ipcMembersFilteredRequest
	if err := c.decodeBody(membersFilteredCommand, &req); err != nil {
		return err
	}
	// A bad pattern closes the connection without a reply, as in Serf.
	members, err := filterMembers(i.agent.Serf().Members(), req.Tags, req.Status, req.Name)
	if err != nil {
		return err
	}
	return c.reply(seq, nil, &ipcMembersResponse{Members: toIPCMembers(members)})
}

// filterMembers keeps the members whose every listed tag (missing = ""),
// status and name match the patterns, sorted by name. Patterns are
// anchored by textual "^...$" wrapping, without a group, exactly as Serf
// does; an empty status or name pattern means no filter.
func filterMembers(members []serf.Member, tags map[string]string, status, name string) ([]serf.Member, error) {
	compile := func(expr string) (*regexp.Regexp, error) {
		re, err := regexp.Compile("^" + expr + "$")
		if err != nil {
			return nil, fmt.Errorf("Failed to compile regex: %v", err)
		}
		return re, nil
	}
	tagRes := make(map[string]*regexp.Regexp, len(tags))
	for tag, expr := range tags {
		re, err := compile(expr)
		if err != nil {
			return nil, err
		}
		tagRes[tag] = re
	}
	var statusRe, nameRe *regexp.Regexp
	var err error
	if status != "" {
		if statusRe, err = compile(status); err != nil {
			return nil, err
		}
	}
	if name != "" {
		if nameRe, err = compile(name); err != nil {
			return nil, err
		}
	}

	out := make([]serf.Member, 0, len(members))
MEMBERS:
	for _, m := range members {
		for tag, re := range tagRes {
			if !re.MatchString(m.Tags[tag]) {
				continue MEMBERS
			}
		}
		if statusRe != nil && !statusRe.MatchString(m.Status.String()) {
			continue
		}
		if nameRe != nil && !nameRe.MatchString(m.Name) {
			continue
		}
		out = append(out, m)
	}
	return sortedByName(out), nil
}

// sortedByName orders members by name, in place, and returns them. Serf
// 0.10 lists members in random order and clients take any order; one
// fixed order lets an operator compare two listings line by line.
func sortedByName(members []serf.Member) []serf.Member {
	slices.SortFunc(members, func(a, b serf.Member) int { return strings.Compare(a.Name, b.Name) })
	return members
}

func (i *AgentIPC) handleJoin(c *rpcConn, seq uint64) error {
	var req ipcJoinRequest
	if err := c.decodeBody(joinCommand, &req); err != nil {
		return err
	}
	var n int
	var err error
	if len(req.Existing) > 0 {
		n, err = i.agent.Join(req.Existing, req.Replay)
	}
	return c.reply(seq, err, &ipcJoinResponse{Num: int32(n)})
}

func (i *AgentIPC) handleLeave(c *rpcConn, seq uint64) error {
	i.logger.Printf("[INFO] agent.ipc: Graceful leave triggered")
	leaveErr := i.agent.Leave()
	if leaveErr != nil {
		i.logger.Printf("[ERR] agent.ipc: leave failed: %v", leaveErr)
	}
	sendErr := c.reply(seq, leaveErr, nil)

	// The agent goes away after a leave, whatever its outcome; so do all
	// RPC connections (watchAgent would notice too, but closing here
	// keeps this request from logging the closed connection).
	if err := i.agent.Shutdown(); err != nil {
		i.logger.Printf("[ERR] agent.ipc: failed to shut down the agent: %v", err)
	}
	i.closeAll()
	return sendErr
}

func (i *AgentIPC) handleForceLeave(c *rpcConn, seq uint64) error {
	var req ipcForceLeaveRequest
	if err := c.decodeBody(forceLeaveCommand, &req); err != nil {
		return err
	}
	err := i.agent.ForceLeave(req.Node, req.Prune)
	return c.reply(seq, err, nil)
}

func (i *AgentIPC) handleEvent(c *rpcConn, seq uint64) error {
	var req ipcEventRequest
	if err := c.decodeBody(eventCommand, &req); err != nil {
		return err
	}
	err := i.agent.UserEvent(req.Name, req.Payload, req.Coalesce)
	return c.reply(seq, err, nil)
}

func (i *AgentIPC) handleTags(c *rpcConn, seq uint64) error {
	var req ipcTagsRequest
	if err := c.decodeBody(tagsCommand, &req); err != nil {
		return err
	}
	// Serf deletes first and then sets, so a tag both deleted and set
	// ends up set: never delete a tag that is being set.
	var del []string
	for _, k := range req.DeleteTags {
		if _, set := req.Tags[k]; !set {
			del = append(del, k)
		}
	}
	err := i.agent.UpdateTags(req.Tags, del)
	return c.reply(seq, err, nil)
}

func (i *AgentIPC) handleRespond(c *rpcConn, seq uint64) error {
	var req ipcRespondRequest
	if err := c.decodeBody(respondCommand, &req); err != nil {
		return err
	}
	var err error
	if q := c.pendingQuery(req.ID); q == nil {
		err = errors.New(errUnknownQueryID)
	} else if err = q.Respond(req.Payload); err != nil && !strings.HasPrefix(err.Error(), respondErrorPrefix) {
		// Serf words every respond failure this way, also "response
		// already sent" and "response is past the deadline"; clients
		// print it.
		err = fmt.Errorf("%s%w", respondErrorPrefix, err)
	}
	return c.reply(seq, err, nil)
}

// respondErrorPrefix starts every respond error, even for user queries.
const respondErrorPrefix = "failed to respond to key query: "

func (i *AgentIPC) handleChangeKey(c *rpcConn, seq uint64, command string) error {
	var req ipcKeyRequest
	if err := c.decodeBody(command, &req); err != nil {
		return err
	}
	var op func(string) (*serf.KeyResponse, error)
	switch command {
	case installKeyCommand:
		op = i.agent.InstallKey
	case useKeyCommand:
		op = i.agent.UseKey
	default:
		op = i.agent.RemoveKey
	}
	resp, err := changeKey(op, req.Key)
	return c.reply(seq, err, toIPCKeyResponse(resp, false))
}

func (i *AgentIPC) handleListKeys(c *rpcConn, seq uint64) error {
	resp, err := i.agent.ListKeys()
	return c.reply(seq, err, toIPCKeyResponse(resp, true))
}

// toIPCKeyResponse builds a key command body. Messages is never nil; Keys
// is only sent, never nil, for list-keys.
func toIPCKeyResponse(r *serf.KeyResponse, withKeys bool) *ipcKeyResponse {
	out := &ipcKeyResponse{Messages: map[string]string{}}
	if withKeys {
		out.Keys = map[string]int{}
	}
	if r == nil {
		return out
	}
	maps.Copy(out.Messages, r.Messages)
	if withKeys {
		maps.Copy(out.Keys, r.Keys)
	}
	out.NumNodes, out.NumErr, out.NumResp = r.NumNodes, r.NumErr, r.NumResp
	return out
}

func (i *AgentIPC) handleStats(c *rpcConn, seq uint64) error {
	return c.reply(seq, nil, agentStats(i.agent, i.eventHandlers))
}

// statsEventHandlers is the "event_handlers" stats section: one entry per
// handler filter, "<event>:<name>" -> script; a later handler with the
// same filter wins.
func statsEventHandlers(conf *Config) map[string]string {
	out := map[string]string{}
	if conf == nil {
		return out
	}
	for _, s := range conf.Scripts {
		out[s.StatsKey()] = s.Script
	}
	return out
}

func (i *AgentIPC) handleGetCoordinate(c *rpcConn, seq uint64) error {
	var req ipcCoordinateRequest
	if err := c.decodeBody(getCoordinateCommand, &req); err != nil {
		return err
	}
	var resp ipcCoordinateResponse
	if coord, ok := i.agent.Serf().GetCachedCoordinate(req.Node); ok && coord != nil {
		resp.Coord, resp.Ok = *coord, true
	}
	return c.reply(seq, nil, &resp)
}
