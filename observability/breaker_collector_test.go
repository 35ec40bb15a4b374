package observability_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/resilience"
)

// fakeSnapshots is a SnapshotSource that counts how often it is read.
type fakeSnapshots struct {
	snaps []resilience.Snapshot
	reads atomic.Int64
}

func (f *fakeSnapshots) Snapshots() []resilience.Snapshot {
	f.reads.Add(1)
	return f.snaps
}

func kafkaOpenSnapshot() resilience.Snapshot {
	return resilience.Snapshot{
		Name:   "kafka",
		State:  resilience.StateOpen,
		Totals: resilience.Counts{Successes: 120, Failures: 10, Ignored: 2, Rejected: 35, Slow: 4},
		Transitions: []resilience.TransitionCount{
			{From: resilience.StateClosed, To: resilience.StateOpen, Count: 2},
			{From: resilience.StateOpen, To: resilience.StateHalfOpen, Count: 1},
			{From: resilience.StateHalfOpen, To: resilience.StateOpen, Count: 1},
		},
	}
}

func TestBreakerCollectorExportsStateCallsAndTransitions(t *testing.T) {
	src := &fakeSnapshots{snaps: []resilience.Snapshot{
		kafkaOpenSnapshot(),
		{Name: "content_service", State: resilience.StateHalfOpen},
	}}
	c := observability.NewBreakerCollector("file_service", src)

	const want = `
# HELP circuit_breaker_state Current circuit breaker state: 0 closed, 1 open, 2 half-open.
# TYPE circuit_breaker_state gauge
circuit_breaker_state{circuit_name="content_service",service="file_service"} 2
circuit_breaker_state{circuit_name="kafka",service="file_service"} 1
# HELP circuit_breaker_calls_total Calls through the circuit breaker by result: success, failure, blocked (rejected without running), ignored.
# TYPE circuit_breaker_calls_total counter
circuit_breaker_calls_total{circuit_name="content_service",result="blocked",service="file_service"} 0
circuit_breaker_calls_total{circuit_name="content_service",result="failure",service="file_service"} 0
circuit_breaker_calls_total{circuit_name="content_service",result="ignored",service="file_service"} 0
circuit_breaker_calls_total{circuit_name="content_service",result="success",service="file_service"} 0
circuit_breaker_calls_total{circuit_name="kafka",result="blocked",service="file_service"} 35
circuit_breaker_calls_total{circuit_name="kafka",result="failure",service="file_service"} 10
circuit_breaker_calls_total{circuit_name="kafka",result="ignored",service="file_service"} 2
circuit_breaker_calls_total{circuit_name="kafka",result="success",service="file_service"} 120
# HELP circuit_breaker_state_changes_total Circuit breaker state transitions, by from_state and to_state (closed, open, half_open).
# TYPE circuit_breaker_state_changes_total counter
circuit_breaker_state_changes_total{circuit_name="content_service",from_state="closed",service="file_service",to_state="open"} 0
circuit_breaker_state_changes_total{circuit_name="content_service",from_state="half_open",service="file_service",to_state="closed"} 0
circuit_breaker_state_changes_total{circuit_name="content_service",from_state="half_open",service="file_service",to_state="open"} 0
circuit_breaker_state_changes_total{circuit_name="content_service",from_state="open",service="file_service",to_state="half_open"} 0
circuit_breaker_state_changes_total{circuit_name="kafka",from_state="closed",service="file_service",to_state="open"} 2
circuit_breaker_state_changes_total{circuit_name="kafka",from_state="half_open",service="file_service",to_state="closed"} 0
circuit_breaker_state_changes_total{circuit_name="kafka",from_state="half_open",service="file_service",to_state="open"} 1
circuit_breaker_state_changes_total{circuit_name="kafka",from_state="open",service="file_service",to_state="half_open"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestBreakerCollectorExportsUnusualTransitionsAndSumsDuplicates(t *testing.T) {
	src := &fakeSnapshots{snaps: []resilience.Snapshot{{
		Name:  "kafka",
		State: resilience.StateClosed,
		Transitions: []resilience.TransitionCount{
			// An operator's force-close, which the canonical set lacks.
			{From: resilience.StateOpen, To: resilience.StateClosed, Count: 1},
			{From: resilience.StateClosed, To: resilience.StateOpen, Count: 2},
			{From: resilience.StateClosed, To: resilience.StateOpen, Count: 3},
			// Invalid states are skipped rather than failing the scrape.
			{From: resilience.State(9), To: resilience.StateOpen, Count: 4},
		},
	}}}
	c := observability.NewBreakerCollector("svc", src)
	const want = `
# HELP circuit_breaker_state_changes_total Circuit breaker state transitions, by from_state and to_state (closed, open, half_open).
# TYPE circuit_breaker_state_changes_total counter
circuit_breaker_state_changes_total{circuit_name="kafka",from_state="closed",service="svc",to_state="open"} 5
circuit_breaker_state_changes_total{circuit_name="kafka",from_state="half_open",service="svc",to_state="closed"} 0
circuit_breaker_state_changes_total{circuit_name="kafka",from_state="half_open",service="svc",to_state="open"} 0
circuit_breaker_state_changes_total{circuit_name="kafka",from_state="open",service="svc",to_state="closed"} 1
circuit_breaker_state_changes_total{circuit_name="kafka",from_state="open",service="svc",to_state="half_open"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "circuit_breaker_state_changes_total"); err != nil {
		t.Fatal(err)
	}
}

func TestBreakerCollectorReadsSnapshotsOnlyAtScrape(t *testing.T) {
	src := &fakeSnapshots{snaps: []resilience.Snapshot{kafkaOpenSnapshot()}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(observability.NewBreakerCollector("svc", src))
	if n := src.reads.Load(); n != 0 {
		t.Fatalf("%d reads before any scrape, want 0", n)
	}
	for i := 1; i <= 3; i++ {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
		if n := src.reads.Load(); n != int64(i) {
			t.Fatalf("after %d scrapes: %d reads, want one per scrape", i, n)
		}
	}
}

func TestBreakerCollectorPassesLint(t *testing.T) {
	c := observability.NewBreakerCollector("svc", &fakeSnapshots{snaps: []resilience.Snapshot{kafkaOpenSnapshot()}})
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("lint problems: %+v", problems)
	}
}

// BenchmarkBreakerCollectorScrape measures a whole scrape of 100 breakers.
// This is the only place the collector does work: a breaker call never
// touches it.
func BenchmarkBreakerCollectorScrape(b *testing.B) {
	snaps := make([]resilience.Snapshot, 100)
	for i := range snaps {
		snaps[i] = kafkaOpenSnapshot()
		snaps[i].Name = fmt.Sprintf("breaker_%03d", i)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(observability.NewBreakerCollector("svc", &fakeSnapshots{snaps: snaps}))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
