package embeddedkafka

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestParseFaultKind(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want FaultKind
		err  bool
	}{
		{"cut", FaultCut, false},
		{" Blackhole ", FaultBlackhole, false},
		{"leader-move", FaultLeaderMove, false},
		{"none", FaultNone, false},
		{"partition", "", true},
		{"", "", true},
	} {
		got, err := ParseFaultKind(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseFaultKind(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil {
			for _, k := range FaultKinds() {
				if !strings.Contains(err.Error(), string(k)) {
					t.Errorf("error %q does not list %q", err, k)
				}
			}
		}
	}
}

func TestFaultRejectsBadOptions(t *testing.T) {
	c := NewTestCluster(t, Config{Brokers: 2})
	for _, tc := range []struct {
		name string
		kind FaultKind
		opts []FaultOpt
		want string
	}{
		{"unknown kind", "flood", nil, "valid kinds"},
		{"broker out of range", FaultCut, []FaultOpt{WithBrokers(2)}, "node 2 out of range"},
		{"zero delay", FaultSlow, []FaultOpt{WithDelay(0)}, "delay"},
		{"nil error", FaultError, []FaultOpt{WithError(nil)}, "needs a Kafka error"},
		{"zero interval", FaultLeaderMove, []FaultOpt{WithInterval(0)}, "interval"},
		{"restart without data dir", FaultRestart, nil, "Config.DataDir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Fault(tc.kind, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Fault = %v, want an error mentioning %q", err, tc.want)
			}
			if c.Active() != FaultNone {
				t.Errorf("rejected fault left %q active", c.Active())
			}
		})
	}
}

// Fault accepts what ParseFaultKind accepts, and injects that fault.
func TestFaultNormalisesTheKindAsParseFaultKindDoes(t *testing.T) {
	c := NewTestCluster(t, Config{Brokers: 1})
	if err := c.Fault(" CUT "); err != nil {
		t.Fatal(err)
	}
	if c.Active() != FaultCut {
		t.Errorf("active fault %q, want %q", c.Active(), FaultCut)
	}
	if err := exchange(c.Addrs()[0], 5*time.Second); !isReset(err) {
		t.Errorf("new connection during the cut: %v, want reset", err)
	}
}

func TestSecondFaultIsRejectedUntilHeal(t *testing.T) {
	c := NewTestCluster(t, Config{Brokers: 1})
	if err := c.Fault(FaultSlow, WithDelay(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := c.Fault(FaultCut); err == nil || !strings.Contains(err.Error(), `"slow" is active`) {
		t.Errorf("second Fault = %v", err)
	}
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := c.Heal(); err != nil {
		t.Errorf("Heal without a fault = %v", err)
	}
	if err := c.Fault(FaultCut); err != nil {
		t.Errorf("Fault after Heal = %v", err)
	}
}

func TestCutResetsOpenAndNewConnectionsUntilHeal(t *testing.T) {
	c := NewTestCluster(t, Config{Brokers: 1})
	open := dial(t, c.Addrs()[0])
	if err := apiVersions(open, 5*time.Second); err != nil {
		t.Fatalf("healthy connection: %v", err)
	}
	if err := c.Fault(FaultCut); err != nil {
		t.Fatal(err)
	}
	if err := apiVersions(open, 5*time.Second); !isReset(err) {
		t.Errorf("open connection after cut: %v, want reset", err)
	}
	if err := exchange(c.Addrs()[0], 5*time.Second); !isReset(err) {
		t.Errorf("new connection during cut: %v, want reset", err)
	}
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := exchange(c.Addrs()[0], 5*time.Second); err != nil {
		t.Errorf("new connection after heal: %v", err)
	}
}

func TestCutFailsProducerUntilHeal(t *testing.T) {
	c := NewTestCluster(t, Config{Topics: []string{testTopic}})
	cl := newClient(t, c, kgo.AllowIdempotentProduceCancellation())
	mustProduce(t, cl, "k", "before")
	if err := c.Fault(FaultCut); err != nil {
		t.Fatal(err)
	}
	produceFails(t, cl, 500*time.Millisecond)
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	mustProduce(t, cl, "k", "after")
	if got := readValues(t, c); !slices.Equal(got, []string{"before", "after"}) {
		t.Errorf("log = %v", got)
	}
}

func TestWithBrokersCutsOnlyThoseBrokers(t *testing.T) {
	c := NewTestCluster(t, Config{Brokers: 2})
	if err := c.Fault(FaultCut, WithBrokers(1)); err != nil {
		t.Fatal(err)
	}
	if err := exchange(c.Addrs()[0], 5*time.Second); err != nil {
		t.Errorf("broker 0: %v, want it untouched", err)
	}
	if err := exchange(c.Addrs()[1], 5*time.Second); !isReset(err) {
		t.Errorf("broker 1: %v, want reset", err)
	}
}

func TestBlackholeHoldsBytesAndHealDropsThem(t *testing.T) {
	c := NewTestCluster(t, Config{Brokers: 1})
	open := dial(t, c.Addrs()[0])
	if err := apiVersions(open, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.Fault(FaultBlackhole); err != nil {
		t.Fatal(err)
	}
	if err := apiVersions(open, 200*time.Millisecond); !isTimeout(err) {
		t.Errorf("open connection in blackhole: %v, want a timeout", err)
	}
	fresh := dial(t, c.Addrs()[0]) // accepted, then silent
	if err := apiVersions(fresh, 200*time.Millisecond); !isTimeout(err) {
		t.Errorf("new connection in blackhole: %v, want a timeout", err)
	}
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	// The held request is dropped with its connection, never answered.
	open.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := open.Read(make([]byte, 64)); !isReset(err) {
		t.Errorf("blackholed connection after heal: %v, want reset", err)
	}
	if err := exchange(c.Addrs()[0], 5*time.Second); err != nil {
		t.Errorf("new connection after heal: %v", err)
	}
}

func TestBlackholeTimesOutProducerAndHealRecovers(t *testing.T) {
	c := NewTestCluster(t, Config{Topics: []string{testTopic}})
	cl := newClient(t, c, kgo.AllowIdempotentProduceCancellation())
	mustProduce(t, cl, "k", "before")
	if err := c.Fault(FaultBlackhole); err != nil {
		t.Fatal(err)
	}
	if err := produceFails(t, cl, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("produce in blackhole: %v, want a timeout", err)
	}
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	mustProduce(t, cl, "k", "after")
	got := readValues(t, c)
	if got[0] != "before" || got[len(got)-1] != "after" {
		t.Errorf("log = %v", got)
	}
}

func TestErrorFaultAnswersProduceWithKafkaError(t *testing.T) {
	c := NewTestCluster(t, Config{Topics: []string{testTopic}})
	// One retry: the record fails with the broker's error instead of
	// retrying until the context ends.
	cl := newClient(t, c, kgo.RecordRetries(1))
	mustProduce(t, cl, "k", "before")
	if err := c.Fault(FaultError, WithError(kerr.NotEnoughReplicas)); err != nil {
		t.Fatal(err)
	}
	if err := produceFails(t, cl, 5*time.Second); !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Errorf("produce during error fault: %v, want NOT_ENOUGH_REPLICAS", err)
	}
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	mustProduce(t, cl, "k", "after")
}

func TestErrorFaultLeavesOtherTopicsAlone(t *testing.T) {
	c := NewTestCluster(t, Config{Topics: []string{testTopic, "other"}})
	cl := newClient(t, c, kgo.RecordRetries(1))
	if err := c.Fault(FaultError, WithTopic("other")); err != nil {
		t.Fatal(err)
	}
	mustProduce(t, cl, "k", "unaffected")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := cl.ProduceSync(ctx, &kgo.Record{Topic: "other", Value: []byte("v")}).FirstErr()
	if !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Errorf("produce to faulted topic: %v, want NOT_LEADER_FOR_PARTITION", err)
	}
}

func TestSlowDelaysResponsesBeyondTimeout(t *testing.T) {
	c := NewTestCluster(t, Config{Topics: []string{testTopic}})
	cl := newClient(t, c, kgo.AllowIdempotentProduceCancellation())
	mustProduce(t, cl, "k", "before")
	if err := c.Fault(FaultSlow, WithDelay(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := produceFails(t, cl, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("produce against slow brokers: %v, want a timeout", err)
	}
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	mustProduce(t, cl, "k", "after")
}

func TestSlowDelaysButDeliversWithinPatience(t *testing.T) {
	c := NewTestCluster(t, Config{Brokers: 1})
	if err := c.Fault(FaultSlow, WithDelay(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	conn := dial(t, c.Addrs()[0])
	if err := apiVersions(conn, 20*time.Millisecond); !isTimeout(err) {
		t.Errorf("response arrived before the delay: %v", err)
	}
	if err := exchange(c.Addrs()[0], 5*time.Second); err != nil {
		t.Errorf("slow response never arrived: %v", err)
	}
}

func TestRestartKeepsRecordsAndAddresses(t *testing.T) {
	c := NewTestCluster(t, Config{Topics: []string{testTopic}, DataDir: t.TempDir()})
	addrs := c.Addrs()
	cl := newClient(t, c, kgo.AllowIdempotentProduceCancellation())
	for _, v := range []string{"a", "b", "c"} {
		mustProduce(t, cl, "k", v)
	}
	if err := c.Fault(FaultRestart); err != nil {
		t.Fatal(err)
	}
	if c.Kfake() != nil {
		t.Error("Kfake() is not nil while the cluster is down")
	}
	if err := exchange(addrs[0], 5*time.Second); !isReset(err) {
		t.Errorf("connection while down: %v, want reset", err)
	}
	produceFails(t, cl, 300*time.Millisecond)
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Addrs(), addrs) {
		t.Errorf("addresses changed: %v -> %v", addrs, c.Addrs())
	}
	mustProduce(t, cl, "k", "d")
	got := readValues(t, c)
	if !slices.Equal(got[:3], []string{"a", "b", "c"}) || got[len(got)-1] != "d" {
		t.Errorf("log after restart = %v, want a b c first and d last", got)
	}
}

// leaders returns the leader of every partition of the test topic.
func leaders(c *Cluster) []int32 {
	var ls []int32
	for _, p := range c.Kfake().PartitionInfos(testTopic) {
		ls = append(ls, p.Leader)
	}
	return ls
}

func TestLeaderMoveOnceMovesEveryPartitionToNextBroker(t *testing.T) {
	c := NewTestCluster(t, Config{Topics: []string{testTopic}, Partitions: 3})
	writtenTo := make(chan int32, 16) // broker of every produced batch
	cl := newClient(t, c, kgo.WithHooks(batchHook(func(node int32) { writtenTo <- node })),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	mustProduce(t, cl, "k", "before") // partition 0
	before := leaders(c)
	if err := c.Fault(FaultLeaderMove, WithOnce()); err != nil {
		t.Fatal(err)
	}
	after := leaders(c)
	for i := range before {
		if after[i] != (before[i]+1)%3 {
			t.Errorf("partition %d: leader %d -> %d, want %d", i, before[i], after[i], (before[i]+1)%3)
		}
	}
	mustProduce(t, cl, "k", "after")
	// The hook may run after the promise: wait for both batches.
	for i, want := range []int32{before[0], after[0]} {
		select {
		case node := <-writtenTo:
			if node != want {
				t.Errorf("batch %d written to broker %d, want %d: the producer did not follow the leader", i, node, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("batch %d was never reported written", i)
		}
	}
}

func TestLeaderMoveKeepsMovingUntilHeal(t *testing.T) {
	c := NewTestCluster(t, Config{Topics: []string{testTopic}, Partitions: 2})
	cl := newClient(t, c)
	epoch0 := c.Kfake().PartitionInfo(testTopic, 0).Epoch
	if err := c.Fault(FaultLeaderMove, WithInterval(20*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	var want []string
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; c.Kfake().PartitionInfo(testTopic, 0).Epoch < epoch0+5; i++ {
		if time.Now().After(deadline) {
			t.Fatal("leaders did not keep moving")
		}
		v := string(rune('a' + i%26))
		mustProduce(t, cl, "k", v)
		want = append(want, v)
	}
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	epoch := c.Kfake().PartitionInfo(testTopic, 0).Epoch
	mustProduce(t, cl, "k", "after")
	want = append(want, "after")
	if e := c.Kfake().PartitionInfo(testTopic, 0).Epoch; e != epoch {
		t.Errorf("leader epoch moved from %d to %d after Heal", epoch, e)
	}
	if got := readValues(t, c); !slices.Equal(got, want) {
		t.Errorf("records during leader moves: got %v, want %v", got, want)
	}
}

// batchHook reports the broker every produced batch was written to.
type batchHook func(node int32)

func (h batchHook) OnProduceBatchWritten(meta kgo.BrokerMetadata, _ string, _ int32, _ kgo.ProduceBatchMetrics) {
	h(meta.NodeID)
}
