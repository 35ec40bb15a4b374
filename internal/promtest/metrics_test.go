package promtest_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

type snapshots []resilience.Snapshot

func (s snapshots) Snapshots() []resilience.Snapshot { return s }

type fixedStats kafkabus.Stats

func (f fixedStats) Stats() kafkabus.Stats { return kafkabus.Stats(f) }

type fixedOutbox outbox.TableStats

func (f fixedOutbox) Stats(context.Context) (outbox.TableStats, error) {
	return outbox.TableStats(f), nil
}

type fixedRelay outbox.RelayStats

func (f fixedRelay) Stats() outbox.RelayStats { return outbox.RelayStats(f) }

// TestKnownMetricsMatchObservability gathers what observability's
// collectors export, with every optional series present, and compares the
// names with knownMetrics, so the list the deploy tests check against
// cannot drift from the code.
func TestKnownMetricsMatchObservability(t *testing.T) {
	reg := observability.NewRegistry("svc")
	reg.MustRegister(
		observability.NewBreakerCollector("svc", snapshots{{Name: "svc.kafka_producer"}}),
		observability.NewBusCollector("svc", fixedStats{Queue: spool.Stats{
			Records: 1, Bytes: 10, OldestAt: time.Now(), MaxRecords: 100, MaxBytes: 1 << 20,
		}}),
		observability.NewPublishLatency("svc"),
		observability.NewOutboxCollector("svc", fixedOutbox{Pending: 1, OldestPendingAt: time.Now()}, fixedRelay{Running: true}),
		observability.NewOutboxPublishLatency("svc"),
	)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got, gotHistograms []string
	for _, f := range families {
		name := f.GetName()
		// The Go, process and handler collectors are the client library's.
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "promhttp_") {
			continue
		}
		got = append(got, name)
		if f.GetType() == dto.MetricType_HISTOGRAM {
			gotHistograms = append(gotHistograms, name)
		}
	}
	want := slices.Sorted(slices.Values(knownMetrics))
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("observability exports %v\nknownMetrics lists %v", got, want)
	}
	if !slices.Equal(gotHistograms, histograms) {
		t.Errorf("histograms %v, want %v", gotHistograms, histograms)
	}
}

func TestMetricNamesFindsSelectedMetricsOnly(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`rate(foo_total{job="a", x=~"rate(bar)"}[5m])`, []string{"foo_total"}},
		{`sum by (service, le) (rate(h_bucket[1m]))`, []string{"h_bucket"}},
		{`a / b > 0.8 or c / d > 8e-1`, []string{"a", "b", "c", "d"}},
		{`x and on (service, instance) max_over_time(y{n=~".*k"}[5m:30s]) == 0`, []string{"x", "y"}},
		{`histogram_quantile(0.99, sum(rate(h_bucket[5m])) without (pod))`, []string{"h_bucket"}},
		{`m offset 5m`, []string{"m"}},
		{`sum(increase(s_total{a="closed"}[15m])) > bool 2`, []string{"s_total"}},
	} {
		if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}
