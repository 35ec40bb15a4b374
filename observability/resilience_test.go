package observability_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/resilience"
)

// The interfaces this package defines are the ones package resilience's
// types satisfy; this fails to compile if either side drifts.
var (
	_ observability.SnapshotSource   = (*resilience.Registry)(nil)
	_ observability.TransitionSource = (*resilience.Registry)(nil)
	_ observability.Caller           = (*resilience.CircuitBreaker)(nil)
)

var errDependencyDown = errors.New("dependency down")

// tripBreaker makes one success, two failures (opening the breaker with
// FailureThreshold 2) and one rejected call.
func tripBreaker(t *testing.T, c observability.Caller) {
	t.Helper()
	ctx := context.Background()
	if err := c.Call(ctx, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.Call(ctx, func(context.Context) error { return errDependencyDown }); !errors.Is(err, errDependencyDown) {
			t.Fatalf("failing call returned %v", err)
		}
	}
	if err := c.Call(ctx, func(context.Context) error { return nil }); !errors.Is(err, resilience.ErrCircuitOpen) {
		t.Fatalf("call on the open breaker returned %v, want ErrCircuitOpen", err)
	}
}

func newKafkaBreaker(t *testing.T, reg *resilience.Registry) *resilience.CircuitBreaker {
	t.Helper()
	cb, err := reg.Create(resilience.Settings{Name: "kafka", FailureThreshold: 2, RecoveryTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

func TestBreakerCollectorExportsRealRegistry(t *testing.T) {
	reg := resilience.NewRegistry(resilience.Settings{})
	tripBreaker(t, newKafkaBreaker(t, reg))

	const want = `
# HELP circuit_breaker_state Current circuit breaker state: 0 closed, 1 open, 2 half-open.
# TYPE circuit_breaker_state gauge
circuit_breaker_state{circuit_name="kafka",service="svc"} 1
# HELP circuit_breaker_calls_total Calls through the circuit breaker by result: success, failure, blocked (rejected without running), ignored.
# TYPE circuit_breaker_calls_total counter
circuit_breaker_calls_total{circuit_name="kafka",result="blocked",service="svc"} 1
circuit_breaker_calls_total{circuit_name="kafka",result="failure",service="svc"} 2
circuit_breaker_calls_total{circuit_name="kafka",result="ignored",service="svc"} 0
circuit_breaker_calls_total{circuit_name="kafka",result="success",service="svc"} 1
`
	c := observability.NewBreakerCollector("svc", reg)
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "circuit_breaker_state", "circuit_breaker_calls_total"); err != nil {
		t.Fatal(err)
	}
	out, err := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, "circuit_breaker_state_changes_total")
	if err != nil {
		t.Fatal(err)
	}
	if line := `circuit_breaker_state_changes_total{circuit_name="kafka",from_state="closed",service="svc",to_state="open"} 1`; !strings.Contains(string(out), line) {
		t.Fatalf("exposition lacks %s:\n%s", line, out)
	}
}

func TestLogTransitionsLogsRealBreakerOpeningAtWarn(t *testing.T) {
	reg := resilience.NewRegistry(resilience.Settings{})
	var buf bytes.Buffer
	cancel := observability.LogTransitions(observability.NewLogger(&buf, "svc", slog.LevelInfo), reg)
	defer cancel()
	tripBreaker(t, newKafkaBreaker(t, reg))

	recs := decodeLines(t, &buf)
	if len(recs) != 1 {
		t.Fatalf("%d records, want exactly one for the single transition: %v", len(recs), recs)
	}
	if r := recs[0]; r["level"] != "WARN" || r["circuit_name"] != "kafka" || r["from_state"] != "closed" || r["to_state"] != "open" {
		t.Fatalf("record = %v", r)
	}
}

func TestTracedRecognizesRealBreakerRejection(t *testing.T) {
	rec, tracer := newTestTracer(t)
	reg := resilience.NewRegistry(resilience.Settings{})
	tripBreaker(t, observability.Traced(tracer, newKafkaBreaker(t, reg)))

	spans := rec.Ended()
	if len(spans) != 4 {
		t.Fatalf("%d spans, want 4", len(spans))
	}
	var outcomes []string
	for _, s := range spans {
		outcomes = append(outcomes, attrMap(s.Attributes())["outcome"])
	}
	if got := strings.Join(outcomes, ","); got != "success,failure,failure,rejected" {
		t.Fatalf("outcomes = %s", got)
	}
	if ev := spans[3].Events(); len(ev) != 1 || ev[0].Name != "circuit_breaker.rejected" || attrMap(ev[0].Attributes)["state"] != "open" {
		t.Fatalf("rejection events = %+v", ev)
	}
}

// BenchmarkBreakerCall shows that registering the collector leaves a
// breaker call's cost unchanged: the collector has no hook on the call path,
// it only reads snapshots when scraped.
func BenchmarkBreakerCall(b *testing.B) {
	fn := func(context.Context) error { return nil }
	for _, withCollector := range []bool{false, true} {
		name := "without_collector"
		if withCollector {
			name = "with_collector"
		}
		b.Run(name, func(b *testing.B) {
			reg := resilience.NewRegistry(resilience.Settings{})
			cb, err := reg.Create(resilience.Settings{Name: "kafka"})
			if err != nil {
				b.Fatal(err)
			}
			if withCollector {
				prometheus.NewRegistry().MustRegister(observability.NewBreakerCollector("svc", reg))
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_ = cb.Call(ctx, fn)
			}
		})
	}
}
