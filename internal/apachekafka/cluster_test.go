package apachekafka

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const testTopic = "apachekafka.events"

// newClient returns a producing client of c's brokers (through the
// proxies) that the test closes.
func newClient(t *testing.T, c *Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.Addrs()...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.AllowIdempotentProduceCancellation(),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.MetadataMinAge(50 * time.Millisecond),
		kgo.DialTimeout(time.Second),
		kgo.RequestTimeoutOverhead(time.Second),
		kgo.DisableClientMetrics(),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produce(cl *kgo.Client, within time.Duration, value string) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	return cl.ProduceSync(ctx, &kgo.Record{Topic: testTopic, Key: []byte("k"), Value: []byte(value)}).FirstErr()
}

// readValues reads testTopic back from the start with a client of its own.
func readValues(t *testing.T, c *Cluster) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := c.Admin().ListEndOffsets(ctx, testTopic)
	if err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, c, kgo.ConsumeTopics(testTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	want := int64(0)
	for _, ps := range ends {
		for _, o := range ps {
			want += o.Offset
		}
	}
	var vals []string
	for int64(len(vals)) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", len(vals), want, err)
		}
		fs.EachRecord(func(r *kgo.Record) { vals = append(vals, string(r.Value)) })
	}
	return vals
}

func TestOneNodeClusterServesClientsOnlyThroughItsProxy(t *testing.T) {
	c := startCluster(t, Config{Nodes: 1, Topics: []string{testTopic}})
	cl := newClient(t, c)
	if err := produce(cl, 30*time.Second, "first"); err != nil {
		t.Fatalf("produce: %v", err)
	}
	// The broker advertises the proxy, so that is where clients go.
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	var advertised []string
	for _, b := range resp.Brokers {
		advertised = append(advertised, hostPort(int(b.Port)))
	}
	if !slices.Equal(advertised, c.Addrs()) {
		t.Errorf("brokers advertise %v, want the proxies %v", advertised, c.Addrs())
	}
	if got := c.Version(); got != Version {
		t.Errorf("Version() = %q, want %q", got, Version)
	}

	if err := c.Fault(FaultCut); err != nil {
		t.Fatal(err)
	}
	if err := produce(cl, 2*time.Second, "during the cut"); err == nil {
		t.Error("produce succeeded through a cut proxy")
	}
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := produce(cl, 30*time.Second, "after the cut"); err != nil {
		t.Fatalf("produce after Heal: %v", err)
	}

	// Killed and restarted on its data, the broker still has every record.
	if err := c.Fault(FaultBrokerKill); err != nil {
		t.Fatal(err)
	}
	if len(c.pids()) != 0 {
		t.Fatalf("pids %v still run after broker-kill of the only broker", c.pids())
	}
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := produce(cl, 30*time.Second, "after the restart"); err != nil {
		t.Fatalf("produce after the restart: %v", err)
	}
	got := readValues(t, c)
	if got[0] != "first" || got[len(got)-1] != "after the restart" || !slices.Contains(got, "after the cut") {
		t.Errorf("log after a cut and a restart = %v", got)
	}
}

func TestCloseKillsEveryNodeAndIsIdempotent(t *testing.T) {
	c := startCluster(t, Config{Nodes: 1})
	pids := c.pids()
	if len(pids) != 1 {
		t.Fatalf("pids %v, want one JVM", pids)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !processGone(pids[0]) {
		t.Errorf("JVM %d runs after Close", pids[0])
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := c.Fault(FaultCut); !errors.Is(err, ErrClosed) {
		t.Errorf("Fault after Close = %v, want ErrClosed", err)
	}
	if err := c.Heal(); !errors.Is(err, ErrClosed) {
		t.Errorf("Heal after Close = %v, want ErrClosed", err)
	}
}

// A node that cannot start fails Start with the end of its log, and the
// directory with the whole log stays.
func TestStartReportsANodeThatDiesWithTheEndOfItsLog(t *testing.T) {
	inst := install(t)
	for _, tc := range []struct {
		name   string
		config map[string]string
		want   []string
	}{
		// StorageTool checks the config before it formats.
		{"invalid config", map[string]string{"log.retention.ms": "not-a-number"},
			[]string{"format storage", "Invalid value not-a-number for configuration log.retention.ms"}},
		// The broker loads its metric reporters only as it starts.
		{"broker dies starting", map[string]string{"metric.reporters": "org.example.NoSuchReporter"},
			[]string{"broker 0 exited", "org.example.NoSuchReporter"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Start(context.Background(), Config{Nodes: 1, Install: inst, Dir: dir, BrokerConfigs: tc.config})
			if err == nil {
				t.Fatal("Start succeeded")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Start = %v\nwant it to say %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "\tat ") {
				t.Errorf("Start = %v\nwant no Java stack frames", err)
			}
		})
	}
}

// Start makes a class-data archive once per Java and jars, and the JVM
// takes it: with sharing required (-Xshare:on), it maps the archive with
// the brokers' classpath.
func TestBrokersStartFromTheClassDataArchive(t *testing.T) {
	c := startCluster(t, Config{Nodes: 1})
	if c.archive == "" {
		t.Fatal("no class-data archive")
	}
	if !slices.Contains(c.jvmOptions(128, t.TempDir()), "-XX:SharedArchiveFile="+c.archive) {
		t.Errorf("JVM options %v do not map the archive", c.jvmOptions(128, t.TempDir()))
	}
	if err := checkArchive(c.inst, c.archive); err != nil {
		t.Fatal(err)
	}
	if err := checkArchive(c.inst, filepath.Join(t.TempDir(), "none.jsa")); err == nil {
		t.Error("checkArchive accepted an archive that does not exist")
	}
}

// In combined mode the controller quorum is every node: with two of three
// down it is lost, so nothing shrinks the survivor's in-sync replicas and
// an acks=all produce gets no NOT_ENOUGH_REPLICAS, only a timeout. (Why
// FaultNotEnoughReplicas needs Config.DedicatedController.) Heal brings
// the quorum back.
func TestTwoOfThreeCombinedNodesDownLoseTheQuorum(t *testing.T) {
	c := startCluster(t, Config{Nodes: 3, Partitions: 3, Topics: []string{testTopic}})
	leaders, err := c.Leaders(context.Background(), testTopic)
	if err != nil {
		t.Fatal(err)
	}
	p0 := int32(-1)
	for p, l := range leaders {
		if l == 0 {
			p0 = p
		}
	}
	if p0 < 0 {
		t.Fatalf("broker 0 leads none of %v", leaders)
	}
	cl := newClient(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProduceRequestTimeout(time.Second))
	produceTo := func(within time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		return cl.ProduceSync(ctx, &kgo.Record{Topic: testTopic, Partition: p0, Value: []byte("v")}).FirstErr()
	}
	if err := produceTo(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(1); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(2); err != nil {
		t.Fatal(err)
	}
	// Well past the 3s after which a controller would have fenced them.
	err = produceTo(6 * time.Second)
	if err == nil || errors.Is(err, kerr.NotEnoughReplicas) {
		t.Fatalf("produce with the quorum lost: %v, want a timeout and no NOT_ENOUGH_REPLICAS", err)
	}
	st, err := c.stateAt(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if isr := st.topics[testTopic][p0].isr; len(isr) != 3 {
		t.Errorf("in sync %v: want all three still, with no controller to shrink them", isr)
	}
	// Heal restarts what Kill stopped, though no fault was active.
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := produceTo(30 * time.Second); err != nil {
		t.Fatalf("produce once the nodes are back: %v", err)
	}
}
