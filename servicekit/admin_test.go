package servicekit

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/kafkabus"
)

func TestHealthzAnswersWhileProcessAlive(t *testing.T) {
	c := newCluster(t)
	a := startApp(t, testEnv("file_service", c), nil)
	var body map[string]string
	if code := getJSON(t, a.Endpoints().Admin+"/healthz", &body); code != http.StatusOK || body["status"] != "alive" {
		t.Fatalf("/healthz = %d %v, want 200 alive", code, body)
	}
}

func TestReadyz(t *testing.T) {
	cases := []struct {
		name       string
		env        []string
		cutKafka   bool
		fillQueue  bool
		wantCode   int
		wantStatus string
		wantFall   string
	}{
		{name: "kafka reachable", wantCode: 200, wantStatus: StatusReady, wantFall: "accepting"},
		{name: "kafka cut, spool accepts: degraded but ready", cutKafka: true, wantCode: 200, wantStatus: StatusDegraded, wantFall: "accepting"},
		{name: "kafka cut, no fallback queue", env: []string{"CIRCUIT_BREAKER_ENABLED=false"}, cutKafka: true,
			wantCode: 503, wantStatus: StatusUnavailable, wantFall: "none"},
		{name: "kafka cut, fallback queue full", env: []string{"KAFKA_FALLBACK_QUEUE_SIZE=1", "KAFKA_FALLBACK_OVERFLOW=reject"},
			cutKafka: true, fillQueue: true, wantCode: 503, wantStatus: StatusUnavailable, wantFall: "full"},
		{name: "plain bus, kafka reachable", env: []string{"CIRCUIT_BREAKER_ENABLED=false"}, wantCode: 200, wantStatus: StatusReady, wantFall: "none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			var bus kafkabus.Bus
			a := startApp(t, testEnv("file_service", c, tc.env...), fx.Populate(&bus))
			if tc.cutKafka {
				cut(t, c)
			}
			if tc.fillQueue {
				if err := bus.Publish(testContext(t, 10*time.Second), topicA, "k", newEnvelope(t, `{}`)); err != nil {
					t.Fatalf("publish while cut: %v (want it spooled)", err)
				}
			}
			var rd Readiness
			code := getJSON(t, a.Endpoints().Admin+"/readyz", &rd)
			if code != tc.wantCode || rd.Status != tc.wantStatus || rd.Fallback != tc.wantFall {
				t.Fatalf("/readyz = %d %+v; want %d, status %s, fallback %s", code, rd, tc.wantCode, tc.wantStatus, tc.wantFall)
			}
			if tc.cutKafka && !strings.HasPrefix(rd.Kafka, "unreachable: ") {
				t.Fatalf("kafka = %q, want it to say unreachable and why", rd.Kafka)
			}
		})
	}
}

func TestReadinessReportsStoppingAfterStop(t *testing.T) {
	c := newCluster(t)
	a := startApp(t, testEnv("file_service", c), nil)
	if err := a.Stop(testContext(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if rd := a.Runner().Readiness(context.Background()); rd.Status != StatusStopping {
		t.Fatalf("readiness after Stop = %+v, want stopping", rd)
	}
}

func TestMetricsExposeBreakerAndFallbackSeries(t *testing.T) {
	c := newCluster(t)
	var clients *HTTPClients
	a := startApp(t, testEnv("file_service", c), fx.Populate(&clients))
	clients.For("content_store")
	resp, err := http.Get(a.Endpoints().Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`circuit_breaker_state{circuit_name="file_service.kafka_producer",service="file_service"} 0`,
		`circuit_breaker_state{circuit_name="file_service.content_store",service="file_service"} 0`,
		`circuit_breaker_state_changes_total{circuit_name="file_service.kafka_producer",from_state="closed",service="file_service",to_state="open"} 0`,
		`kafka_fallback_queue_depth{service="file_service"} 0`,
		`kafka_fallback_oldest_age_seconds{service="file_service"} 0`,
		`kafka_publish_duration_seconds_bucket{service="file_service",le="0.001"}`,
		`service_info{service="file_service"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestCircuitBreakersEndpointReportsSnapshotsAndQueue(t *testing.T) {
	c := newCluster(t)
	var (
		clients *HTTPClients
		bus     kafkabus.Bus
	)
	a := startApp(t, testEnv("file_service", c), fx.Populate(&clients, &bus))
	clients.For("content_store")
	heal := cut(t, c)
	if err := bus.Publish(testContext(t, 10*time.Second), topicA, "k", newEnvelope(t, `{}`)); err != nil {
		t.Fatal(err)
	}
	var rep CircuitBreakersReport
	if code := getJSON(t, a.Endpoints().Admin+"/circuit-breakers", &rep); code != http.StatusOK {
		t.Fatalf("/circuit-breakers = %d", code)
	}
	heal()
	var names []string
	for _, s := range rep.Breakers {
		names = append(names, s.Name+"="+s.State.String())
	}
	if got := strings.Join(names, " "); got != "file_service.content_store=closed file_service.kafka_producer=open" {
		t.Errorf("breakers = %s", got)
	}
	if rep.FallbackQueue == nil || rep.FallbackQueue.Records != 1 {
		t.Errorf("fallback_queue = %+v, want the one spooled record", rep.FallbackQueue)
	}
	if rep.Bus == nil || rep.Bus.Spooled != 1 {
		t.Errorf("bus = %+v, want spooled 1", rep.Bus)
	}
}
