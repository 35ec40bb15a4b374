package apachekafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/huleedu/huleedu/internal/netfault"
)

// role is what a node runs.
type role int

const (
	roleCombined   role = iota // broker and controller
	roleBroker                 // broker only
	roleController             // controller only
)

func (r role) processRoles() string {
	switch r {
	case roleBroker:
		return "broker"
	case roleController:
		return "controller"
	}
	return "broker,controller"
}

func (r role) broker() bool     { return r != roleController }
func (r role) controller() bool { return r != roleBroker }

// Listener names. Clients reach a broker on CLIENT through its proxy
// (the advertised address); INTERNAL carries replication and the
// launcher's own admin requests, which faults must not touch; SASL is the
// authenticated listener of Config.SASLUsers.
const (
	listenerClient     = "CLIENT"
	listenerInternal   = "INTERNAL"
	listenerController = "CONTROLLER"
	listenerSASL       = "SASL"
)

// node is one Kafka process: its ports, directory and, while it runs, its
// process. Cluster.mu guards proc and paused.
type node struct {
	id   int32
	role role
	dir  string

	clientPort, internalPort, controllerPort, saslPort int
	proxy                                              *netfault.Port // brokers only: the advertised CLIENT address

	proc   *process // nil while the node is down
	paused bool     // SIGSTOPped
}

// process is a running JVM.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited and been reaped
	err    error         // why it exited; read after exited is closed
}

func (n *node) running() bool {
	if n.proc == nil {
		return false
	}
	select {
	case <-n.proc.exited:
		return false
	default:
		return true
	}
}

func (n *node) name() string {
	if n.role == roleController {
		return fmt.Sprintf("controller %d", n.id)
	}
	return fmt.Sprintf("broker %d", n.id)
}

func (n *node) propsPath() string { return filepath.Join(n.dir, "server.properties") }
func (n *node) logPath() string   { return filepath.Join(n.dir, "kafka.log") }
func (n *node) dataDir() string   { return filepath.Join(n.dir, "data") }

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// brokerDefaults are the server.properties entries every node gets
// beyond its identity and listeners: what a test cluster on a small
// machine needs, in Kafka's own terms. Config.BrokerConfigs override
// them.
func brokerDefaults(cfg Config) map[string]string {
	rf := strconv.Itoa(int(cfg.replicationFactor()))
	isr := strconv.Itoa(cfg.minInsync())
	return map[string]string{
		// As in production: a typo in a topic name is an error, not a
		// new topic.
		"auto.create.topics.enable":  "false",
		"num.partitions":             strconv.Itoa(int(cfg.Partitions)),
		"default.replication.factor": rf,
		"min.insync.replicas":        isr,
		// Internal topics replicated like ours, and with one partition
		// each: fifty partitions of __consumer_offsets take seconds to
		// create and nothing here needs them.
		"offsets.topic.replication.factor":                 rf,
		"offsets.topic.num.partitions":                     "1",
		"transaction.state.log.replication.factor":         rf,
		"transaction.state.log.min.isr":                    isr,
		"transaction.state.log.num.partitions":             "1",
		"share.coordinator.state.topic.replication.factor": rf,
		"share.coordinator.state.topic.min.isr":            isr,
		"share.coordinator.state.topic.num.partitions":     "1",
		"group.initial.rebalance.delay.ms":                 "0",
		// A broker that stops heartbeating (killed, hung) is fenced and
		// loses its leaderships after 3s rather than 9s.
		"broker.heartbeat.interval.ms": "500",
		"broker.session.timeout.ms":    "3000",
		"replica.lag.time.max.ms":      "10000",
		// Leaders move only when a fault or Heal moves them, not on
		// Kafka's own five-minute rebalance timer in the middle of a test.
		"auto.leader.rebalance.enable":   "false",
		"unclean.leader.election.enable": "false",
		// Fewer threads and a small cleaner buffer (128 MB by default,
		// allocated at start) for a small heap on a small machine.
		"num.network.threads":            "2",
		"num.io.threads":                 "4",
		"background.threads":             "4",
		"log.cleaner.threads":            "1",
		"log.cleaner.dedupe.buffer.size": "2097152",
	}
}

// properties renders n's server.properties.
func (c *Cluster) properties(n *node) string {
	props := map[string]string{
		"node.id":                        strconv.Itoa(int(n.id)),
		"process.roles":                  n.role.processRoles(),
		"controller.quorum.voters":       c.voters(),
		"controller.listener.names":      listenerController,
		"log.dirs":                       n.dataDir(),
		"listener.security.protocol.map": c.protocolMap(),
	}
	var listeners []string
	if n.role.broker() {
		listeners = append(listeners,
			listenerClient+"://"+hostPort(n.clientPort),
			listenerInternal+"://"+hostPort(n.internalPort))
		advertised := []string{
			listenerClient + "://" + n.proxy.Addr(),
			listenerInternal + "://" + hostPort(n.internalPort),
		}
		if c.sasl() {
			listeners = append(listeners, listenerSASL+"://"+hostPort(n.saslPort))
			advertised = append(advertised, listenerSASL+"://"+hostPort(n.saslPort))
		}
		props["advertised.listeners"] = strings.Join(advertised, ",")
		props["inter.broker.listener.name"] = listenerInternal
	}
	if n.role.controller() {
		listeners = append(listeners, listenerController+"://"+hostPort(n.controllerPort))
	}
	props["listeners"] = strings.Join(listeners, ",")
	if c.sasl() {
		maps.Copy(props, c.saslProps())
	}
	if n.role.broker() {
		maps.Copy(props, brokerDefaults(c.cfg))
		maps.Copy(props, c.cfg.BrokerConfigs)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s of an Apache Kafka %s test cluster (package apachekafka)\n", n.name(), Version)
	for _, k := range slices.Sorted(maps.Keys(props)) {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	return b.String()
}

// voters is controller.quorum.voters: id@host:port of every controller.
func (c *Cluster) voters() string {
	var vs []string
	for _, n := range c.all {
		if n.role.controller() {
			vs = append(vs, fmt.Sprintf("%d@%s", n.id, hostPort(n.controllerPort)))
		}
	}
	return strings.Join(vs, ",")
}

func (c *Cluster) protocolMap() string {
	m := listenerClient + ":PLAINTEXT," + listenerInternal + ":PLAINTEXT," + listenerController + ":PLAINTEXT"
	if c.sasl() {
		m += "," + listenerSASL + ":SASL_PLAINTEXT"
	}
	return m
}

func (c *Cluster) sasl() bool { return len(c.cfg.SASLUsers) > 0 }

// saslProps turn on SASL/PLAIN on the SASL listener and the
// StandardAuthorizer on every node (controllers store and check ACLs).
func (c *Cluster) saslProps() map[string]string {
	var jaas strings.Builder
	jaas.WriteString("org.apache.kafka.common.security.plain.PlainLoginModule required")
	for _, u := range slices.Sorted(maps.Keys(c.cfg.SASLUsers)) {
		fmt.Fprintf(&jaas, " user_%s=%q", u, c.cfg.SASLUsers[u])
	}
	jaas.WriteString(";")
	name := strings.ToLower(listenerSASL)
	return map[string]string{
		"sasl.enabled.mechanisms":                            "PLAIN",
		"listener.name." + name + ".sasl.enabled.mechanisms": "PLAIN",
		"listener.name." + name + ".plain.sasl.jaas.config":  jaas.String(),
		"authorizer.class.name":                              "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":                                        "User:ANONYMOUS",
	}
}

// jvmOptions are the options of every JVM the launcher starts, tuned for
// start-up time on a small machine: one GC thread (SerialGC), the quick
// C1 compiler only, the broker's class-data archive (archive.go) or the
// JDK's, no perf-data file in /tmp, and a temporary directory (for snappy
// and zstd's native libraries) inside the node's.
func (c *Cluster) jvmOptions(heapMB int, tmp string) []string {
	opts := []string{
		fmt.Sprintf("-Xmx%dm", heapMB),
		"-XX:+UseSerialGC",
		"-XX:TieredStopAtLevel=1",
		"-Xshare:auto",
		"-XX:-UsePerfData",
		"-XX:+ExitOnOutOfMemoryError",
		"-Djava.awt.headless=true",
		"-Djava.io.tmpdir=" + tmp,
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=" + c.cfg.LogLevel,
		"-Dorg.slf4j.simpleLogger.showDateTime=true",
		"-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
	}
	if c.archive != "" {
		opts = append(opts, "-XX:SharedArchiveFile="+c.archive)
	}
	return append(opts, c.cfg.JVMOptions...)
}

func (c *Cluster) heapOf(n *node) int {
	if n.role == roleController {
		return max(c.cfg.HeapMB/2, 128)
	}
	return c.cfg.HeapMB
}

// java returns a command running main class main with args on the
// broker classpath, its output appended to n's log file.
func (c *Cluster) java(n *node, heapMB int, main string, args ...string) (*exec.Cmd, *os.File, error) {
	tmp := filepath.Join(n.dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, nil, err
	}
	log, err := os.OpenFile(n.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	argv := c.jvmOptions(heapMB, tmp)
	if main == "kafka.Kafka" && c.cfg.archiveOut != "" {
		argv = append(argv, "-XX:ArchiveClassesAtExit="+c.cfg.archiveOut)
	}
	argv = append(argv, "-cp", strings.Join(c.inst.Classpath, string(os.PathListSeparator)), main)
	cmd := exec.Command(c.inst.Java, append(argv, args...)...)
	cmd.Dir = n.dir
	cmd.Stdout, cmd.Stderr = log, log
	return cmd, log, nil
}

// format writes n's properties and formats its storage for the cluster
// (kafka.tools.StorageTool format, what bin/kafka-storage.sh runs), with
// the static quorum of controller.quorum.voters.
func (c *Cluster) format(ctx context.Context, n *node) error {
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return fmt.Errorf("apachekafka: %s: %w", n.name(), err)
	}
	if err := os.WriteFile(n.propsPath(), []byte(c.properties(n)), 0o644); err != nil {
		return fmt.Errorf("apachekafka: %s: %w", n.name(), err)
	}
	cmd, log, err := c.java(n, 128, "kafka.tools.StorageTool", "format", "--cluster-id", c.clusterID, "--config", n.propsPath())
	if err != nil {
		return fmt.Errorf("apachekafka: %s: %w", n.name(), err)
	}
	defer log.Close()
	p, err := startProcess(cmd)
	if err != nil {
		return fmt.Errorf("apachekafka: %s: start %s: %w", n.name(), c.inst.Java, err)
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		p.kill()
		<-p.exited
		return fmt.Errorf("apachekafka: %s: format storage: %w", n.name(), ctx.Err())
	}
	if p.err != nil {
		return fmt.Errorf("apachekafka: %s: format storage (kafka.tools.StorageTool): %w; its log %s ends:\n%s", n.name(), p.err, n.logPath(), c.logTail(n, 20))
	}
	return nil
}

// startNode starts n's broker or controller (kafka.Kafka, what
// bin/kafka-server-start.sh runs). Cluster.mu is held.
func (c *Cluster) startNode(n *node) error {
	cmd, log, err := c.java(n, c.heapOf(n), "kafka.Kafka", n.propsPath())
	if err != nil {
		return fmt.Errorf("apachekafka: %s: %w", n.name(), err)
	}
	defer log.Close() // the child has its own descriptor
	p, err := startProcess(cmd)
	if err != nil {
		return fmt.Errorf("apachekafka: %s: start %s: %w", n.name(), c.inst.Java, err)
	}
	n.proc, n.paused = p, false
	c.log.Info("kafka node started", "node", n.id, "role", n.role.processRoles(), "pid", cmd.Process.Pid)
	return nil
}

// startProcess starts cmd through the spawner and reaps it when it
// exits.
func startProcess(cmd *exec.Cmd) (*process, error) {
	if err := children.start(cmd); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		children.reaped()
		close(p.exited)
	}()
	return p, nil
}

// signal sends sig to p's process group.
func (p *process) signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil // already gone
	}
	return err
}

func (p *process) kill() { _ = p.signal(syscall.SIGKILL) }

// killNode SIGKILLs n (a stopped process dies too) and waits until it is
// gone. Cluster.mu is held.
func (c *Cluster) killNode(n *node) error {
	if n.proc == nil {
		return nil
	}
	if err := n.proc.signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("apachekafka: kill %s: %w", n.name(), err)
	}
	select {
	case <-n.proc.exited:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("apachekafka: %s (pid %d) still runs 30s after SIGKILL", n.name(), n.proc.cmd.Process.Pid)
	}
	c.log.Info("kafka node killed", "node", n.id)
	n.proc, n.paused = nil, false
	return nil
}

// logTail returns the last lines of n's log file, without the frames of
// Java stack traces, which say where and not what.
func (c *Cluster) logTail(n *node, lines int) string {
	b, err := os.ReadFile(n.logPath())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	var kept []string
	for _, l := range strings.Split(string(b), "\n") {
		if t := strings.TrimLeft(l, " \t"); strings.HasPrefix(t, "at ") || strings.HasPrefix(t, "... ") {
			continue
		}
		kept = append(kept, l)
	}
	return tail(strings.Join(kept, "\n"), lines)
}

// freePorts returns n free loopback ports. They are found by listening on
// port 0 and closed again before Kafka binds them; all are held open until
// every one is found, so no two are the same.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}
