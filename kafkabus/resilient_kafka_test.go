package kafkabus

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// These tests run ResilientBus over a real KafkaBus against the embedded
// kfake cluster, with faults on the wire. Breakers use real time here, with
// short timeouts, because the outages are real too.

const kt = "resilient"

type kafkaHarness struct {
	cluster *embeddedkafka.Cluster
	bus     *ResilientBus
	cb      *resilience.CircuitBreaker
	kb      *KafkaBus
}

func newKafkaHarness(t *testing.T, cluster *embeddedkafka.Cluster, q spool.Queue, kopts ...func(*Options)) *kafkaHarness {
	t.Helper()
	if cluster == nil {
		cluster = embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{kt}})
	}
	o := Options{Brokers: cluster.Addrs(), PublishTimeout: 500 * time.Millisecond}
	for _, f := range kopts {
		f(&o)
	}
	kb, err := NewKafkaBus(o)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{
		Name:             "test.kafka_producer",
		FailureThreshold: 3,
		RecoveryTimeout:  200 * time.Millisecond,
		SuccessThreshold: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if q == nil {
		if q, err = spool.NewMemory(spool.MemoryOptions{MaxRecords: 100_000}); err != nil {
			t.Fatal(err)
		}
	}
	bus, err := NewResilientBus(kb, ResilientOptions{Breaker: cb, Queue: q, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, OpenPoll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = bus.Close(ctx)
	})
	return &kafkaHarness{cluster: cluster, bus: bus, cb: cb, kb: kb}
}

// closeAndRead closes the bus with a generous deadline (so it drains) and
// returns the topic's values in partition order.
func (h *kafkaHarness) closeAndRead(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.bus.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return readValues(t, h.cluster)
}

// readValues returns the values of topic kt in the cluster.
func readValues(t *testing.T, c *embeddedkafka.Cluster) []string {
	t.Helper()
	recs := readBack(t, c, kt)
	vals := make([]string, len(recs))
	for i, r := range recs {
		vals[i] = string(r.Value)
	}
	return vals
}

func TestKafkaOutageWhileProducersKeepWriting(t *testing.T) {
	h := newKafkaHarness(t, nil, nil)
	accepted := runPublishers(h.bus, 4, time.Millisecond, func() {
		eventually(t, "healthy traffic first", func() bool { return h.bus.Stats().Published >= 100 })
		if err := h.cluster.Fault(embeddedkafka.FaultCut); err != nil {
			t.Error(err)
			return
		}
		eventually(t, "breaker open", func() bool { return h.cb.State() == resilience.StateOpen })
		spooled := h.bus.Stats().Spooled
		eventually(t, "producers still writing while open", func() bool { return h.bus.Stats().Spooled >= spooled+100 })
		if err := h.cluster.Heal(); err != nil {
			t.Error(err)
		}
		eventually(t, "drained", func() bool { return h.bus.Stats().Queue.Records == 0 })
	})
	if st := h.bus.Stats(); st.Spooled == 0 || st.Published == 0 {
		t.Fatalf("stats %+v: want records both published directly and spooled", st)
	}
	checkDelivery(t, accepted, h.closeAndRead(t))
}

// runPublishers runs n publishers, each on its own key, pausing pace between
// records, until script returns. It returns what each was told was
// accepted, in order.
func runPublishers(bus *ResilientBus, n int, pace time.Duration, script func()) [][]string {
	accepted := make([][]string, n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				v := fmt.Sprintf("p%d-%06d", p, i)
				r := event.Record{Topic: kt, Key: []byte("key-" + strconv.Itoa(p)), Value: []byte(v)}
				if bus.PublishRecord(context.Background(), r) == nil {
					accepted[p] = append(accepted[p], v)
				}
				if pace > 0 {
					time.Sleep(pace)
				}
			}
		}()
	}
	script()
	close(stop)
	wg.Wait()
	return accepted
}

func TestKafkaQueueDrainsAfterTrafficStopsWhileOpen(t *testing.T) {
	h := newKafkaHarness(t, nil, nil)
	if err := h.cluster.Fault(embeddedkafka.FaultCut); err != nil {
		t.Fatal(err)
	}
	accepted := [][]string{nil}
	for i := range 20 {
		v := fmt.Sprintf("v%02d", i)
		if err := h.bus.PublishRecord(context.Background(), event.Record{Topic: kt, Key: []byte("k"), Value: []byte(v)}); err != nil {
			t.Fatalf("publish during the outage: %v", err)
		}
		accepted[0] = append(accepted[0], v)
	}
	if err := h.cluster.Heal(); err != nil {
		t.Fatal(err)
	}
	// No publish and no Close: the drainer alone must empty the queue.
	eventually(t, "queue drained without new traffic", func() bool { return h.bus.Stats().Queue.Records == 0 })
	checkDelivery(t, accepted, readValues(t, h.cluster))
}

// A large backlog drains while new writes keep arriving: per key, nothing
// new overtakes anything older.
func TestKafkaBacklogRecoveryWhileNewWritesArrive(t *testing.T) {
	h := newKafkaHarness(t, nil, nil)
	if err := h.cluster.Fault(embeddedkafka.FaultCut); err != nil {
		t.Fatal(err)
	}
	accepted := runPublishers(h.bus, 4, 0, func() {
		eventually(t, "backlog of 8000", func() bool { return h.bus.Stats().Queue.Records >= 8000 })
		if err := h.cluster.Heal(); err != nil {
			t.Error(err)
		}
		// New writes keep arriving while the backlog drains.
		eventually(t, "backlog half drained", func() bool { return h.bus.Stats().Replayed >= 4000 })
	})
	delivered := h.closeAndRead(t)
	if st := h.bus.Stats(); st.Replayed < 8000 {
		t.Fatalf("replayed %d, want the whole backlog", st.Replayed)
	}
	checkDelivery(t, accepted, delivered)
}

// Kafka writes the records but the answers come too late: the bus replays
// them, so they land twice, with the same event id, and none is lost.
func TestKafkaLostResponsesGiveDuplicatesNotLoss(t *testing.T) {
	h := newKafkaHarness(t, nil, nil)
	// A first record loads metadata and opens connections, so that under
	// the fault the produce requests themselves reach the brokers.
	if err := h.bus.PublishRecord(context.Background(), event.Record{Topic: kt, Key: []byte("k"), Value: []byte("warm-up")}); err != nil {
		t.Fatal(err)
	}
	if err := h.cluster.Fault(embeddedkafka.FaultSlow, embeddedkafka.WithDelay(time.Second)); err != nil {
		t.Fatal(err)
	}
	accepted := [][]string{nil}
	for i := range 5 {
		env, err := event.NewEnvelope("drill.v1", "test", map[string]int{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.bus.Publish(context.Background(), kt, "k", env); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		accepted[0] = append(accepted[0], env.EventID.String())
	}
	if err := h.cluster.Heal(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.bus.Close(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := embeddedkafka.ReadAll(ctx, h.cluster.Addrs(), kt)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(recs))
	copies := map[string]int{}
	recs = slices.DeleteFunc(recs, func(r *kgo.Record) bool { return string(r.Value) == "warm-up" })
	for i, r := range recs {
		env, err := event.ParseEnvelope(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if header(r, "event_id") != env.EventID.String() {
			t.Fatalf("record %d: event_id header does not match the envelope", i)
		}
		ids[i] = env.EventID.String()
		copies[ids[i]]++
	}
	checkDelivery(t, accepted, ids)
	dups := len(recs) - len(copies)
	if dups == 0 {
		t.Fatal("no duplicates: the slow fault did not make Kafka write records whose answers were lost")
	}
	t.Logf("%d records accepted, %d in Kafka, %d duplicates (same event_id)", len(accepted[0]), len(recs), dups)
}

// Records Kafka refuses for good are returned to the caller at once, never
// queued, and never counted by the breaker.
func TestKafkaNonRetriableErrorsAreReturnedNotQueued(t *testing.T) {
	describeOnly := kfake.User("PLAIN", "app", "pw", kfake.ACL{
		Resource: kmsg.ACLResourceTypeTopic, Name: kt, Pattern: kmsg.ACLResourcePatternTypeLiteral,
		Operation: kmsg.ACLOperationDescribe, Allow: true,
	})
	cases := []struct {
		name    string
		cluster func(t *testing.T) *embeddedkafka.Cluster
		kopts   []func(*Options)
		topic   string
		value   int
		want    error
	}{
		{
			name: "message too large for the topic",
			cluster: func(t *testing.T) *embeddedkafka.Cluster {
				return embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{kt},
					BrokerConfigs: map[string]string{"message.max.bytes": "2048"}})
			},
			topic: kt, value: 8192, want: ErrMessageTooLarge,
		},
		{
			name: "unknown topic with auto-create off",
			cluster: func(t *testing.T) *embeddedkafka.Cluster {
				return embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{kt}})
			},
			topic: "no-such-topic", value: 10, want: ErrUnknownTopic,
		},
		{
			name: "topic authorization",
			cluster: func(t *testing.T) *embeddedkafka.Cluster {
				return embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{kt}, Options: []kfake.Opt{
					kfake.EnableACLs(), kfake.EnableSASL(), kfake.Superuser("PLAIN", "admin", "admin"), describeOnly,
				}})
			},
			kopts: []func(*Options){func(o *Options) {
				o.KgoOpts = append(o.KgoOpts, kgo.SASL(plain.Auth{User: "app", Pass: "pw"}.AsMechanism()))
			}},
			topic: kt, value: 10, want: ErrAuthorization,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newKafkaHarness(t, c.cluster(t), nil, c.kopts...)
			for range 5 { // past FailureThreshold
				start := time.Now()
				value := make([]byte, c.value)
				_, _ = rand.Read(value) // incompressible: franz-go compresses batches
				err := h.bus.PublishRecord(context.Background(), event.Record{Topic: c.topic, Key: []byte("k"), Value: value})
				if !errors.Is(err, c.want) {
					t.Fatalf("err = %v, want %v", err, c.want)
				}
				if d := time.Since(start); d > 400*time.Millisecond {
					t.Logf("took %v: a permanent error should not wait for the publish timeout", d)
				}
			}
			st := h.bus.Stats()
			if st.Spooled != 0 || st.Queue.Records != 0 {
				t.Fatalf("refused records were queued: %+v", st)
			}
			snap := h.cb.Snapshot()
			if snap.State != resilience.StateClosed || snap.Totals.Failures != 0 {
				t.Fatalf("breaker %v with %d failures: permanent errors must not count", snap.State, snap.Totals.Failures)
			}
		})
	}
}

// Kafka flaps: cut and healed again and again while producers write. The
// breaker opens and closes repeatedly; nothing accepted is lost or
// reordered.
func TestKafkaFlappingLosesAndReordersNothing(t *testing.T) {
	h := newKafkaHarness(t, nil, nil)
	const outages = 4
	accepted := runPublishers(h.bus, 4, time.Millisecond, func() {
		for range outages {
			// Healthy: the breaker closed again, the backlog drained and
			// new records going straight to Kafka.
			published := h.bus.Stats().Published
			eventually(t, "healthy traffic", func() bool {
				return h.cb.State() == resilience.StateClosed && h.bus.Stats().Published >= published+20
			})
			opened := transitionsTo(h.cb, resilience.StateOpen)
			if err := h.cluster.Fault(embeddedkafka.FaultCut); err != nil {
				t.Error(err)
				return
			}
			eventually(t, "the cut to open the breaker", func() bool { return transitionsTo(h.cb, resilience.StateOpen) > opened })
			spooled := h.bus.Stats().Spooled
			eventually(t, "records spooled during the cut", func() bool { return h.bus.Stats().Spooled >= spooled+20 })
			if err := h.cluster.Heal(); err != nil {
				t.Error(err)
				return
			}
		}
		eventually(t, "drained", func() bool { return h.bus.Stats().Queue.Records == 0 })
	})
	if opened := transitionsTo(h.cb, resilience.StateOpen); opened < outages {
		t.Fatalf("the breaker opened %d times over %d outages", opened, outages)
	}
	checkDelivery(t, accepted, h.closeAndRead(t))
}
