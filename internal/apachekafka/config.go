package apachekafka

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"
)

// Config describes a cluster. The zero value is a 3-node combined cluster
// (every node broker and controller) with no topics.
type Config struct {
	// Nodes is the number of brokers: 1 or 3 (default 3). Broker node ids
	// are 0 to Nodes-1.
	Nodes int
	// DedicatedController runs the KRaft controller in a process of its
	// own (node id Nodes) and the brokers as brokers only. Without it
	// every node is broker and controller (combined mode), and the
	// controller quorum is every node: two of three down is then a lost
	// quorum, which stalls the survivor instead of making it answer
	// NOT_ENOUGH_REPLICAS (see FaultNotEnoughReplicas). Production
	// clusters run dedicated controllers.
	DedicatedController bool
	// Partitions is the partition count of Topics and the brokers'
	// num.partitions, default 6.
	Partitions int32
	// Topics are created at start with Partitions partitions,
	// replication factor Nodes and min.insync.replicas 2 (1 on one node),
	// plus TopicConfigs.
	Topics []string
	// TopicConfigs are configs of the topics Start creates, for example
	// {"max.message.bytes": "2048"}.
	TopicConfigs map[string]string
	// BrokerConfigs are server.properties entries for every node; they
	// override the launcher's own (see brokerDefaults), for example
	// {"message.max.bytes": "2048"}.
	BrokerConfigs map[string]string
	// SASLUsers, when not empty, adds a SASL_PLAINTEXT listener with the
	// PLAIN mechanism and these users (name → password), and turns on the
	// StandardAuthorizer: a SASL user may do only what ACLs allow
	// (create them with Admin). The plaintext listeners' principal,
	// User:ANONYMOUS, is a super user, so Addrs stays unrestricted.
	// Names and passwords: 1-64 characters of [A-Za-z0-9._-].
	SASLUsers map[string]string
	// Dir holds the nodes' data, configs and logs. Empty: a new temporary
	// directory that Close removes.
	Dir string
	// HeapMB is each broker JVM's maximum heap, default 384 (a dedicated
	// controller gets half).
	HeapMB int
	// JVMOptions are appended to the launcher's JVM options (see
	// jvmOptions); a later -XX flag overrides an earlier one, so
	// "-XX:TieredStopAtLevel=4" restores the optimising compiler that
	// the fast-start defaults leave out.
	JVMOptions []string
	// LogLevel is the brokers' log level (trace, debug, info, warn,
	// error), default warn. Each node logs to <Dir>/node-<id>/kafka.log.
	LogLevel string
	// StartTimeout bounds a start or restart of the nodes, and every
	// wait of Fault and Heal, default 2m (JVMs start slowly on a loaded
	// machine).
	StartTimeout time.Duration
	// Install is the Java and classpath to run. Nil: Locate's.
	Install *Install
	// Logger receives the launcher's events (nodes started, killed,
	// faults). Nil discards them.
	Logger *slog.Logger

	// archiveOut, when set, makes the broker write a class-data archive
	// there as it exits (see archive.go).
	archiveOut string
}

// Defaults of Config.
const (
	DefaultNodes        = 3
	DefaultPartitions   = 6
	DefaultHeapMB       = 384
	DefaultStartTimeout = 2 * time.Minute
)

var saslNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// withDefaults validates c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Nodes == 0 {
		c.Nodes = DefaultNodes
	}
	if c.Nodes != 1 && c.Nodes != 3 {
		return c, fmt.Errorf("apachekafka: Config.Nodes is %d, want 1 or 3", c.Nodes)
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Partitions < 1 || c.Partitions > 10_000 {
		return c, fmt.Errorf("apachekafka: Config.Partitions is %d, want 1 to 10000", c.Partitions)
	}
	if c.HeapMB == 0 {
		c.HeapMB = DefaultHeapMB
	}
	if c.HeapMB < 128 || c.HeapMB > 32<<10 {
		return c, fmt.Errorf("apachekafka: Config.HeapMB is %d, want 128 to 32768", c.HeapMB)
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.StartTimeout < 0 {
		return c, fmt.Errorf("apachekafka: Config.StartTimeout is %v, want > 0 (0 means %v)", c.StartTimeout, DefaultStartTimeout)
	}
	if c.LogLevel == "" {
		c.LogLevel = "warn"
	}
	switch c.LogLevel {
	case "trace", "debug", "info", "warn", "error":
	default:
		return c, fmt.Errorf("apachekafka: Config.LogLevel is %q, want trace, debug, info, warn or error", c.LogLevel)
	}
	for u, p := range c.SASLUsers {
		if !saslNameRE.MatchString(u) {
			return c, fmt.Errorf("apachekafka: Config.SASLUsers: user name %q: want 1-64 characters of [A-Za-z0-9._-]", u)
		}
		if !saslNameRE.MatchString(p) {
			return c, fmt.Errorf("apachekafka: Config.SASLUsers: password of %q: want 1-64 characters of [A-Za-z0-9._-]", u)
		}
	}
	for _, t := range c.Topics {
		if t == "" {
			return c, errors.New("apachekafka: Config.Topics has an empty name")
		}
	}
	return c, nil
}

// replicationFactor is the replication factor of every topic: one
// replica per broker.
func (c Config) replicationFactor() int16 { return int16(c.Nodes) }

// minInsync is min.insync.replicas: 2 of 3, so that acks=all survives one
// broker down and refuses writes with two down; 1 on one node.
func (c Config) minInsync() int {
	if c.Nodes >= 3 {
		return 2
	}
	return 1
}
