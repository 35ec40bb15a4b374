package embeddedkafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/huleedu/huleedu/internal/netfault"
)

// FaultKind names a fault the cluster can inject.
type FaultKind string

// The fault kinds. Each is real: clients see it on the wire.
const (
	// FaultNone injects nothing: the healthy baseline of a drill.
	FaultNone FaultKind = "none"
	// FaultCut resets every open broker connection and every new one
	// until Heal: brokers unreachable, connection refused/reset.
	FaultCut FaultKind = "cut"
	// FaultBlackhole keeps connections open but moves no bytes: requests
	// time out with no error from Kafka. Heal resets the connections that
	// were blackholed and drops the bytes they held, as a firewall that
	// lost its state would; clients reconnect and retry. A request a
	// client gave up on is never delivered late.
	FaultBlackhole FaultKind = "blackhole"
	// FaultError answers produce requests with a retriable Kafka error,
	// NOT_LEADER_OR_FOLLOWER unless WithError says otherwise. Brokers
	// stay reachable; only produce fails.
	FaultError FaultKind = "error"
	// FaultSlow delays every response by WithDelay (default 5s), longer
	// than a publish timeout: Kafka works but too slowly.
	FaultSlow FaultKind = "slow"
	// FaultRestart stops every broker (connections reset, new ones
	// refused) and Heal starts them again on the same addresses from
	// Config.DataDir, which it requires: records acknowledged before the
	// restart are still there after it. Kfake returns nil meanwhile.
	FaultRestart FaultKind = "restart"
	// FaultLeaderMove moves the leadership of every partition to the next
	// broker, at once and then every WithInterval (default 250ms) until
	// Heal, or only once with WithOnce. Producers see NOT_LEADER errors
	// and follow the leader.
	FaultLeaderMove FaultKind = "leader-move"
)

var faultKinds = []FaultKind{FaultNone, FaultCut, FaultBlackhole, FaultError, FaultSlow, FaultRestart, FaultLeaderMove}

// FaultKinds returns every fault kind.
func FaultKinds() []FaultKind { return append([]FaultKind(nil), faultKinds...) }

// ParseFaultKind parses a fault kind name, case-insensitively. The error
// lists the valid kinds.
func ParseFaultKind(s string) (FaultKind, error) {
	k := FaultKind(strings.ToLower(strings.TrimSpace(s)))
	for _, valid := range faultKinds {
		if k == valid {
			return k, nil
		}
	}
	names := make([]string, len(faultKinds))
	for i, v := range faultKinds {
		names[i] = string(v)
	}
	return "", fmt.Errorf("embeddedkafka: unknown fault kind %q; valid kinds: %s", s, strings.Join(names, ", "))
}

// FaultOpt adjusts a fault.
type FaultOpt func(*faultConfig)

type faultConfig struct {
	delay    time.Duration
	err      *kerr.Error
	topic    string
	brokers  []int32
	interval time.Duration
	once     bool
}

// WithDelay sets how long FaultSlow holds each response (default 5s).
func WithDelay(d time.Duration) FaultOpt { return func(f *faultConfig) { f.delay = d } }

// WithError sets the error FaultError answers produce requests with
// (default kerr.NotLeaderForPartition). kerr.RequestTimedOut is answered
// after the broker wrote the records, as a real broker may: the producer
// is told "timed out" for records that are in the log.
func WithError(err *kerr.Error) FaultOpt { return func(f *faultConfig) { f.err = err } }

// WithTopic limits FaultError to produce requests for topic.
func WithTopic(topic string) FaultOpt { return func(f *faultConfig) { f.topic = topic } }

// WithBrokers limits FaultCut, FaultBlackhole, FaultSlow and FaultError to
// the brokers with these node ids (0 to Brokers-1); default all.
func WithBrokers(nodes ...int32) FaultOpt {
	return func(f *faultConfig) { f.brokers = append(f.brokers, nodes...) }
}

// WithInterval sets how often FaultLeaderMove moves leaders (default 250ms).
func WithInterval(d time.Duration) FaultOpt { return func(f *faultConfig) { f.interval = d } }

// WithOnce makes FaultLeaderMove move leaders once, when the fault begins.
func WithOnce() FaultOpt { return func(f *faultConfig) { f.once = true } }

// Active returns the fault in effect, FaultNone when healthy.
func (c *Cluster) Active() FaultKind {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active
}

// Fault begins a fault. One fault is active at a time: Heal the current
// one first. When Fault returns, the fault is in effect on the wire. kind
// is read as ParseFaultKind reads it.
func (c *Cluster) Fault(kind FaultKind, opts ...FaultOpt) error {
	kind, err := ParseFaultKind(string(kind))
	if err != nil {
		return err
	}
	f := faultConfig{delay: 5 * time.Second, err: kerr.NotLeaderForPartition, interval: 250 * time.Millisecond}
	for _, opt := range opts {
		opt(&f)
	}
	if err := c.checkFaultConfig(kind, f); err != nil {
		return err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.active != FaultNone {
		return fmt.Errorf("embeddedkafka: fault %q is active; Heal it before starting %q", c.active, kind)
	}
	switch kind {
	case FaultNone:
		return nil
	case FaultCut:
		for _, p := range c.targetPorts(f) {
			p.Cut()
		}
	case FaultBlackhole:
		for _, p := range c.targetPorts(f) {
			p.Blackhole()
		}
	case FaultSlow:
		for _, p := range c.targetPorts(f) {
			p.Slow(f.delay)
		}
	case FaultError:
		c.errH = c.kf.Fault(kfake.Fault{
			Keys:  []kmsg.Key{kmsg.Produce},
			Nodes: f.brokers,
			Topic: f.topic,
			Err:   f.err,
			Count: -1,
		})
	case FaultRestart:
		c.kf.Close()
		c.kf = nil
		// kfake closes the connections it served; reset any that
		// were still being handed over.
		for _, p := range c.ports {
			p.DropAll()
		}
	case FaultLeaderMove:
		m, err := startLeaderMover(c.kf, c.Addrs(), len(c.ports), f)
		if err != nil {
			return err
		}
		c.mover = m
	}
	c.active, c.fopts = kind, f
	return nil
}

func (c *Cluster) checkFaultConfig(kind FaultKind, f faultConfig) error {
	for _, n := range f.brokers {
		if n < 0 || int(n) >= len(c.ports) {
			return fmt.Errorf("embeddedkafka: WithBrokers node %d out of range: the cluster has nodes 0 to %d", n, len(c.ports)-1)
		}
	}
	switch {
	case kind == FaultSlow && f.delay <= 0:
		return fmt.Errorf("embeddedkafka: WithDelay(%v): the delay of a slow fault must be > 0", f.delay)
	case kind == FaultError && f.err == nil:
		return errors.New("embeddedkafka: WithError(nil): an error fault needs a Kafka error")
	case kind == FaultLeaderMove && !f.once && f.interval <= 0:
		return fmt.Errorf("embeddedkafka: WithInterval(%v): the leader-move interval must be > 0 (or use WithOnce)", f.interval)
	case kind == FaultLeaderMove && len(c.ports) < 2:
		return errors.New("embeddedkafka: leader-move needs at least 2 brokers")
	case kind == FaultRestart && c.cfg.DataDir == "":
		return errors.New("embeddedkafka: restart needs Config.DataDir: an in-memory cluster would lose its records")
	}
	return nil
}

func (c *Cluster) targetPorts(f faultConfig) []*netfault.Port {
	if len(f.brokers) == 0 {
		return c.ports
	}
	ports := make([]*netfault.Port, 0, len(f.brokers))
	for _, n := range f.brokers {
		ports = append(ports, c.ports[n])
	}
	return ports
}

// Heal ends the current fault; it is a no-op when none is active. After a
// restart fault, Heal starts the brokers again from Config.DataDir; if that
// fails, the fault stays active and Heal can be called again.
func (c *Cluster) Heal() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.active == FaultRestart {
		kf, err := c.startKfake()
		if err != nil {
			return fmt.Errorf("embeddedkafka: heal restart: %w", err)
		}
		c.kf = kf
	}
	c.stopFaultLocked()
	return nil
}

// stopFaultLocked ends the active fault, except that it leaves a stopped
// kfake stopped (Heal restarts it; Close does not need it).
func (c *Cluster) stopFaultLocked() {
	switch c.active {
	case FaultCut, FaultSlow, FaultBlackhole:
		// Pass drops what a blackhole held (see netfault.Port.Pass).
		for _, p := range c.targetPorts(c.fopts) {
			p.Pass()
		}
	case FaultError:
		c.errH.Remove()
		c.errH = nil
	case FaultLeaderMove:
		c.mover.stop()
		c.mover = nil
	}
	c.active, c.fopts = FaultNone, faultConfig{}
}

// leaderMover moves partition leaders while a leader-move fault lasts.
type leaderMover struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startLeaderMover moves every partition's leader once before it returns,
// so the move is in effect when Fault returns, then keeps moving them
// every f.interval unless f.once.
func startLeaderMover(kf *kfake.Cluster, addrs []string, brokers int, f faultConfig) (*leaderMover, error) {
	// The topic list comes from a metadata request: kfake has no call
	// that lists topics, and auto-created topics must move too.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		return nil, fmt.Errorf("embeddedkafka: leader-move: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := moveLeaders(ctx, kf, cl, brokers); err != nil {
		cancel()
		cl.Close()
		return nil, err
	}
	m := &leaderMover{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		defer cl.Close()
		if f.once {
			<-ctx.Done()
			return
		}
		tick := time.NewTicker(f.interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				// A failed round (a metadata request racing the
				// stop) is retried on the next tick.
				_ = moveLeaders(ctx, kf, cl, brokers)
			}
		}
	}()
	return m, nil
}

func (m *leaderMover) stop() {
	m.cancel()
	<-m.done
}

// moveLeaders moves the leader of every partition of every non-internal
// topic to the next broker.
func moveLeaders(ctx context.Context, kf *kfake.Cluster, cl *kgo.Client, brokers int) error {
	req := kmsg.NewPtrMetadataRequest() // nil Topics: all topics
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("embeddedkafka: leader-move: list topics: %w", err)
	}
	for _, t := range resp.Topics {
		if t.IsInternal || t.Topic == nil {
			continue
		}
		for _, p := range t.Partitions {
			// kfake's own view, not the metadata's, which a
			// concurrent move may have made stale.
			next := (kf.LeaderFor(*t.Topic, p.Partition) + 1) % int32(brokers)
			if err := kf.MoveTopicPartition(*t.Topic, p.Partition, next); err != nil {
				return fmt.Errorf("embeddedkafka: leader-move %s/%d to %d: %w", *t.Topic, p.Partition, next, err)
			}
		}
	}
	return nil
}
