package observability_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/resilience"
)

func TestPublishLatencyBucketsSpan50MicrosecondsTo10Seconds(t *testing.T) {
	h := observability.NewPublishLatency("svc")
	h.Observe(0.00004) // a fast spool append
	h.Observe(0.003)   // a produce to a nearby broker
	h.Observe(12)      // beyond the last bucket: only in +Inf

	out, err := testutil.CollectAndFormat(h, expfmt.TypeTextPlain, "kafka_publish_duration_seconds")
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{
		`kafka_publish_duration_seconds_bucket{service="svc",le="5e-05"} 1`,
		`kafka_publish_duration_seconds_bucket{service="svc",le="0.0025"} 1`,
		`kafka_publish_duration_seconds_bucket{service="svc",le="0.005"} 2`,
		`kafka_publish_duration_seconds_bucket{service="svc",le="10"} 2`,
		`kafka_publish_duration_seconds_bucket{service="svc",le="+Inf"} 3`,
		`kafka_publish_duration_seconds_count{service="svc"} 3`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %s\n%s", want, text)
		}
	}
}

func TestHandlerServesRegistryWithRuntimeAndServiceMetrics(t *testing.T) {
	reg := observability.NewRegistry("file_service")
	reg.MustRegister(
		observability.NewBreakerCollector("file_service", &fakeSnapshots{snaps: []resilience.Snapshot{kafkaOpenSnapshot()}}),
		observability.NewBusCollector("file_service", &fakeBusStats{}),
		observability.NewPublishLatency("file_service"),
	)
	srv := httptest.NewServer(observability.Handler(reg))
	defer srv.Close()

	status, body := get(t, srv.URL)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	for _, want := range []string{
		`service_info{service="file_service"} 1`,
		"go_goroutines ",
		`circuit_breaker_state{circuit_name="kafka",service="file_service"} 1`,
		`kafka_fallback_queue_depth{service="file_service"} 0`,
		"# TYPE kafka_publish_duration_seconds histogram",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("response lacks %q", want)
		}
	}
}

// failingCollector reports an error instead of a metric, as a collector
// whose source broke does.
type failingCollector struct{ desc *prometheus.Desc }

func (c failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(c.desc, errors.New("source unavailable"))
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// Handler's doc promises that a failing collector does not fail the scrape
// and that promhttp_metric_handler_errors_total counts the failure.
func TestHandlerServesOtherMetricsWhenACollectorFails(t *testing.T) {
	reg := observability.NewRegistry("svc")
	reg.MustRegister(failingCollector{prometheus.NewDesc("broken_metric", "Always fails.", nil, nil)})
	srv := httptest.NewServer(observability.Handler(reg))
	defer srv.Close()

	for scrape := 1; scrape <= 2; scrape++ {
		status, body := get(t, srv.URL)
		if status != http.StatusOK || !strings.Contains(body, `service_info{service="svc"} 1`) {
			t.Fatalf("scrape %d: status %d, body:\n%s", scrape, status, body)
		}
		// The error of a scrape is counted after it was served: the second
		// scrape shows the first one's.
		if want := `promhttp_metric_handler_errors_total{cause="gathering"} ` + formatFloat(float64(scrape-1)); !strings.Contains(body, want) {
			t.Fatalf("scrape %d lacks %s:\n%s", scrape, want, body)
		}
	}
}
