package observability_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/outbox"
)

// The outbox types are the sources services register; this fails to
// compile if their Stats methods drift from the interfaces.
var (
	_ observability.OutboxTableSource = (*outbox.Outbox)(nil)
	_ observability.OutboxRelaySource = (*outbox.Relay)(nil)
)

type fakeOutboxTable struct {
	st  outbox.TableStats
	err error
}

func (f *fakeOutboxTable) Stats(context.Context) (outbox.TableStats, error) { return f.st, f.err }

type fakeOutboxRelay struct{ st outbox.RelayStats }

func (f *fakeOutboxRelay) Stats() outbox.RelayStats { return f.st }

func TestOutboxCollectorExportsTableAndRelay(t *testing.T) {
	table := &fakeOutboxTable{st: outbox.TableStats{
		Pending: 120, Retrying: 7, OldestPendingAt: scrapeTime.Add(-42 * time.Second),
		DeadLetters: 2, Relays: []outbox.RelayLease{{ID: "a", Partitions: 32}, {ID: "b", Partitions: 32}},
	}}
	relay := &fakeOutboxRelay{st: outbox.RelayStats{Running: true, Published: 900, Failed: 30, DeadLettered: 2, Errors: 1, Leases: 32}}
	c := observability.NewOutboxCollector("essay_lifecycle_service", table, relay, observability.WithOutboxClock(fixedClock))
	const want = `
# HELP outbox_dead_lettered_total Outbox rows Kafka rejected for good, moved to the dead letters by this process's relay.
# TYPE outbox_dead_lettered_total counter
outbox_dead_lettered_total{service="essay_lifecycle_service"} 2
# HELP outbox_dead_letters Outbox rows Kafka rejected for good, kept until an operator re-drives or purges them.
# TYPE outbox_dead_letters gauge
outbox_dead_letters{service="essay_lifecycle_service"} 2
# HELP outbox_leases_held Outbox lease partitions this process's relay holds (64 in all).
# TYPE outbox_leases_held gauge
outbox_leases_held{service="essay_lifecycle_service"} 32
# HELP outbox_oldest_event_age_seconds Age of the oldest outbox row waiting to be published; 0 when none waits.
# TYPE outbox_oldest_event_age_seconds gauge
outbox_oldest_event_age_seconds{service="essay_lifecycle_service"} 42
# HELP outbox_publish_failures_total Outbox publish attempts that failed with a retriable error; the rows are retried.
# TYPE outbox_publish_failures_total counter
outbox_publish_failures_total{service="essay_lifecycle_service"} 30
# HELP outbox_published_total Outbox rows this process's relay published (Kafka acknowledged them).
# TYPE outbox_published_total counter
outbox_published_total{service="essay_lifecycle_service"} 900
# HELP outbox_queue_depth Outbox rows waiting to be published (neither published nor dead-lettered).
# TYPE outbox_queue_depth gauge
outbox_queue_depth{service="essay_lifecycle_service"} 120
# HELP outbox_queue_retrying Outbox rows waiting for a retry after a failed publish.
# TYPE outbox_queue_retrying gauge
outbox_queue_retrying{service="essay_lifecycle_service"} 7
# HELP outbox_relay_errors_total Database failures of this process's outbox relay (reads, settling, leases); each is retried.
# TYPE outbox_relay_errors_total counter
outbox_relay_errors_total{service="essay_lifecycle_service"} 1
# HELP outbox_relay_running 1 while this process's outbox relay runs, else 0.
# TYPE outbox_relay_running gauge
outbox_relay_running{service="essay_lifecycle_service"} 1
# HELP outbox_relays_alive Relays with an unexpired heartbeat in the outbox table.
# TYPE outbox_relays_alive gauge
outbox_relays_alive{service="essay_lifecycle_service"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestOutboxCollectorReportsNoAgeForAnEmptyTable(t *testing.T) {
	table := &fakeOutboxTable{st: outbox.TableStats{OldestPendingAt: scrapeTime.Add(-time.Hour)}}
	c := observability.NewOutboxCollector("svc", table, nil, observability.WithOutboxClock(fixedClock))
	const want = `
# HELP outbox_oldest_event_age_seconds Age of the oldest outbox row waiting to be published; 0 when none waits.
# TYPE outbox_oldest_event_age_seconds gauge
outbox_oldest_event_age_seconds{service="svc"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "outbox_oldest_event_age_seconds"); err != nil {
		t.Fatal(err)
	}
}

// A database that does not answer leaves the table's series out and
// fails only that part of the scrape: the relay's counters are served.
func TestOutboxCollectorServesRelayCountersWhenTheDatabaseIsDown(t *testing.T) {
	table := &fakeOutboxTable{err: errors.New("connection refused")}
	relay := &fakeOutboxRelay{st: outbox.RelayStats{Running: true, Published: 5}}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(observability.NewOutboxCollector("svc", table, relay))
	families, err := reg.Gather()
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("gather error %v, want the database's", err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	if !names["outbox_published_total"] || names["outbox_queue_depth"] {
		t.Fatalf("served %v: want the relay's counters without the table's gauges", names)
	}
}
