package agent

import (
	"errors"
	"sync"
	"time"
)

// retryJoiner runs retry_join: it joins in the background until a join
// succeeds or the attempts run out. It owns its goroutine: Stop ends it
// and waits for it. The addresses may change while it runs (a reload), and
// are read afresh on each attempt, so host names are resolved again.
type retryJoiner struct {
	agent    *Agent
	onJoined func()

	mu      sync.Mutex
	addrs   []string
	running bool
	stopped bool

	stop      chan struct{}
	fatal     chan struct{}
	fatalOnce sync.Once
	wg        sync.WaitGroup
}

func newRetryJoiner(a *Agent, onJoined func()) *retryJoiner {
	return &retryJoiner{
		agent:    a,
		onJoined: onJoined,
		stop:     make(chan struct{}),
		fatal:    make(chan struct{}),
	}
}

// SetAddrs records the addresses the next attempt uses.
func (r *retryJoiner) SetAddrs(addrs []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addrs = append([]string(nil), addrs...)
}

func (r *retryJoiner) currentAddrs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.addrs...)
}

// Start starts the loop with conf's replay, interval and attempt limit,
// unless one runs already or Stop was called.
func (r *retryJoiner) Start(conf *Config) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running || r.stopped {
		return
	}
	r.running = true
	r.wg.Add(1)
	go r.run(conf.ReplayOnJoin, conf.RetryInterval, conf.RetryMaxAttempts)
}

// Stop ends the loop and waits for it. A join in flight is not waited
// for if the agent has abandoned its joins (Agent.AbandonJoins).
func (r *retryJoiner) Stop() {
	r.mu.Lock()
	if !r.stopped {
		r.stopped = true
		close(r.stop)
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// Fatal is closed when the attempts ran out; the agent then exits 1.
func (r *retryJoiner) Fatal() <-chan struct{} { return r.fatal }

func (r *retryJoiner) run(replay bool, interval time.Duration, maxAttempts int) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
	}()
	logger := r.agent.Logger()
	for attempt := 0; ; {
		logger.Printf("[INFO] agent: Joining cluster...(replay: %v)", replay)
		n, err := r.agent.Join(r.currentAddrs(), replay)
		if err == nil {
			logger.Printf("[INFO] agent: Join completed. Synced with %d initial agents", n)
			r.onJoined()
			return
		}
		if errors.Is(err, errJoinAbandoned) {
			return
		}
		attempt++
		if maxAttempts > 0 && attempt > maxAttempts {
			logger.Printf("[ERR] agent: maximum retry join attempts made, exiting")
			r.fatalOnce.Do(func() { close(r.fatal) })
			return
		}
		logger.Printf("[WARN] agent: Join failed: %v, retrying in %v", err, interval)
		timer := time.NewTimer(interval)
		select {
		case <-timer.C:
		case <-r.stop:
			timer.Stop()
			return
		}
	}
}
