package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
)

// seqOf returns the sequence number a test envelope carries.
func seqOf(t *testing.T, value []byte) int {
	t.Helper()
	env, err := event.ParseEnvelope(value)
	if err != nil {
		t.Fatal(err)
	}
	d, err := event.Decode[map[string]int](env)
	if err != nil {
		t.Fatal(err)
	}
	return d["n"]
}

// TestFailedPublishIsNeverWrittenAfterANewerRecord is the ordering
// guarantee under every fault: record 1 is published into the fault and
// fails retriably; after Heal newer records succeed. Record 1 may be in the
// log (a request that reached the broker before the client gave up), but
// then it was reported as ErrUnknownOutcome, and it is never after a newer
// record of the same key.
func TestKafkaBusFailedPublishIsNeverWrittenAfterANewerRecord(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind embeddedkafka.FaultKind
		opts []embeddedkafka.FaultOpt
	}{
		{"brokers cut", embeddedkafka.FaultCut, nil},
		{"network blackhole", embeddedkafka.FaultBlackhole, nil},
		{"responses slower than the timeout", embeddedkafka.FaultSlow, []embeddedkafka.FaultOpt{embeddedkafka.WithDelay(time.Minute)}},
		{"not leader", embeddedkafka.FaultError, nil},
		{"not enough replicas", embeddedkafka.FaultError, []embeddedkafka.FaultOpt{embeddedkafka.WithError(kerr.NotEnoughReplicas)}},
		{"request timed out after the write", embeddedkafka.FaultError, []embeddedkafka.FaultOpt{embeddedkafka.WithError(kerr.RequestTimedOut)}},
		{"broker restart", embeddedkafka.FaultRestart, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{busTopic}, DataDir: t.TempDir()})
			b := newBus(t, c.Addrs(), func(o *Options) { o.PublishTimeout = 400 * time.Millisecond })
			ctx := context.Background()
			if err := b.Publish(ctx, busTopic, "k", newEnvelope(t, 0)); err != nil {
				t.Fatalf("publish before the fault: %v", err)
			}
			if err := c.Fault(tc.kind, tc.opts...); err != nil {
				t.Fatal(err)
			}
			failed := returnsWithin(t, 10*time.Second, func() error {
				return b.Publish(ctx, busTopic, "k", newEnvelope(t, 1))
			})
			if failed == nil {
				t.Fatal("publish during the fault succeeded")
			}
			if !IsRetriable(failed) || !(errors.Is(failed, ErrUnavailable) || errors.Is(failed, ErrUnknownOutcome)) {
				t.Errorf("publish during the fault: %v, want retriable ErrUnavailable or ErrUnknownOutcome", failed)
			}
			if err := c.Heal(); err != nil {
				t.Fatal(err)
			}
			// Recovery takes a reconnect and a metadata refresh; every
			// attempt is a newer record, and each may fail meanwhile.
			n := 2
			deadline := time.Now().Add(10 * time.Second)
			for ; b.Publish(ctx, busTopic, "k", newEnvelope(t, n)) != nil; n++ {
				if time.Now().After(deadline) {
					t.Fatal("publishing did not recover after Heal")
				}
			}
			var log []int
			for _, r := range readBack(t, c, busTopic) {
				log = append(log, seqOf(t, r.Value))
			}
			if len(log) == 0 || log[0] != 0 || log[len(log)-1] != n {
				t.Fatalf("log %v: want 0 first and the last acknowledged record %d last", log, n)
			}
			for i := 1; i < len(log); i++ {
				if log[i] < log[i-1] {
					t.Fatalf("log %v: record %d written after newer record %d", log, log[i], log[i-1])
				}
			}
			for _, seq := range log {
				if seq == 1 && !errors.Is(failed, ErrUnknownOutcome) {
					t.Errorf("record 1 is in the log, but its publish reported %v, not ErrUnknownOutcome", failed)
				}
			}
		})
	}
}

func TestKafkaBusPublishFollowsMovingLeaders(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{busTopic}})
	b := newBus(t, c.Addrs(), nil)
	if err := c.Fault(embeddedkafka.FaultLeaderMove, embeddedkafka.WithInterval(10*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	const n = 40
	for i := range n {
		if err := b.Publish(context.Background(), busTopic, "k", newEnvelope(t, i)); err != nil {
			t.Fatalf("publish %d during leader moves: %v", i, err)
		}
	}
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	recs := readBack(t, c, busTopic)
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	for i, r := range recs {
		if got := seqOf(t, r.Value); got != i {
			t.Fatalf("record %d is %d: %v", i, got, fmt.Sprint(recs))
		}
	}
}
