package serf

import "regexp"

// queryExpect is what a querier waits for: the live members that match
// the query's filters when it was sent, each owing a response and, when
// acks were asked, an ack. Once every one of them has answered, done is
// closed, so a caller that wants only these answers need not sit out the
// timeout. Guarded by the QueryResponse's closeLock.
type queryExpect struct {
	responses map[string]struct{} // members whose response is still owed
	acks      map[string]struct{} // members whose ack is still owed; nil if none asked
	done      chan struct{}
}

// Done returns a channel that is closed once every member that matched
// the query's filters and was alive when the query was sent has
// responded, and acked if acks were asked. If one of them never answers,
// it is never closed: the closing of ResponseCh at the deadline is then
// the end. A member that joins later, or answers without being expected,
// counts as usual on the channels but is not waited for.
func (r *QueryResponse) Done() <-chan struct{} {
	if r.expect == nil {
		return nil
	}
	return r.expect.done
}

// arrived notes a delivered ack or response from a member and closes done
// when nothing is owed any more. Safe on a nil receiver.
func (e *queryExpect) arrived(from string, ack bool) {
	if e == nil {
		return
	}
	if ack {
		delete(e.acks, from)
	} else {
		delete(e.responses, from)
	}
	e.checkDone()
}

func (e *queryExpect) checkDone() {
	if len(e.responses) > 0 || len(e.acks) > 0 {
		return
	}
	select {
	case <-e.done:
	default:
		close(e.done)
	}
}

// expectAnswers computes who should answer a query with these parameters:
// live members, this node included, that pass the same filters receivers
// apply (the node list, then every tag expression, unanchored, against
// the tag's value, "" when the tag is absent). It closes done at once when
// no one matches.
func (s *Serf) expectAnswers(p *QueryParam) *queryExpect {
	e := &queryExpect{responses: make(map[string]struct{}), done: make(chan struct{})}
	if p.RequestAck {
		e.acks = make(map[string]struct{})
	}
	var nodes map[string]struct{}
	if len(p.FilterNodes) > 0 {
		nodes = make(map[string]struct{}, len(p.FilterNodes))
		for _, n := range p.FilterNodes {
			nodes[n] = struct{}{}
		}
	}
	exprs := make(map[string]*regexp.Regexp, len(p.FilterTags))
	for tag, expr := range p.FilterTags {
		re, err := regexp.Compile(expr)
		if err != nil {
			// Every receiver refuses such a filter: no one answers.
			e.checkDone()
			return e
		}
		exprs[tag] = re
	}
	matches := func(name string, tags map[string]string) bool {
		if nodes != nil {
			if _, ok := nodes[name]; !ok {
				return false
			}
		}
		for tag, re := range exprs {
			if !re.MatchString(tags[tag]) {
				return false
			}
		}
		return true
	}

	s.tagsLock.RLock()
	local := copyTags(s.tags)
	s.tagsLock.RUnlock()
	add := func(name string) {
		e.responses[name] = struct{}{}
		if e.acks != nil {
			e.acks[name] = struct{}{}
		}
	}
	if matches(s.config.NodeName, local) {
		add(s.config.NodeName)
	}
	s.memberLock.RLock()
	for name, m := range s.members {
		if name == s.config.NodeName || m.Status != StatusAlive {
			continue
		}
		if matches(name, m.Tags) {
			add(name)
		}
	}
	s.memberLock.RUnlock()
	e.checkDone()
	return e
}
