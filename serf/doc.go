// Package serf is a library for cluster membership, failure detection and
// custom events, compatible on the wire with HashiCorp Serf 0.10. It runs
// on memberlist (gossip and probing) and adds, on top of it, graceful
// leaves told apart from failures, user events delivered once to every
// member, queries with acks and responses, tags, key rotation across the
// cluster, network coordinates and a snapshot to rejoin after a restart.
//
// # Use
//
// Start from DefaultConfig, set at least NodeName, the memberlist bind
// address and an EventCh, then Create, and Join any member of the cluster:
//
//	conf := serf.DefaultConfig()
//	conf.NodeName = "web-1"
//	conf.MemberlistConfig.BindAddr = "10.0.0.5"
//	events := make(chan serf.Event, 256)
//	conf.EventCh = events
//	s, err := serf.Create(conf)
//	if err != nil { ... }
//	go consume(events) // read promptly, see below
//	if _, err := s.Join([]string{"10.0.0.1:7946"}, true); err != nil { ... }
//	...
//	_ = s.Leave()    // tell the cluster, then
//	_ = s.Shutdown() // stop and wait for every goroutine of Serf
//
// Members, LocalMember and Stats read the state; UserEvent and Query send
// to the cluster; SetTags changes this node's tags; KeyManager rotates the
// gossip keys. Create refuses a configuration it cannot run with (a zero
// interval, a negative limit) with an error that names the field.
//
// # Events and the EventCh contract
//
// EventCh receives a MemberEvent for each membership change, a UserEvent
// for each user event and a *Query for each query to answer. Serf never
// closes it. Read it promptly: Serf waits at most EventDeliveryTimeout for
// the reader to take an event, then drops it, counts it in the
// serf.events.dropped metric and logs a rate-limited [WARN]; while the
// reader stays stalled later events are dropped at once. This is what
// keeps a slow program from stalling gossip. Give the channel a buffer to
// absorb bursts, and do slow work (running handlers, answering queries
// over the network) on other goroutines.
//
// # Where an event goes
//
// Events pass through a pipeline of stages, each a goroutine Serf owns:
// snapshot, internal queries (the _serf_ queries Serf answers itself),
// user-event and member-event coalescers, and the consumer stage that
// feeds EventCh. pipeline.go builds it and lists the stages in the order
// events flow; the comment on the Serf type gives the lock order.
package serf
