package observability_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/spool"
)

// ResilientBus is the BusStatsSource services register; this fails to
// compile if its Stats method drifts from the interface.
var _ observability.BusStatsSource = (*kafkabus.ResilientBus)(nil)

type fakeBusStats struct{ stats kafkabus.Stats }

func (f *fakeBusStats) Stats() kafkabus.Stats { return f.stats }

var scrapeTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return scrapeTime }

func TestBusCollectorExportsQueueAndCounters(t *testing.T) {
	src := &fakeBusStats{kafkabus.Stats{
		Published:    1000,
		Spooled:      250,
		Replayed:     180,
		DeadLettered: 3,
		Rejected:     7,
		Queue: spool.Stats{
			Records:        67,
			Bytes:          68608,
			OldestAt:       scrapeTime.Add(-90 * time.Second),
			MaxBytes:       1 << 30,
			DeadLetters:    2,
			Quarantined:    1,
			Failed:         &spool.StorageFailure{Cause: "write /spool/00000000000000000001.seg: no space left on device"},
			MissingRecords: 120,
		},
	}}
	c := observability.NewBusCollector("file_service", src, observability.WithClock(fixedClock))

	const want = `
# HELP kafka_fallback_dead_lettered_total Queued records Kafka rejected for good during replay, moved to the dead-letter store.
# TYPE kafka_fallback_dead_lettered_total counter
kafka_fallback_dead_lettered_total{service="file_service"} 3
# HELP kafka_fallback_dead_letters Records currently in the dead-letter store.
# TYPE kafka_fallback_dead_letters gauge
kafka_fallback_dead_letters{service="file_service"} 2
# HELP kafka_fallback_missing_records Records found missing from the disk spool's sequence since it was opened: lost to damage, or to segment files removed or cut short.
# TYPE kafka_fallback_missing_records gauge
kafka_fallback_missing_records{service="file_service"} 120
# HELP kafka_fallback_oldest_age_seconds Age of the oldest record in the Kafka fallback queue; 0 when empty.
# TYPE kafka_fallback_oldest_age_seconds gauge
kafka_fallback_oldest_age_seconds{service="file_service"} 90
# HELP kafka_fallback_quarantined_ranges Damaged spool ranges moved aside since the spool was opened (on open and while reading).
# TYPE kafka_fallback_quarantined_ranges gauge
kafka_fallback_quarantined_ranges{service="file_service"} 1
# HELP kafka_fallback_queue_bytes Bytes of records waiting in the Kafka fallback queue.
# TYPE kafka_fallback_queue_bytes gauge
kafka_fallback_queue_bytes{service="file_service"} 68608
# HELP kafka_fallback_queue_depth Records waiting in the Kafka fallback queue.
# TYPE kafka_fallback_queue_depth gauge
kafka_fallback_queue_depth{service="file_service"} 67
# HELP kafka_fallback_queue_failed 1 while the disk spool refuses records because a write or fsync failed (it probes the storage and recovers on its own), else 0.
# TYPE kafka_fallback_queue_failed gauge
kafka_fallback_queue_failed{service="file_service"} 1
# HELP kafka_fallback_queue_max_bytes Byte limit of the Kafka fallback queue (absent when it has none).
# TYPE kafka_fallback_queue_max_bytes gauge
kafka_fallback_queue_max_bytes{service="file_service"} 1.073741824e+09
# HELP kafka_fallback_replayed_total Queued records delivered to Kafka by the replayer.
# TYPE kafka_fallback_replayed_total counter
kafka_fallback_replayed_total{service="file_service"} 180
# HELP kafka_fallback_spooled_total Records accepted into the fallback queue.
# TYPE kafka_fallback_spooled_total counter
kafka_fallback_spooled_total{service="file_service"} 250
# HELP kafka_publish_rejected_total Publish calls that returned an error: the record was not accepted.
# TYPE kafka_publish_rejected_total counter
kafka_publish_rejected_total{service="file_service"} 7
# HELP kafka_published_total Records Kafka acknowledged on the direct path.
# TYPE kafka_published_total counter
kafka_published_total{service="file_service"} 1000
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

func TestBusCollectorOldestAgeUsesInjectedClock(t *testing.T) {
	tests := []struct {
		name    string
		records int64
		oldest  time.Time
		want    float64
	}{
		{"empty queue", 0, time.Time{}, 0},
		{"empty queue with stale oldest", 0, scrapeTime.Add(-time.Hour), 0},
		{"oldest 90s ago", 5, scrapeTime.Add(-90 * time.Second), 90},
		{"oldest 1.5s ago", 1, scrapeTime.Add(-1500 * time.Millisecond), 1.5},
		{"clock behind the record", 1, scrapeTime.Add(time.Minute), 0},
		{"records but no time", 3, time.Time{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeBusStats{kafkabus.Stats{Queue: spool.Stats{Records: tt.records, OldestAt: tt.oldest}}}
			c := observability.NewBusCollector("svc", src, observability.WithClock(fixedClock))
			want := "# HELP kafka_fallback_oldest_age_seconds Age of the oldest record in the Kafka fallback queue; 0 when empty.\n" +
				"# TYPE kafka_fallback_oldest_age_seconds gauge\n" +
				`kafka_fallback_oldest_age_seconds{service="svc"} ` + formatFloat(tt.want) + "\n"
			if err := testutil.CollectAndCompare(c, strings.NewReader(want), "kafka_fallback_oldest_age_seconds"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBusCollectorLeavesOutLimitsTheQueueDoesNotHave(t *testing.T) {
	tests := []struct {
		name                   string
		maxRecords, maxBytes   int64
		wantRecords, wantBytes int
	}{
		{"memory queue counts records", 1000, 0, 1, 0},
		{"disk spool counts bytes", 0, 1 << 30, 0, 1},
		{"both limits", 1000, 1 << 20, 1, 1},
		{"unbounded", 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeBusStats{kafkabus.Stats{Queue: spool.Stats{MaxRecords: tt.maxRecords, MaxBytes: tt.maxBytes}}}
			c := observability.NewBusCollector("svc", src)
			if n := testutil.CollectAndCount(c, "kafka_fallback_queue_max_records"); n != tt.wantRecords {
				t.Errorf("kafka_fallback_queue_max_records: %d series, want %d", n, tt.wantRecords)
			}
			if n := testutil.CollectAndCount(c, "kafka_fallback_queue_max_bytes"); n != tt.wantBytes {
				t.Errorf("kafka_fallback_queue_max_bytes: %d series, want %d", n, tt.wantBytes)
			}
		})
	}
}

func TestBusCollectorExportsWhetherTheSpoolHasFailed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		failed *spool.StorageFailure
		want   string
	}{
		{"healthy", nil, "0"},
		{"storage failed", &spool.StorageFailure{Cause: "fsync: input/output error"}, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &fakeBusStats{kafkabus.Stats{Queue: spool.Stats{Failed: tc.failed}}}
			want := "# HELP kafka_fallback_queue_failed 1 while the disk spool refuses records because a write or fsync failed (it probes the storage and recovers on its own), else 0.\n" +
				"# TYPE kafka_fallback_queue_failed gauge\n" +
				`kafka_fallback_queue_failed{service="svc"} ` + tc.want + "\n"
			if err := testutil.CollectAndCompare(observability.NewBusCollector("svc", src), strings.NewReader(want), "kafka_fallback_queue_failed"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBusCollectorPassesLint(t *testing.T) {
	src := &fakeBusStats{kafkabus.Stats{Queue: spool.Stats{MaxRecords: 10, MaxBytes: 10}}}
	problems, err := testutil.CollectAndLint(observability.NewBusCollector("svc", src))
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("lint problems: %+v", problems)
	}
}
