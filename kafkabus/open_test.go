package kafkabus

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// openTest opens cfg and closes the result when the test ends, without
// waiting for a drain: the tests check what they need before.
func openTest(t *testing.T, cfg Config) *Publisher {
	t.Helper()
	p, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = p.Close(ctx)
	})
	return p
}

func TestOpenBuildsTheResilientBusConfigDescribes(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{kt}})
	reg := resilience.NewRegistry(resilience.Settings{})
	p := openTest(t, Config{Options: Options{Brokers: c.Addrs(), ClientID: "file_service"}, Registry: reg})
	if p.Resilient == nil || p.Bus != Bus(p.Resilient) || p.Resilient.producer != Producer(p.Kafka) {
		t.Fatalf("Open built %+v, want a ResilientBus over the KafkaBus", p)
	}
	cb, ok := reg.Get("file_service.kafka_producer")
	if !ok || p.Resilient.Breaker() != cb {
		t.Fatalf("the bus's breaker is not registered as file_service.kafka_producer (registry %v)", reg.States())
	}
	if s := cb.Settings(); s.FailureThreshold != 10 || s.RecoveryTimeout != 30*time.Second || s.SuccessThreshold != 3 {
		t.Fatalf("breaker %d/%v/%d, want the defaults 10/30s/3", s.FailureThreshold, s.RecoveryTimeout, s.SuccessThreshold)
	}
	if q := p.Resilient.Queue().Stats(); q.MaxRecords != 1000 {
		t.Fatalf("queue %+v, want the 1000-record memory queue", q)
	}
	if p.Config.Drain.Batch != 500 || p.Config.PublishTimeout != 10*time.Second {
		t.Fatalf("Publisher.Config %+v lacks the defaults Open ran with", p.Config)
	}
	env, err := event.NewEnvelope("t.v1", "test", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(context.Background(), kt, "k", env); err != nil {
		t.Fatal(err)
	}
	if err := p.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := p.Resilient.Stats(); st.Published != 1 {
		t.Fatalf("stats %+v, want the record published directly", st)
	}
}

func TestOpenWithTheBreakerDisabledGivesThePlainBus(t *testing.T) {
	reg := resilience.NewRegistry(resilience.Settings{})
	p := openTest(t, Config{Options: Options{Brokers: []string{deadAddr(t)}}, Breaker: BreakerConfig{Disabled: true}, Registry: reg})
	if p.Resilient != nil || p.Bus != Bus(p.Kafka) {
		t.Fatalf("Open built %+v, want the KafkaBus alone", p)
	}
	if n := len(reg.All()); n != 0 {
		t.Fatalf("%d breakers registered with the breaker disabled", n)
	}
}

// What a previous process left in the disk spool is delivered by the bus
// Open builds, with no new traffic.
func TestOpenOnADiskSpoolReplaysWhatWasLeftInIt(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{kt}})
	dir := t.TempDir()
	q, err := spool.OpenDisk(dir, spool.DiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b", "c"} {
		if err := q.Append(context.Background(), event.Record{Topic: kt, Key: []byte("k"), Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	p := openTest(t, Config{Options: Options{Brokers: c.Addrs(), KgoOpts: fastRetries},
		Fallback: FallbackConfig{Mode: FallbackDisk, Dir: dir}})
	eventually(t, "the leftovers replayed", func() bool { return p.Resilient.Stats().Replayed == 3 })
	if got := readValues(t, c); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("topic holds %v, want [a b c]", got)
	}
}

// The drain settings reach the drainer, and WrapProducer sits between it
// and Kafka.
func TestOpenHandsTheDrainSettingsToTheDrainer(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{kt}})
	var mu sync.Mutex
	var sizes []int
	p := openTest(t, Config{
		Options: Options{Brokers: c.Addrs(), KgoOpts: fastRetries},
		Drain:   DrainConfig{Batch: 3, InFlight: 1},
		WrapProducer: func(kb Producer) Producer {
			return producerFunc(func(ctx context.Context, recs []event.Record) []error {
				mu.Lock()
				sizes = append(sizes, len(recs))
				mu.Unlock()
				return kb.Produce(ctx, recs)
			})
		},
	})
	p.Resilient.Breaker().ForceOpen()
	for i := range 10 {
		if err := p.Resilient.PublishRecord(context.Background(), event.Record{Topic: kt, Key: []byte("k"), Value: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	p.Resilient.Breaker().Reset()
	eventually(t, "drain", func() bool { return p.Resilient.Stats().Replayed == 10 })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(sizes, []int{3, 3, 3, 1}) {
		t.Fatalf("replay batch sizes %v, want batches of Drain.Batch = 3", sizes)
	}
}

type producerFunc func(ctx context.Context, recs []event.Record) []error

func (f producerFunc) Produce(ctx context.Context, recs []event.Record) []error { return f(ctx, recs) }

// A bad configuration opens nothing: no spool directory is created.
func TestOpenRefusesAnInvalidConfigBeforeOpeningAnything(t *testing.T) {
	dir := t.TempDir() + "/spool"
	_, err := Open(Config{Options: Options{Brokers: []string{"a:9092"}},
		Breaker:  BreakerConfig{FailureThreshold: -1},
		Fallback: FallbackConfig{Mode: FallbackDisk, Dir: dir}})
	if ce, ok := errors.AsType[*ConfigError](err); !ok || ce.Field != "Breaker.FailureThreshold" {
		t.Fatalf("Open = %v, want a *ConfigError for Breaker.FailureThreshold", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("spool directory after an invalid configuration: %v, want none", err)
	}
}

// When a step after opening the spool fails, Open closes what it opened
// without waiting: the spool's lock is free again at once.
func TestOpenFailureUndoesWhatItOpened(t *testing.T) {
	dir := t.TempDir()
	reg := resilience.NewRegistry(resilience.Settings{})
	if _, err := reg.Create(resilience.Settings{Name: "huleedu.kafka_producer"}); err != nil {
		t.Fatal(err)
	}
	err := returnsWithin(t, 10*time.Second, func() error {
		_, err := Open(Config{Options: Options{Brokers: []string{deadAddr(t)}}, Registry: reg,
			Fallback: FallbackConfig{Mode: FallbackDisk, Dir: dir}})
		return err
	})
	if !errors.Is(err, resilience.ErrDuplicateName) {
		t.Fatalf("Open = %v, want the duplicate breaker name", err)
	}
	q, err := spool.OpenDisk(dir, spool.DiskOptions{})
	if err != nil {
		t.Fatalf("the spool is still held after the failed Open: %v", err)
	}
	q.Close()
}

// No broker answers: one refuses connections, the other accepts them and
// says nothing. The start-up check gives up at its bound and names them.
func TestOpenStartupCheckFailsNamingTheBrokersWithinItsBound(t *testing.T) {
	for name, addr := range map[string]string{"refused": deadAddr(t), "silent": silentAddr(t)} {
		t.Run(name, func(t *testing.T) {
			err := returnsWithin(t, 10*time.Second, func() error {
				_, err := Open(Config{Options: Options{Brokers: []string{addr}}, StartupCheck: 300 * time.Millisecond})
				return err
			})
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "no broker of ["+addr+"] answered within 300ms") {
				t.Fatalf("Open = %v, want ErrUnavailable naming %s and the bound", err, addr)
			}
		})
	}
}

// silentAddr returns the address of a listener that accepts connections
// and never answers, until the test ends.
func silentAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}
