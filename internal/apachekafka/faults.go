package apachekafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// FaultKind names a fault the cluster can inject.
type FaultKind string

// The fault kinds. Each is what a producer meets in production, made by
// the processes and sockets themselves: signals to the broker JVMs, and
// the TCP proxy in front of every broker.
const (
	// FaultNone injects nothing: the healthy baseline of a drill.
	FaultNone FaultKind = "none"
	// FaultBrokerKill SIGKILLs one broker (WithNodes, default the
	// highest node id). Its partitions' leadership fails over to the
	// other replicas once the controller fences it (3s). Heal restarts
	// it on its data and waits until it is back in sync.
	FaultBrokerKill FaultKind = "broker-kill"
	// FaultLeaderKill SIGKILLs the leader of the partitions WithPartitions
	// names (default partition 0 of the first of Config.Topics): a crash
	// of exactly the broker a producer is writing to. Heal restarts it.
	FaultLeaderKill FaultKind = "leader-kill"
	// FaultHang SIGSTOPs a broker (WithNodes, or the leader of
	// WithPartitions' partitions, default partition 0 of the first
	// topic): its sockets accept and hold requests, nothing answers, and
	// after 3s without heartbeats the controller moves its leaderships
	// away. Heal sends SIGCONT.
	FaultHang FaultKind = "hang"
	// FaultNotEnoughReplicas SIGKILLs two of three brokers and waits
	// until the controller has shrunk every partition's in-sync replicas
	// to the survivor (WithNodes, default 0), which then refuses acks=all
	// produce requests with NOT_ENOUGH_REPLICAS (retriable): fewer
	// replicas than min.insync.replicas=2. It needs
	// Config.DedicatedController, since in combined mode the two dead
	// nodes take the controller quorum with them, and nothing can shrink
	// the in-sync replicas. Heal restarts them.
	FaultNotEnoughReplicas FaultKind = "notenough"
	// FaultOutage SIGKILLs every node, the controller too: the whole
	// cluster down. Heal starts them again on their data.
	FaultOutage FaultKind = "outage"
	// FaultCut resets every client connection to the brokers (WithNodes,
	// default all) and every new one until Heal. Replication and the
	// controller are not affected: the brokers stay healthy, only
	// clients cannot reach them.
	FaultCut FaultKind = "cut"
	// FaultBlackhole keeps client connections open but moves no bytes:
	// requests time out with no answer. Heal resets the connections that
	// were held and drops their bytes, so a request a client gave up on
	// never reaches a broker late.
	FaultBlackhole FaultKind = "blackhole"
	// FaultSlow delays every response to clients by WithDelay (default
	// 5s): Kafka works but too slowly for a publish timeout.
	FaultSlow FaultKind = "slow"
)

var faultKinds = []FaultKind{FaultNone, FaultBrokerKill, FaultLeaderKill, FaultHang, FaultNotEnoughReplicas, FaultOutage, FaultCut, FaultBlackhole, FaultSlow}

// FaultKinds returns every fault kind.
func FaultKinds() []FaultKind { return slices.Clone(faultKinds) }

// ParseFaultKind parses a fault kind name, case-insensitively. The error
// lists the valid kinds.
func ParseFaultKind(s string) (FaultKind, error) {
	k := FaultKind(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(faultKinds, k) {
		return k, nil
	}
	names := make([]string, len(faultKinds))
	for i, v := range faultKinds {
		names[i] = string(v)
	}
	return "", fmt.Errorf("apachekafka: unknown fault kind %q; valid kinds: %s", s, strings.Join(names, ", "))
}

// FaultOpt adjusts a fault.
type FaultOpt func(*faultConfig)

type faultConfig struct {
	nodes      []int32
	partitions map[string][]int32
	delay      time.Duration
}

// WithNodes names the brokers a fault hits (FaultBrokerKill, FaultHang,
// FaultCut, FaultBlackhole, FaultSlow), or the one that survives
// FaultNotEnoughReplicas.
func WithNodes(ids ...int32) FaultOpt {
	return func(f *faultConfig) { f.nodes = append(f.nodes, ids...) }
}

// WithPartitions names partitions whose leader FaultLeaderKill or
// FaultHang hits (no partitions: every partition of topic). May be given
// for several topics; each distinct leader is hit.
func WithPartitions(topic string, partitions ...int32) FaultOpt {
	return func(f *faultConfig) {
		if f.partitions == nil {
			f.partitions = map[string][]int32{}
		}
		f.partitions[topic] = append(f.partitions[topic], partitions...)
	}
}

// WithDelay sets how long FaultSlow holds each response (default 5s).
func WithDelay(d time.Duration) FaultOpt { return func(f *faultConfig) { f.delay = d } }

// Active returns the fault in effect, FaultNone when healthy.
func (c *Cluster) Active() FaultKind {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active
}

// Fault begins a fault. One fault is active at a time: Heal the current
// one first. When Fault returns, the fault is in effect: the processes
// are dead or stopped, the proxies cut, and for FaultNotEnoughReplicas
// the in-sync replicas shrunk. kind is read as ParseFaultKind reads it.
func (c *Cluster) Fault(kind FaultKind, opts ...FaultOpt) error {
	kind, err := ParseFaultKind(string(kind))
	if err != nil {
		return err
	}
	f := faultConfig{delay: 5 * time.Second}
	for _, opt := range opts {
		opt(&f)
	}
	if err := c.checkFaultConfig(kind, f); err != nil {
		return err
	}
	c.ctl.Lock()
	defer c.ctl.Unlock()
	c.mu.Lock()
	closed, active := c.closed, c.active
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if active != FaultNone {
		return fmt.Errorf("apachekafka: fault %q is active; Heal it before starting %q", active, kind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.StartTimeout)
	defer cancel()
	if err := c.inject(ctx, kind, f); err != nil {
		// Whatever was done stays for Heal to undo.
		c.setActive(kind)
		return fmt.Errorf("apachekafka: fault %s: %w", kind, err)
	}
	c.setActive(kind)
	c.log.Info("kafka fault injected", "fault", string(kind))
	return nil
}

func (c *Cluster) setActive(kind FaultKind) {
	c.mu.Lock()
	c.active = kind
	c.mu.Unlock()
}

func (c *Cluster) checkFaultConfig(kind FaultKind, f faultConfig) error {
	for _, n := range f.nodes {
		if n < 0 || int(n) >= len(c.brokers) {
			return fmt.Errorf("apachekafka: WithNodes node %d out of range: the brokers are 0 to %d", n, len(c.brokers)-1)
		}
	}
	switch {
	case kind == FaultSlow && f.delay <= 0:
		return fmt.Errorf("apachekafka: WithDelay(%v): the delay of a slow fault must be > 0", f.delay)
	case (kind == FaultLeaderKill || kind == FaultHang) && len(f.nodes) == 0 && len(f.partitions) == 0 && len(c.cfg.Topics) == 0:
		return fmt.Errorf("apachekafka: %s needs WithPartitions, WithNodes or Config.Topics to find its broker", kind)
	case kind == FaultBrokerKill && len(f.nodes) > 1:
		return fmt.Errorf("apachekafka: broker-kill kills one broker, WithNodes named %v", f.nodes)
	case kind == FaultNotEnoughReplicas && c.cfg.Nodes < 3:
		return errors.New("apachekafka: notenough needs 3 brokers: on one node min.insync.replicas is 1")
	case kind == FaultNotEnoughReplicas && !c.cfg.DedicatedController:
		return errors.New("apachekafka: notenough needs Config.DedicatedController: in combined mode two of three nodes down lose the controller quorum, " +
			"so the survivor's in-sync replicas never shrink and it times out instead of answering NOT_ENOUGH_REPLICAS")
	case kind == FaultNotEnoughReplicas && len(f.nodes) > 1:
		return fmt.Errorf("apachekafka: notenough keeps one broker, WithNodes named %v", f.nodes)
	}
	return nil
}

// inject carries out a fault. ctl is held.
func (c *Cluster) inject(ctx context.Context, kind FaultKind, f faultConfig) error {
	switch kind {
	case FaultNone:
		return nil
	case FaultBrokerKill:
		id := int32(len(c.brokers) - 1)
		if len(f.nodes) == 1 {
			id = f.nodes[0]
		}
		return c.Kill(id)
	case FaultLeaderKill:
		ids, err := c.leadersOf(ctx, f)
		if err != nil {
			return err
		}
		if len(ids) == len(c.brokers) && len(ids) > 1 {
			return fmt.Errorf("the partitions are led by every broker %v: that is an outage, not a leader kill", ids)
		}
		return c.kill(ids...)
	case FaultHang:
		ids := f.nodes
		if len(ids) == 0 {
			var err error
			if ids, err = c.leadersOf(ctx, f); err != nil {
				return err
			}
		}
		for _, id := range ids {
			if err := c.Pause(id); err != nil {
				return err
			}
		}
		return nil
	case FaultNotEnoughReplicas:
		survivor := int32(0)
		if len(f.nodes) == 1 {
			survivor = f.nodes[0]
		}
		var victims []int32
		for _, id := range c.brokerIDs() {
			if id != survivor {
				victims = append(victims, id)
			}
		}
		if err := c.kill(victims...); err != nil {
			return err
		}
		return c.waitShrunk(ctx, survivor)
	case FaultOutage:
		var ids []int32
		for _, n := range c.all {
			ids = append(ids, n.id)
		}
		return c.kill(ids...)
	case FaultCut, FaultBlackhole, FaultSlow:
		for _, n := range c.targetBrokers(f.nodes) {
			switch kind {
			case FaultCut:
				n.proxy.Cut()
			case FaultBlackhole:
				n.proxy.Blackhole()
			case FaultSlow:
				n.proxy.Slow(f.delay)
			}
		}
		return nil
	}
	return fmt.Errorf("unknown fault kind %q", kind)
}

func (c *Cluster) targetBrokers(ids []int32) []*node {
	if len(ids) == 0 {
		return c.brokers
	}
	ns := make([]*node, len(ids))
	for i, id := range ids {
		ns[i] = c.brokers[id]
	}
	return ns
}

// leadersOf returns the distinct current leaders of f's partitions
// (default partition 0 of the first of Config.Topics).
func (c *Cluster) leadersOf(ctx context.Context, f faultConfig) ([]int32, error) {
	parts := f.partitions
	if len(parts) == 0 {
		parts = map[string][]int32{c.cfg.Topics[0]: {0}}
	}
	var ids []int32
	for _, topic := range slices.Sorted(maps.Keys(parts)) {
		leaders, err := c.Leaders(ctx, topic)
		if err != nil {
			return nil, err
		}
		want := parts[topic]
		if len(want) == 0 {
			want = slices.Sorted(maps.Keys(leaders))
		}
		for _, p := range want {
			l, ok := leaders[p]
			if !ok {
				return nil, fmt.Errorf("%s has no partition %d", topic, p)
			}
			if l < 0 {
				return nil, fmt.Errorf("%s/%d has no leader", topic, p)
			}
			if !slices.Contains(ids, l) {
				ids = append(ids, l)
			}
		}
	}
	return ids, nil
}

// waitShrunk waits until every partition of every topic is led by
// survivor with survivor alone in sync.
func (c *Cluster) waitShrunk(ctx context.Context, survivor int32) error {
	return c.poll(ctx, fmt.Sprintf("the in-sync replicas to shrink to broker %d", survivor), func(ctx context.Context) (bool, string) {
		st, err := c.state(ctx)
		if err != nil {
			return false, err.Error()
		}
		for t, ps := range st.topics {
			for p, pd := range ps {
				if pd.leader != survivor || !slices.Equal(pd.isr, []int32{survivor}) {
					return false, fmt.Sprintf("%s/%d: leader %d, in sync %v", t, p, pd.leader, pd.isr)
				}
			}
		}
		return true, ""
	})
}

// Heal ends the current fault, whatever it did: stopped brokers get
// SIGCONT, dead nodes start again on their data, proxies pass bytes
// again. It returns once every broker is registered, every partition has
// all its replicas in sync, and leadership is back on the preferred
// replicas (after a restart; Kafka would take five minutes to move it
// back on its own). If that does not happen within Config.StartTimeout
// the fault stays active and Heal can be called again. Heal restores nodes
// that Kill or Pause stopped as well; without a fault and with every node
// running it is a no-op.
func (c *Cluster) Heal() error {
	c.ctl.Lock()
	defer c.ctl.Unlock()
	c.mu.Lock()
	closed, active, whole := c.closed, c.active, c.wholeLocked()
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if active == FaultNone && whole {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.StartTimeout)
	defer cancel()
	if err := c.restore(ctx); err != nil {
		return fmt.Errorf("apachekafka: heal %s: %w", active, err)
	}
	c.setActive(FaultNone)
	c.log.Info("kafka fault healed", "fault", string(active))
	return nil
}

// restore makes the cluster whole again. ctl is held.
func (c *Cluster) restore(ctx context.Context) error {
	restarted, err := c.revive()
	if err != nil {
		return err
	}
	for _, n := range c.brokers {
		n.proxy.Pass()
	}
	start := time.Now()
	if err := c.waitHealthy(ctx); err != nil {
		return err
	}
	c.log.Debug("kafka cluster healthy", "after", time.Since(start))
	if restarted {
		start = time.Now()
		if err := c.electPreferred(ctx); err != nil {
			return err
		}
		c.log.Debug("kafka leaders back on the preferred replicas", "after", time.Since(start))
	}
	return nil
}

// wholeLocked reports whether every node runs and none is stopped. mu is
// held.
func (c *Cluster) wholeLocked() bool {
	for _, n := range c.all {
		if !n.running() || n.paused {
			return false
		}
	}
	return true
}

// revive continues every stopped node and starts every dead one. It
// reports whether it started any.
func (c *Cluster) revive() (restarted bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false, ErrClosed
	}
	for _, n := range c.all {
		switch {
		case n.running() && n.paused:
			if err := n.proc.signal(syscall.SIGCONT); err != nil {
				return restarted, fmt.Errorf("SIGCONT to %s: %w", n.name(), err)
			}
			n.paused = false
		case !n.running():
			if err := c.startNode(n); err != nil {
				return restarted, err
			}
			restarted = true
		}
	}
	return restarted, nil
}

// electPreferred moves every partition's leadership back to its
// preferred replica and waits until the brokers say so.
func (c *Cluster) electPreferred(ctx context.Context) error {
	res, err := c.adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, nil)
	if err != nil {
		return fmt.Errorf("elect preferred leaders: %w", err)
	}
	for t, ps := range res {
		for p, r := range ps {
			if r.Err != nil && !errors.Is(r.Err, kerr.ElectionNotNeeded) {
				return fmt.Errorf("elect the preferred leader of %s/%d: %w", t, p, r.Err)
			}
		}
	}
	return c.poll(ctx, "leadership back on the preferred replicas", func(ctx context.Context) (bool, string) {
		st, err := c.state(ctx)
		if err != nil {
			return false, err.Error()
		}
		for t, ps := range st.topics {
			for p, pd := range ps {
				if len(pd.replicas) > 0 && pd.leader != pd.replicas[0] {
					return false, fmt.Sprintf("%s/%d: leader %d, preferred %d", t, p, pd.leader, pd.replicas[0])
				}
			}
		}
		return true, ""
	})
}
