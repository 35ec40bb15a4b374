package embeddedkafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/huleedu/huleedu/internal/netfault"
)

// Config describes an embedded cluster. The zero value is a three-broker
// in-memory cluster with no topics and auto-creation off.
type Config struct {
	// Brokers is the number of brokers, default 3.
	Brokers int
	// Partitions is the partition count of Topics and of auto-created
	// topics, default 6.
	Partitions int32
	// Topics are created at start.
	Topics []string
	// DataDir is where kfake persists topics and records. Empty keeps
	// everything in memory; the restart fault needs a DataDir, since
	// records must survive the restart.
	DataDir string
	// AllowAutoTopicCreation lets a producer create a topic by producing
	// to it, as Kafka's auto.create.topics.enable does. Off by default, as
	// in production.
	AllowAutoTopicCreation bool
	// BrokerConfigs are broker-level configs, for example
	// {"message.max.bytes": "1024"}; see kfake.BrokerConfigs.
	BrokerConfigs map[string]string
	// Logger receives kfake's logs. Nil discards them.
	Logger *slog.Logger
	// Options are extra kfake options (ACLs, SASL users, ...), applied
	// after the ones Config implies and again on every restart. Do not
	// pass NumBrokers, Ports or ListenFn: the cluster owns its listeners.
	Options []kfake.Opt
}

// ErrClosed is returned by Fault and Heal after Close.
var ErrClosed = errors.New("embeddedkafka: cluster closed")

// Cluster is an embedded Kafka-protocol cluster (kfake) whose broker
// connections all pass through a fault layer. It is safe for concurrent
// use.
type Cluster struct {
	cfg   Config
	ports []*netfault.Port // one per broker, in node id order; fixed for the life of the Cluster

	// mu guards the fields below and serialises Fault, Heal and Close.
	mu     sync.Mutex
	kf     *kfake.Cluster // nil while a restart fault has the cluster down
	active FaultKind
	fopts  faultConfig
	errH   *kfake.FaultHandle // the error fault's handle
	mover  *leaderMover       // the leader-move fault's goroutine
	closed bool
}

// Start starts a cluster: one loopback listener per broker, owned by the
// Cluster for its whole life (a restart keeps the addresses), and kfake
// behind them.
func Start(cfg Config) (*Cluster, error) {
	if cfg.Brokers == 0 {
		cfg.Brokers = 3
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 6
	}
	if cfg.Brokers < 1 {
		return nil, fmt.Errorf("embeddedkafka: Config.Brokers is %d, want >= 1", cfg.Brokers)
	}
	if cfg.Partitions < 1 {
		return nil, fmt.Errorf("embeddedkafka: Config.Partitions is %d, want >= 1", cfg.Partitions)
	}
	c := &Cluster{cfg: cfg, active: FaultNone}
	for range cfg.Brokers {
		p, err := netfault.Listen()
		if err != nil {
			c.closePorts()
			return nil, fmt.Errorf("embeddedkafka: listen: %w", err)
		}
		c.ports = append(c.ports, p)
	}
	kf, err := c.startKfake()
	if err != nil {
		c.closePorts()
		return nil, err
	}
	c.kf = kf
	return c, nil
}

// NewTestCluster starts a cluster for a test and closes it when the test
// ends. It fails the test if the cluster does not start.
func NewTestCluster(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	c, err := Start(cfg)
	if err != nil {
		t.Fatalf("embeddedkafka: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// startKfake starts kfake on the cluster's ports.
func (c *Cluster) startKfake() (*kfake.Cluster, error) {
	next := 0
	listen := func(string, string) (net.Listener, error) {
		if next >= len(c.ports) {
			return nil, fmt.Errorf("embeddedkafka: kfake asked for listener %d of a %d-broker cluster", next+1, len(c.ports))
		}
		p := c.ports[next]
		next++
		return p.Attach(), nil
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(len(c.ports)),
		kfake.ListenFn(listen),
		kfake.DefaultNumPartitions(int(c.cfg.Partitions)),
	}
	if len(c.cfg.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(c.cfg.Partitions, c.cfg.Topics...))
	}
	if c.cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(c.cfg.DataDir))
	}
	if c.cfg.AllowAutoTopicCreation {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if len(c.cfg.BrokerConfigs) > 0 {
		opts = append(opts, kfake.BrokerConfigs(c.cfg.BrokerConfigs))
	}
	if c.cfg.Logger != nil {
		opts = append(opts, kfake.WithLogger(slogLogger{c.cfg.Logger}))
	}
	opts = append(opts, c.cfg.Options...)
	kf, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("embeddedkafka: start kfake: %w", err)
	}
	return kf, nil
}

// Addrs returns the bootstrap addresses (127.0.0.1:port), one per broker.
// They stay the same across restart faults.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.ports))
	for i, p := range c.ports {
		addrs[i] = p.Addr()
	}
	return addrs
}

// Kfake returns the kfake cluster behind the fault layer, for kfake's own
// controls (CreateTopic, PartitionInfo, ControlKey, ...). It returns nil
// while a restart fault has the cluster down, and a new value after the
// restart.
func (c *Cluster) Kfake() *kfake.Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kf
}

// Close ends any fault, stops kfake and the listeners and resets every
// connection. Persisted data in Config.DataDir stays. Close is idempotent.
func (c *Cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	c.stopFaultLocked()
	if c.kf != nil {
		c.kf.Close()
		c.kf = nil
	}
	c.closePorts()
}

func (c *Cluster) closePorts() {
	for _, p := range c.ports {
		p.Close()
	}
}

// slogLogger adapts slog to kfake's logger.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var lvl slog.Level
	switch level {
	case kfake.LogLevelError:
		lvl = slog.LevelError
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	case kfake.LogLevelInfo:
		lvl = slog.LevelInfo
	default:
		lvl = slog.LevelDebug
	}
	ctx := context.Background()
	if !s.l.Enabled(ctx, lvl) {
		return
	}
	s.l.Log(ctx, lvl, fmt.Sprintf(format, args...), "component", "kfake")
}
