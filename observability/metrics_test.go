package observability_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{
		`service_info{service="file_service"} 1`,
		"go_goroutines ",
		`circuit_breaker_state{circuit_name="kafka",service="file_service"} 1`,
		`kafka_fallback_queue_depth{service="file_service"} 0`,
		"# TYPE kafka_publish_duration_seconds histogram",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("response lacks %q", want)
		}
	}
}
