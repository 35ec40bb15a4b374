package servicekit

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
)

// publishSpooled publishes n envelopes while Kafka is cut, so each lands
// in the fallback queue, and returns their ids.
func publishSpooled(t *testing.T, bus kafkabus.Bus, n int) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	ctx := testContext(t, 30*time.Second)
	for range n {
		env := newEnvelope(t, `{}`)
		if err := bus.Publish(ctx, topicA, "k", env); err != nil {
			t.Fatalf("publish while Kafka is cut: %v (want it accepted into the fallback queue)", err)
		}
		ids[env.EventID.String()] = true
	}
	if q := bus.(*kafkabus.ResilientBus).Stats().Queue; q.Records != int64(n) {
		t.Fatalf("fallback queue holds %d records, want %d", q.Records, n)
	}
	return ids
}

// assertDelivered fails unless topicA holds exactly the ids.
func assertDelivered(t *testing.T, recs []string, ids map[string]bool) {
	t.Helper()
	got := map[string]bool{}
	for _, id := range recs {
		got[id] = true
	}
	for id := range ids {
		if !got[id] {
			t.Errorf("accepted event %s is not in Kafka", id)
		}
	}
}

// eventIDs returns the event_id header of every record of topic.
func eventIDs(t *testing.T, c *embeddedkafka.Cluster, topic string) []string {
	t.Helper()
	var ids []string
	for _, r := range readTopic(t, c, topic) {
		ids = append(ids, header(r, event.HeaderEventID))
	}
	return ids
}

func TestGracefulStopFlushesFallbackQueue(t *testing.T) {
	c := newCluster(t)
	var bus kafkabus.Bus
	a := startApp(t, testEnv("file_service", c), fx.Populate(&bus))
	heal := cut(t, c)
	ids := publishSpooled(t, bus, 5)

	// Kafka comes back only once the stop has begun, so the records can
	// only reach it through the stop's drain.
	stopped := make(chan error, 1)
	go func() { stopped <- a.Stop(testContext(t, 30*time.Second)) }()
	waitFor(t, 10*time.Second, "the stop to begin", a.Runner().stopping.Load)
	heal()
	if err := <-stopped; err != nil {
		t.Fatalf("Stop = %v, want nil: every record delivered", err)
	}
	assertDelivered(t, eventIDs(t, c, topicA), ids)
}

func TestStopPastDeadlineReportsUndeliveredMemoryRecords(t *testing.T) {
	c := newCluster(t)
	var bus kafkabus.Bus
	a := startApp(t, testEnv("file_service", c), fx.Populate(&bus))
	cut(t, c)
	publishSpooled(t, bus, 3)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := a.Stop(ctx)
	var ue *kafkabus.UndeliveredError
	if !errors.As(err, &ue) || ue.Count != 3 {
		t.Fatalf("Stop = %v, want an *UndeliveredError for the 3 queued records", err)
	}
}

func TestHaltedAppLeavesDiskSpoolForNextStart(t *testing.T) {
	c := newCluster(t)
	env := testEnv("file_service", c, "KAFKA_FALLBACK_MODE=disk", "DATA_DIR="+t.TempDir())
	var bus kafkabus.Bus
	first := startApp(t, env, fx.Populate(&bus))
	heal := cut(t, c)
	ids := publishSpooled(t, bus, 4)
	// Halt reports the flush it cut short; the spool keeps the records.
	if err := first.Halt(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Halt = %v", err)
	}

	var bus2 kafkabus.Bus
	startApp(t, env, fx.Populate(&bus2))
	if q := bus2.(*kafkabus.ResilientBus).Stats().Queue; q.Records != 4 {
		t.Fatalf("restarted app's spool holds %d records, want the 4 the halted one accepted", q.Records)
	}
	heal()
	waitFor(t, 30*time.Second, "the replay", func() bool {
		return bus2.(*kafkabus.ResilientBus).Stats().Replayed == 4
	})
	assertDelivered(t, eventIDs(t, c, topicA), ids)
}

func TestStartFailsNamingAddressVariableWhenPortTaken(t *testing.T) {
	c := newCluster(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := New(testEnv("file_service", c, "FILE_SERVICE_ADMIN_ADDR="+ln.Addr().String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = a.Start(testContext(t, 10*time.Second))
	if want := "FILE_SERVICE_ADMIN_ADDR=" + ln.Addr().String(); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Start = %v, want an error naming %s", err, want)
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	c := newCluster(t)
	a := newApp(t, testEnv("file_service", c), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitFor(t, 10*time.Second, "the admin server", func() bool { return a.Endpoints().Admin != "" })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want a clean stop", err)
	}
}

func TestFailedStartOfServiceModuleClosesKafka(t *testing.T) {
	c := newCluster(t)
	env := testEnv("thing_service", c, "KAFKA_FALLBACK_MODE=disk", "DATA_DIR="+t.TempDir())
	failing := fx.Invoke(func(lc fx.Lifecycle) {
		lc.Append(fx.Hook{OnStart: func(context.Context) error { return errors.New("warming the cache failed") }})
	})
	a, err := New(env, failing, WithLogOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(testContext(t, 10*time.Second)); err == nil || !strings.Contains(err.Error(), "warming the cache failed") {
		t.Fatalf("Start = %v, want the module's error", err)
	}
	// The spool lock is free again: a second app opens the same spool.
	startApp(t, env, nil)
}
