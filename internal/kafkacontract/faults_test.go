package kafkacontract

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/internal/apachekafka"
	"github.com/huleedu/huleedu/kafkabus"
)

// leaderFaultOf returns an inject function that starts kind (a leader
// fault) on the leader of the partition of every lane's first key: the
// broker a publisher is writing to.
func leaderFaultOf(kind apachekafka.FaultKind) func(*testing.T, *apachekafka.Cluster, []*lane) {
	return func(t *testing.T, c *apachekafka.Cluster, lanes []*lane) {
		t.Helper()
		var opts []apachekafka.FaultOpt
		for _, l := range lanes {
			opts = append(opts, apachekafka.WithPartitions(l.topic, keyPartition(l.topic, "key-0")))
		}
		if err := c.Fault(kind, opts...); err != nil {
			t.Fatal(err)
		}
	}
}

// keyPartition is the partition of key in topic, by the hash franz-go's
// default partitioner (and Kafka's) uses for keyed records.
func keyPartition(topic, key string) int32 {
	p := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	return int32(p.Partition(&kgo.Record{Key: []byte(key)}, apachekafka.DefaultPartitions))
}

// A broker dies and comes back on its data: the partitions it led fail
// over to the other replicas once the controller fences it, then it
// rejoins and leads again.
func TestBrokerKilledAndRestartedOnItsData(t *testing.T) {
	runScenario(t, scenario{inject: faultOf(apachekafka.FaultBrokerKill)})
}

// The broker leading the partition being written dies under the
// producer: the records in flight to it time out and are replayed after
// the failover, in order.
func TestLeaderOfThePublishedPartitionKilled(t *testing.T) {
	runScenario(t, scenario{inject: leaderFaultOf(apachekafka.FaultLeaderKill)})
}

// A hung broker (SIGSTOP) accepts connections and requests and answers
// none; after three seconds without heartbeats the controller moves its
// leaderships away, while requests already sent to it wait for their
// timeouts.
func TestHungLeader(t *testing.T) {
	runScenario(t, scenario{inject: leaderFaultOf(apachekafka.FaultHang)})
}

// Two of three brokers down: the survivor leads every partition alone,
// below min.insync.replicas=2, and refuses acks=all writes with
// NOT_ENOUGH_REPLICAS, a retriable error: the bus queues, loses nothing,
// and delivers once the brokers are back.
func TestTwoOfThreeBrokersDownRefuseWritesWithNotEnoughReplicas(t *testing.T) {
	runScenario(t, scenario{inject: func(t *testing.T, c *apachekafka.Cluster, lanes []*lane) {
		t.Helper()
		if err := c.Fault(apachekafka.FaultNotEnoughReplicas); err != nil {
			t.Fatal(err)
		}
		// The lanes' records time out on their publish timeout while
		// franz-go retries; one produce that is not retried shows what
		// Kafka answers.
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.DisableIdempotentWrite(), kgo.RecordRetries(0), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = cl.ProduceSync(ctx, &kgo.Record{Topic: lanes[0].topic, Partition: 0, Value: []byte("probe")}).FirstErr()
		if !errors.Is(err, kerr.NotEnoughReplicas) || !kerr.IsRetriable(err) {
			t.Errorf("acks=all produce with two of three brokers down: %v, want retriable NOT_ENOUGH_REPLICAS", err)
		}
		if !kafkabus.IsRetriable(err) {
			t.Errorf("kafkabus does not count %v as retriable", err)
		}
	}})
}

// The whole cluster down (every broker and the controller SIGKILLed) for
// longer than five publish timeouts, and back on its data.
func TestWholeClusterDownAndBack(t *testing.T) {
	runScenario(t, scenario{inject: faultOf(apachekafka.FaultOutage), hold: 5 * publishTimeout})
}

// Every client connection reset, new ones too, while the brokers
// themselves stay healthy and keep replicating.
func TestConnectionsCut(t *testing.T) {
	runScenario(t, scenario{inject: faultOf(apachekafka.FaultCut)})
}

// Connections open but silent: requests in flight get no answer at all,
// until the proxies drop the connections and what they held.
func TestConnectionsBlackholed(t *testing.T) {
	runScenario(t, scenario{inject: faultOf(apachekafka.FaultBlackhole)})
}
