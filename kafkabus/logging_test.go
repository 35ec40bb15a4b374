package kafkabus

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
)

// logBuffer collects log lines from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count is how many lines contain s.
func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// transitionsTo counts cb's transitions into state.
func transitionsTo(cb *resilience.CircuitBreaker, state resilience.State) int {
	n := 0
	for _, tr := range cb.Snapshot().Transitions {
		if tr.To == state {
			n += int(tr.Count)
		}
	}
	return n
}

const (
	logFailed    = "kafka publish failed"
	logRecovered = "kafka publish succeeded again"
	logOpen      = "kafka unavailable: circuit breaker open"
	logClosed    = "kafka available: circuit breaker closed"
)

// A wrong broker address: many publishes and replays fail, but the first
// failure is logged once, naming the brokers, and the breaker's opening
// once; the rest is silence, not a line per call.
func TestFirstFailureAndBreakerTransitionAreLoggedOnceNotPerCall(t *testing.T) {
	var logs logBuffer
	addr := deadAddr(t)
	p := openTest(t, Config{
		Options: Options{Brokers: []string{addr}, PublishTimeout: 100 * time.Millisecond, Logger: logs.logger()},
		Breaker: BreakerConfig{FailureThreshold: 2, RecoveryTimeout: time.Hour},
		Drain:   DrainConfig{RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond},
	})
	for i := range 6 {
		if err := p.Resilient.PublishRecord(context.Background(), event.Record{Topic: kt, Value: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "breaker open", func() bool { return p.Resilient.Breaker().State() == resilience.StateOpen })
	if n := p.Resilient.Breaker().Snapshot().Totals.Failures; n < 2 {
		t.Fatalf("%d failures, want the ones that opened the breaker", n)
	}
	if n := logs.count(logFailed); n != 1 {
		t.Errorf("%q logged %d times, want once:\n%s", logFailed, n, &logs)
	}
	if !strings.Contains(logs.String(), addr) {
		t.Errorf("the failure log does not name the broker %s:\n%s", addr, &logs)
	}
	if n := logs.count(logOpen); n != 1 {
		t.Errorf("%q logged %d times, want once:\n%s", logOpen, n, &logs)
	}
}

// Kafka comes back: the recovery and each transition are logged once.
func TestRecoveryAndEachTransitionAreLoggedOnce(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{kt}})
	var logs logBuffer
	p := openTest(t, Config{
		Options: Options{Brokers: c.Addrs(), PublishTimeout: 300 * time.Millisecond, KgoOpts: fastRetries, Logger: logs.logger()},
		Breaker: BreakerConfig{FailureThreshold: 1, RecoveryTimeout: 100 * time.Millisecond, SuccessThreshold: 1},
		Drain:   DrainConfig{RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, OpenPoll: 20 * time.Millisecond},
	})
	rb := p.Resilient
	publish := func(v string) {
		t.Helper()
		if err := rb.PublishRecord(context.Background(), event.Record{Topic: kt, Key: []byte("k"), Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	publish("warm-up")
	if err := c.Fault(embeddedkafka.FaultCut); err != nil {
		t.Fatal(err)
	}
	publish("a")
	eventually(t, "breaker open", func() bool { return rb.Breaker().State() == resilience.StateOpen })
	publish("b")
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "drained and closed", func() bool {
		return rb.Stats().Replayed == 2 && rb.Breaker().State() == resilience.StateClosed
	})
	publish("c")
	cb := rb.Breaker()
	for _, tc := range []struct {
		line string
		want int
	}{
		{logFailed, 1},
		{logRecovered, 1},
		{logOpen, transitionsTo(cb, resilience.StateOpen)},
		{logClosed, transitionsTo(cb, resilience.StateClosed)},
		{"circuit breaker half-open", transitionsTo(cb, resilience.StateHalfOpen)},
	} {
		if n := logs.count(tc.line); n != tc.want {
			t.Errorf("%q logged %d times, want %d:\n%s", tc.line, n, tc.want, &logs)
		}
	}
}

// Without a Logger, the bus logs to slog.Default(), as the spool does: one
// default for every package.
func TestTheBusLogsToSlogDefaultWithoutALogger(t *testing.T) {
	var logs logBuffer
	old := slog.Default()
	slog.SetDefault(logs.logger())
	t.Cleanup(func() { slog.SetDefault(old) })
	p := openTest(t, Config{
		Options: Options{Brokers: []string{deadAddr(t)}, PublishTimeout: 100 * time.Millisecond},
		Breaker: BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Hour},
	})
	if err := p.Resilient.PublishRecord(context.Background(), event.Record{Topic: kt, Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "breaker open", func() bool { return p.Resilient.Breaker().State() == resilience.StateOpen })
	eventually(t, "the transition logged", func() bool { return logs.count(logOpen) == 1 })
	if logs.count(logFailed) != 1 || logs.count("component=kafka_producer") == 0 || logs.count("component=kafka_bus") == 0 {
		t.Fatalf("slog.Default() got:\n%s\nwant the KafkaBus's and the ResilientBus's lines", &logs)
	}
}
