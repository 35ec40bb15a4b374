package kafkacontract

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
)

// Records Kafka refuses for good come back to the caller as errors at
// once: never queued, never counted by the breaker, so that one bad
// record cannot open the circuit for every other.
func TestRefusedRecordsAreReturnedNotQueued(t *testing.T) {
	c := kafka(t)
	ctx := context.Background()
	small := topicName(t, "small")
	if err := c.CreateTopic(ctx, small, 1, map[string]string{"max.message.bytes": "2048"}); err != nil {
		t.Fatal(err)
	}
	guarded := topicName(t, "guarded")
	if err := c.CreateTopic(ctx, guarded, 1, nil); err != nil {
		t.Fatal(err)
	}
	// The SASL user may see the topic, not write it.
	acl := kadm.NewACLs().Allow("User:" + deniedUser).Topics(guarded).Operations(kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral)
	res, err := c.Admin().CreateACLs(ctx, acl)
	if err == nil {
		for _, r := range res {
			err = errors.Join(err, r.Err)
		}
	}
	if err != nil {
		t.Fatalf("create ACL: %v", err)
	}

	for _, tc := range []struct {
		name  string
		addrs []string
		kgo   []kgo.Opt
		topic string
		size  int
		want  error
	}{
		// The broker's topic-level max.message.bytes, below what the
		// producer allows (1 MB): only Kafka can refuse it.
		{name: "larger than the topic's max.message.bytes", addrs: c.Addrs(), topic: small, size: 8192, want: kafkabus.ErrMessageTooLarge},
		{name: "unknown topic with auto-creation off", addrs: c.Addrs(), topic: topicName(t, "missing"), size: 10, want: kafkabus.ErrUnknownTopic},
		{name: "principal denied by ACL", addrs: c.SASLAddrs(), topic: guarded, size: 10, want: kafkabus.ErrAuthorization,
			kgo: []kgo.Opt{kgo.SASL(plain.Auth{User: deniedUser, Pass: deniedPass}.AsMechanism())}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := newObserver()
			kb, err := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: tc.addrs, PublishTimeout: 5 * time.Second, Logger: obs.logger(tc.name), KgoOpts: tc.kgo})
			if err != nil {
				t.Fatal(err)
			}
			cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "refused", FailureThreshold: 1, RecoveryTimeout: time.Minute, SuccessThreshold: 1})
			if err != nil {
				t.Fatal(err)
			}
			bus := newBusWithMemory(t, kb, cb)
			for i := range 3 {
				value := make([]byte, tc.size)
				rand.Read(value) // incompressible: franz-go compresses batches
				start := time.Now()
				err := bus.PublishRecord(ctx, event.Record{Topic: tc.topic, Key: []byte("k"), Value: value})
				if !errors.Is(err, tc.want) || kafkabus.IsRetriable(err) {
					t.Fatalf("publish %d: %v, want permanent %v", i, err, tc.want)
				}
				if d := time.Since(start); d >= 5*time.Second {
					t.Errorf("publish %d took %v: a permanent error must not wait for the publish timeout", i, d)
				}
				t.Logf("publish %d: %v (after %v)", i, err, time.Since(start).Round(time.Millisecond))
			}
			st := bus.Stats()
			if st.Spooled != 0 || st.Queue.Records != 0 || st.Rejected != 3 {
				t.Errorf("stats %+v: want 3 refused and nothing queued", st)
			}
			// One failure would have opened this breaker.
			if snap := cb.Snapshot(); snap.State != resilience.StateClosed || snap.Totals.Failures != 0 {
				t.Errorf("breaker %v with %d failures: a refused record must not count", snap.State, snap.Totals.Failures)
			}
			t.Logf("%s", obs.summary())
		})
	}
}

// newBusWithMemory wraps kb with cb and a memory queue; the test closes it.
func newBusWithMemory(t *testing.T, kb *kafkabus.KafkaBus, cb *resilience.CircuitBreaker) *kafkabus.ResilientBus {
	t.Helper()
	q, err := spoolMemory()
	if err != nil {
		t.Fatal(err)
	}
	bus, err := kafkabus.NewResilientBus(kb, kafkabus.ResilientOptions{Breaker: cb, Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := bus.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return bus
}
