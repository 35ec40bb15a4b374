package kafkabus

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/testwait"
)

const busTopic = "kafkabus.test"

// fastRetries keeps franz-go's backoffs short so recovery after a fault
// takes milliseconds, not seconds.
var fastRetries = []kgo.Opt{
	kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }),
	kgo.MetadataMinAge(20 * time.Millisecond),
}

// newBus returns a bus on addrs that the test closes.
func newBus(t *testing.T, addrs []string, configure func(*Options)) *KafkaBus {
	t.Helper()
	o := Options{Brokers: addrs, PublishTimeout: 5 * time.Second, KgoOpts: fastRetries}
	if configure != nil {
		configure(&o)
	}
	// KB_DEBUG=1 shows franz-go's debug log, for a test that misbehaves.
	if os.Getenv("KB_DEBUG") != "" {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, err := NewKafkaBus(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.Close(ctx)
	})
	return b
}

func newEnvelope(t *testing.T, n int) *event.Envelope {
	t.Helper()
	env, err := event.NewEnvelope(event.TypeEssayContentProvisionedV1, "file_service",
		map[string]int{"n": n}, event.WithCorrelationID(fmt.Sprintf("corr-%d", n)))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// readBack returns the records of topic in the cluster.
func readBack(t *testing.T, c *embeddedkafka.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := embeddedkafka.ReadAll(ctx, c.Addrs(), topic)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// header returns the value of r's header key, or "".
func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 10*time.Second, what, cond)
}

// returnsWithin runs fn and fails the test if it has not returned within
// limit: a bound that shows "fails fast, not after the publish timeout"
// without asserting on timings.
func returnsWithin[T any](t *testing.T, limit time.Duration, fn func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- fn() }()
	select {
	case v := <-done:
		return v
	case <-time.After(limit):
		t.Fatalf("did not return within %v", limit)
		panic("unreachable")
	}
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
