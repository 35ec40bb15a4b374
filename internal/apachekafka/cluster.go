package apachekafka

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/internal/netfault"
)

// ErrClosed is returned by the methods of a closed Cluster.
var ErrClosed = errors.New("apachekafka: cluster closed")

// Cluster is a running Apache Kafka cluster of child JVMs. It is safe for
// concurrent use.
type Cluster struct {
	cfg       Config
	inst      *Install
	log       *slog.Logger
	dir       string
	ownDir    bool   // dir is a temporary directory Close removes
	archive   string // the class-data archive every JVM maps, or ""
	clusterID string
	brokers   []*node // index = node id
	all       []*node // brokers, then the dedicated controller if any
	admin     *kgo.Client
	adm       *kadm.Client

	// ctl serialises Fault, Heal and Close, which wait for seconds
	// (without mu, since their waits poll the nodes under mu).
	ctl sync.Mutex
	// mu guards every node's proc and paused, and the fields below.
	mu     sync.Mutex
	active FaultKind
	closed bool
}

// Start starts a cluster and returns once every broker is registered
// and every topic of cfg.Topics has a leader and all its replicas in
// sync, or with an error (and nothing left running) when that does not
// happen within cfg.StartTimeout or ctx. A node that dies on the way is
// reported with the end of its log; the directory stays, so that the
// whole log can be read.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	inst := cfg.Install
	if inst == nil {
		if inst, err = Locate(); err != nil {
			return nil, err
		}
	}
	c := &Cluster{cfg: cfg, inst: inst, log: cfg.Logger, active: FaultNone}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	if cfg.archiveOut == "" {
		c.archive = ensureArchive(ctx, inst, c.log)
	}
	if err := c.start(ctx); err != nil {
		// The nodes' logs stay for whoever reads the error, which
		// names them.
		c.ownDir = false
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	c.dir = c.cfg.Dir
	if c.dir == "" {
		d, err := os.MkdirTemp("", "apachekafka-")
		if err != nil {
			return fmt.Errorf("apachekafka: %w", err)
		}
		c.dir, c.ownDir = d, true
	}
	id, err := newClusterID()
	if err != nil {
		return err
	}
	c.clusterID = id
	if err := c.layout(); err != nil {
		return err
	}
	// One JVM per node formats its storage; they run side by side.
	errs := make([]error, len(c.all))
	var wg sync.WaitGroup
	for i, n := range c.all {
		wg.Go(func() { errs[i] = c.format(ctx, n) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.log.Debug("kafka storage formatted", "nodes", len(c.all), "cluster_id", c.clusterID)
	c.mu.Lock()
	for _, n := range c.all {
		if err := c.startNode(n); err != nil {
			c.mu.Unlock()
			return err
		}
	}
	c.mu.Unlock()
	if err := c.newAdmin(); err != nil {
		return err
	}
	if err := c.waitBrokers(ctx, c.brokerIDs()); err != nil {
		return err
	}
	c.log.Debug("kafka brokers registered", "brokers", c.brokerIDs())
	if len(c.cfg.Topics) > 0 {
		if err := c.createTopics(ctx, c.cfg.Partitions, c.cfg.TopicConfigs, c.cfg.Topics...); err != nil {
			return err
		}
	}
	return c.waitHealthy(ctx)
}

// layout makes the nodes, their ports and the brokers' proxies.
func (c *Cluster) layout() error {
	perBroker := 2 // client, internal
	if !c.cfg.DedicatedController {
		perBroker++ // controller
	}
	if c.sasl() {
		perBroker++
	}
	count := c.cfg.Nodes * perBroker
	if c.cfg.DedicatedController {
		count++
	}
	ports, err := freePorts(count)
	if err != nil {
		return fmt.Errorf("apachekafka: find free ports: %w", err)
	}
	next := func() int { p := ports[0]; ports = ports[1:]; return p }
	for i := range c.cfg.Nodes {
		n := &node{id: int32(i), role: roleCombined, dir: filepath.Join(c.dir, fmt.Sprintf("node-%d", i))}
		if c.cfg.DedicatedController {
			n.role = roleBroker
		}
		n.clientPort, n.internalPort = next(), next()
		if n.role.controller() {
			n.controllerPort = next()
		}
		if c.sasl() {
			n.saslPort = next()
		}
		p, err := netfault.Listen()
		if err != nil {
			return fmt.Errorf("apachekafka: listen for the proxy of broker %d: %w", i, err)
		}
		p.ProxyTo(hostPort(n.clientPort))
		n.proxy = p
		c.brokers = append(c.brokers, n)
		c.all = append(c.all, n)
	}
	if c.cfg.DedicatedController {
		id := int32(c.cfg.Nodes)
		n := &node{id: id, role: roleController, dir: filepath.Join(c.dir, fmt.Sprintf("node-%d", id)), controllerPort: next()}
		c.all = append(c.all, n)
	}
	return nil
}

// newClusterID returns a random cluster id as Kafka writes one
// (org.apache.kafka.common.Uuid: 16 random bytes, URL-safe base64 without
// padding, never starting with '-'), what StorageTool random-uuid prints,
// without a JVM start.
func newClusterID() (string, error) {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("apachekafka: cluster id: %w", err)
		}
		id := base64.RawURLEncoding.EncodeToString(b[:])
		if id[0] != '-' && b != [16]byte{} {
			return id, nil
		}
	}
}

// newAdmin makes the launcher's own client. It talks to the brokers'
// INTERNAL listeners, which no network fault touches, as User:ANONYMOUS,
// a super user.
func (c *Cluster) newAdmin() error {
	var seeds []string
	for _, n := range c.brokers {
		seeds = append(seeds, hostPort(n.internalPort))
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.DialTimeout(time.Second),
		kgo.RequestTimeoutOverhead(5*time.Second),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.DisableClientMetrics(),
	)
	if err != nil {
		return fmt.Errorf("apachekafka: admin client: %w", err)
	}
	c.admin, c.adm = cl, kadm.NewClient(cl)
	return nil
}

// Addrs returns the brokers' bootstrap addresses (127.0.0.1:port), one per
// broker in node id order: each broker's proxy, which is also what the
// broker advertises, so clients reach brokers only through the network
// fault layer. They never change, across restarts too.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.brokers))
	for i, n := range c.brokers {
		addrs[i] = n.proxy.Addr()
	}
	return addrs
}

// SASLAddrs returns the brokers' SASL_PLAINTEXT addresses (PLAIN
// mechanism, Config.SASLUsers), or nil without SASL users. They bypass
// the network fault layer.
func (c *Cluster) SASLAddrs() []string {
	if !c.sasl() {
		return nil
	}
	addrs := make([]string, len(c.brokers))
	for i, n := range c.brokers {
		addrs[i] = hostPort(n.saslPort)
	}
	return addrs
}

// Version returns the Kafka version that runs, Version.
func (c *Cluster) Version() string { return Version }

// ClusterID returns the id the nodes' storage was formatted with.
func (c *Cluster) ClusterID() string { return c.clusterID }

// Dir returns the directory of the nodes' data, configs and logs
// (<Dir>/node-<id>/kafka.log).
func (c *Cluster) Dir() string { return c.dir }

// Brokers returns the broker node ids, 0 to Nodes-1.
func (c *Cluster) Brokers() []int32 { return c.brokerIDs() }

func (c *Cluster) brokerIDs() []int32 {
	ids := make([]int32, len(c.brokers))
	for i, n := range c.brokers {
		ids[i] = n.id
	}
	return ids
}

// Admin returns a kadm client of the cluster, for topics, configs and
// ACLs. It connects to listeners that no fault touches, as a super user.
// The Cluster owns it: do not close it.
func (c *Cluster) Admin() *kadm.Client { return c.adm }

// CreateTopic creates topic with partitions partitions (0: Config.Partitions),
// replication factor Nodes, min.insync.replicas 2 (1 on one node) and
// configs, and waits until every partition's leader serves it and, in
// every broker's metadata, has all replicas in sync: a producer may start
// at once.
func (c *Cluster) CreateTopic(ctx context.Context, topic string, partitions int32, configs map[string]string) error {
	if partitions == 0 {
		partitions = c.cfg.Partitions
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	if err := c.createTopics(ctx, partitions, configs, topic); err != nil {
		return err
	}
	return c.waitHealthy(ctx)
}

// waitServed waits until the leader of every partition of topics serves
// it: Kafka lists a new partition's leader in its metadata before the
// leader has created the partition's log, and answers a produce or a
// ListOffsets meanwhile with UNKNOWN_TOPIC_OR_PARTITION.
func (c *Cluster) waitServed(ctx context.Context, topics ...string) error {
	return c.poll(ctx, fmt.Sprintf("the leaders of %v to serve them", topics), func(ctx context.Context) (bool, string) {
		ends, err := c.adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			return false, err.Error()
		}
		if err := ends.Error(); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

func (c *Cluster) createTopics(ctx context.Context, partitions int32, configs map[string]string, topics ...string) error {
	cfgs := map[string]*string{}
	isr := strconv.Itoa(c.cfg.minInsync())
	cfgs["min.insync.replicas"] = &isr
	for k, v := range configs {
		cfgs[k] = &v
	}
	resp, err := c.adm.CreateTopics(ctx, partitions, c.cfg.replicationFactor(), cfgs, topics...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("apachekafka: create topics %v: %w", topics, err)
	}
	return c.waitServed(ctx, topics...)
}

// Leaders returns the leader of every partition of topic (partition →
// broker id; -1 while a partition has none), as the brokers' metadata
// says.
func (c *Cluster) Leaders(ctx context.Context, topic string) (map[int32]int32, error) {
	st, err := c.state(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("apachekafka: metadata of %s: %w", topic, err)
	}
	ps, ok := st.topics[topic]
	if !ok {
		return nil, fmt.Errorf("apachekafka: metadata of %s: no such topic", topic)
	}
	leaders := make(map[int32]int32, len(ps))
	for p, pd := range ps {
		leaders[p] = pd.leader
	}
	return leaders, nil
}

// WaitHealthy waits until every broker is registered and every partition
// of every topic has a leader and all its replicas in sync, for at most
// Config.StartTimeout.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	return c.waitHealthy(ctx)
}

// waitBrokers waits until the brokers ids are registered and unfenced:
// in the metadata brokers answer with.
func (c *Cluster) waitBrokers(ctx context.Context, ids []int32) error {
	return c.poll(ctx, fmt.Sprintf("brokers %v to register", ids), func(ctx context.Context) (bool, string) {
		registered, err := c.registered(ctx)
		if err != nil {
			return false, err.Error()
		}
		for _, id := range ids {
			if !slices.Contains(registered, id) {
				return false, fmt.Sprintf("registered: %v", registered)
			}
		}
		return true, ""
	})
}

// waitHealthy waits until every broker is registered and, in every
// broker's own metadata, every partition of every topic (internal ones
// included) has a leader and its whole replica set in sync. Asking each
// broker matters: metadata reaches brokers at their own pace, and a
// producer asking one that has not yet heard of a new topic is told
// UNKNOWN_TOPIC_OR_PARTITION.
func (c *Cluster) waitHealthy(ctx context.Context) error {
	ids := c.brokerIDs()
	return c.poll(ctx, "every partition to have a leader and all replicas in sync on every broker", func(ctx context.Context) (bool, string) {
		states := make([]state, len(ids))
		known := map[string]int{} // every topic any broker knows → its partitions
		for i, id := range ids {
			st, err := c.stateAt(ctx, id)
			if err != nil {
				return false, fmt.Sprintf("broker %d: %v", id, err)
			}
			if !slices.Equal(st.brokers, ids) {
				return false, fmt.Sprintf("broker %d: brokers registered: %v", id, st.brokers)
			}
			for t, ps := range st.topics {
				known[t] = max(known[t], len(ps))
			}
			states[i] = st
		}
		for i, st := range states {
			for _, t := range slices.Sorted(maps.Keys(known)) {
				ps := st.topics[t]
				if len(ps) != known[t] {
					return false, fmt.Sprintf("broker %d: %s has %d partitions, want %d", ids[i], t, len(ps), known[t])
				}
				for _, p := range slices.Sorted(maps.Keys(ps)) {
					pd := ps[p]
					if pd.err != nil || pd.leader < 0 || len(pd.isr) != len(pd.replicas) {
						return false, fmt.Sprintf("broker %d: %s/%d: leader %d, replicas %v, in sync %v, err %v", ids[i], t, p, pd.leader, pd.replicas, pd.isr, pd.err)
					}
				}
			}
		}
		return true, ""
	})
}

// poll asks cond every 100ms until it holds, ctx ends, or a node that
// should run has died. The error names what it waited for and the last
// answer.
func (c *Cluster) poll(ctx context.Context, what string, cond func(context.Context) (bool, string)) error {
	last := ""
	logged := time.Now()
	for {
		if err := c.checkAlive(); err != nil {
			return err
		}
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ok, why := cond(actx)
		cancel()
		if ok {
			return nil
		}
		if why != "" {
			last = why
		}
		if time.Since(logged) > 2*time.Second {
			c.log.Debug("kafka: still waiting", "for", what, "last", last)
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("apachekafka: waiting for %s: %w (last: %s)", what, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// checkAlive reports a node that was started and has exited since: a
// broker that failed to start or crashed.
func (c *Cluster) checkAlive() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	for _, n := range c.all {
		if n.proc != nil && !n.running() {
			return fmt.Errorf("apachekafka: %s exited (%v); its log %s ends:\n%s", n.name(), n.proc.err, n.logPath(), c.logTail(n, 30))
		}
	}
	return nil
}

// pids returns the process id of every running node.
func (c *Cluster) pids() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ps []int
	for _, n := range c.all {
		if n.running() {
			ps = append(ps, n.proc.cmd.Process.Pid)
		}
	}
	return ps
}

// Close kills every node (SIGKILL to its process group), waits until they
// are gone, closes the proxies and the admin client, and removes the
// directory if Start made it. Close is idempotent.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true // a Fault or Heal waiting now gives up
	for _, n := range c.all {
		if n.proc != nil {
			n.proc.kill() // all at once, then wait
		}
	}
	c.mu.Unlock()
	c.ctl.Lock()
	defer c.ctl.Unlock()
	c.mu.Lock()
	var errs []error
	for _, n := range c.all {
		if err := c.killNode(n); err != nil {
			errs = append(errs, err)
		}
	}
	c.mu.Unlock()
	if c.admin != nil {
		c.admin.Close()
	}
	for _, n := range c.brokers {
		n.proxy.Close()
	}
	if c.ownDir && c.dir != "" {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("apachekafka: remove %s: %w", c.dir, err))
		}
	}
	return errors.Join(errs...)
}
