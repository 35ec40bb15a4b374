package servicekit

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// unreachable returns a loopback address nothing listens on.
func unreachable(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// spoolWith leaves n records in a disk spool in a new directory, as a
// process that could not deliver them would have.
func spoolWith(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	q, err := spool.OpenDisk(dir, spool.DiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := q.Append(context.Background(), event.Record{Topic: "t", Key: []byte("k"), Value: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// spooled is how many records the spool in dir holds.
func spooled(t *testing.T, dir string) int64 {
	t.Helper()
	q, err := spool.OpenDisk(dir, spool.DiskOptions{})
	if err != nil {
		t.Fatalf("reopening the spool: %v", err)
	}
	defer q.Close()
	return q.Stats().Records
}

// newKafkaWithin runs NewKafka and fails the test if it has not returned
// within a minute: a hang is the failure these tests look for.
func newKafkaWithin(t *testing.T, s Settings, breakers *resilience.Registry, metrics *prometheus.Registry) (*Kafka, error) {
	t.Helper()
	type result struct {
		k   *Kafka
		err error
	}
	done := make(chan result, 1)
	go func() {
		k, err := NewKafka(s, breakers, metrics, nil)
		done <- result{k, err}
	}()
	select {
	case r := <-done:
		return r.k, r.err
	case <-time.After(time.Minute):
		t.Fatal("NewKafka did not return within a minute")
		return nil, nil
	}
}

// Issue 15: registering the metrics used to come after the ResilientBus
// had started, and its error path closed the bus with
// context.Background(): with records in the disk spool and Kafka
// unreachable, that Close waited for a drain that could never finish.
// The collectors are now registered before anything starts, so either
// failure returns at once, starts nothing, and leaves the spool as it was.
func TestNewKafkaMetricsRegistrationFailureNeitherHangsNorStartsTheBus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		taken prometheus.Collector // registered first, so NewKafka's collector collides
	}{
		{"publish latency", observability.NewPublishLatency("file_service")},
		{"bus collector", observability.NewBusCollector("file_service", &busStats{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := spoolWith(t, 3)
			s, err := LoadSettingsFrom(NewEnv("file_service", []string{
				"KAFKA_BOOTSTRAP_SERVERS=" + unreachable(t), "KAFKA_PUBLISH_TIMEOUT=200ms",
				"KAFKA_FALLBACK_MODE=disk", "KAFKA_FALLBACK_DIR=" + dir,
			}))
			if err != nil {
				t.Fatal(err)
			}
			metrics := prometheus.NewRegistry()
			if err := metrics.Register(tc.taken); err != nil {
				t.Fatal(err)
			}
			breakers := resilience.NewRegistry(resilience.Settings{})
			k, err := newKafkaWithin(t, s, breakers, metrics)
			if err == nil {
				k.Close(context.Background())
				t.Fatal("NewKafka succeeded although its metrics could not be registered")
			}
			if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); !ok {
				t.Fatalf("err = %v, want the registration failure", err)
			}
			if _, ok := breakers.Get("file_service.kafka_producer"); ok {
				t.Error("the breaker was registered although nothing started")
			}
			if n := spooled(t, dir); n != 3 {
				t.Fatalf("the spool holds %d records after the failed start, want the 3 left in it", n)
			}
			// Nothing of the failed attempt stays registered.
			metrics.Unregister(tc.taken)
			if err := metrics.Register(observability.NewPublishLatency("file_service")); err != nil {
				t.Fatalf("the failed NewKafka left its latency histogram registered: %v", err)
			}
		})
	}
}

// A start-up check against brokers that do not answer fails NewKafka
// within the bound, naming the brokers, and undoes everything: no
// breaker, no metrics, the spool unlocked.
func TestNewKafkaStartupCheckFailsNamingTheBrokers(t *testing.T) {
	addr := unreachable(t)
	dir := t.TempDir()
	s, err := LoadSettingsFrom(NewEnv("file_service", []string{
		"KAFKA_BOOTSTRAP_SERVERS=" + addr, "KAFKA_STARTUP_CHECK_TIMEOUT=500ms",
		"KAFKA_FALLBACK_MODE=disk", "KAFKA_FALLBACK_DIR=" + dir,
	}))
	if err != nil {
		t.Fatal(err)
	}
	metrics := prometheus.NewRegistry()
	breakers := resilience.NewRegistry(resilience.Settings{})
	k, err := newKafkaWithin(t, s, breakers, metrics)
	if err == nil {
		k.Close(context.Background())
		t.Fatal("NewKafka succeeded with no broker answering")
	}
	if !errors.Is(err, kafkabus.ErrUnavailable) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "500ms") {
		t.Fatalf("err = %v, want ErrUnavailable naming %s and the 500ms bound", err, addr)
	}
	if _, ok := breakers.Get("file_service.kafka_producer"); ok {
		t.Error("the breaker was registered although the start failed")
	}
	if mfs, _ := metrics.Gather(); len(mfs) != 0 {
		t.Errorf("the failed start left %d metric families registered", len(mfs))
	}
	if n := spooled(t, dir); n != 0 {
		t.Fatalf("spool holds %d records", n)
	}
}

// With the check on and a broker answering, the service starts.
func TestNewKafkaStartupCheckPassesWhenABrokerAnswers(t *testing.T) {
	c := newCluster(t)
	s, err := LoadSettingsFrom(testEnv("file_service", c, "KAFKA_STARTUP_CHECK_TIMEOUT=10s"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := newKafkaWithin(t, s, resilience.NewRegistry(resilience.Settings{}), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
