package observability

import (
	"context"
	"testing"

	"github.com/prometheus/common/model"

	"github.com/huleedu/huleedu/internal/promtest"
)

// serviceSeries are selectors every service must export with its service
// label (docs/design.md §7, the original platform's names); memory mode, so the
// queue's limit is in records.
var serviceSeries = []string{
	`circuit_breaker_state{circuit_name=~".+[.]kafka_producer"}`,
	`circuit_breaker_state_changes_total{circuit_name=~".+[.]kafka_producer",from_state="closed",to_state="open"}`,
	`circuit_breaker_calls_total{circuit_name=~".+[.]kafka_producer",result="blocked"}`,
	`kafka_fallback_queue_depth`,
	`kafka_fallback_queue_bytes`,
	`kafka_fallback_queue_max_records`,
	`kafka_fallback_oldest_age_seconds`,
	`kafka_fallback_dead_letters`,
	`kafka_fallback_quarantined_ranges`,
	`kafka_published_total`,
	`kafka_fallback_spooled_total`,
	`kafka_fallback_replayed_total`,
	`kafka_fallback_dead_lettered_total`,
	`kafka_publish_rejected_total`,
	`kafka_publish_duration_seconds_bucket{le="+Inf"}`,
	`service_info`,
}

// runtimeSeries come from the client library's Go and process collectors,
// which carry no service label.
var runtimeSeries = []string{
	`go_goroutines`,
	`go_gc_duration_seconds_count`,
	`process_cpu_seconds_total`,
	`process_resident_memory_bytes`,
}

// checkEveryServiceExports asks Prometheus, once it has scraped every
// admin server, whether each target (instance) exported each series, with
// the service label of the service behind it.
func checkEveryServiceExports(ctx context.Context, t *testing.T, prom *promtest.Server, services map[string]string) {
	t.Helper()
	check := func(selector string, labelled bool) {
		v, err := prom.Query(ctx, `group by (instance, service) (`+selector+`)`)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, s := range v {
			got[string(s.Metric[model.InstanceLabel])] = string(s.Metric["service"])
		}
		for instance, service := range services {
			label, ok := got[instance]
			switch {
			case !ok:
				t.Errorf("%s (%s) does not export %s", service, instance, selector)
			case labelled && label != service:
				t.Errorf("%s (%s) exports %s with service=%q", service, instance, selector, label)
			}
		}
	}
	for _, sel := range serviceSeries {
		check(sel, true)
	}
	for _, sel := range runtimeSeries {
		check(sel, false)
	}
}
