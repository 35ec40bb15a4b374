package servicekit

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/errctx"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
)

// newApp builds an app of service from env plus module and stops it when
// the test ends.
func newApp(t *testing.T, env Env, module fx.Option) *App {
	t.Helper()
	a, err := New(env, module, WithLogOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	return a
}

// startApp is newApp, started.
func startApp(t *testing.T, env Env, module fx.Option) *App {
	t.Helper()
	a := newApp(t, env, module)
	if err := a.Start(testContext(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestEnabledBreakerGivesResilientBusWithConfiguredBreaker(t *testing.T) {
	c := newCluster(t)
	var (
		bus      kafkabus.Bus
		breakers *resilience.Registry
	)
	newApp(t, testEnv("file_service", c,
		"FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=7",
		"KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=45",
		"FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_SUCCESS_THRESHOLD=4"),
		fx.Populate(&bus, &breakers))

	rb, ok := bus.(*kafkabus.ResilientBus)
	if !ok {
		t.Fatalf("bus is %T, want *kafkabus.ResilientBus", bus)
	}
	cb, ok := breakers.Get("file_service.kafka_producer")
	if !ok {
		t.Fatalf("no breaker file_service.kafka_producer in the registry; have %v", breakers.States())
	}
	if rb.Breaker() != cb {
		t.Fatal("the bus is guarded by a breaker other than the registered one")
	}
	s := cb.Settings()
	if s.FailureThreshold != 7 || s.RecoveryTimeout != 45*time.Second || s.SuccessThreshold != 4 {
		t.Fatalf("breaker settings = threshold %d, recovery %v, success %d; want 7, 45s, 4",
			s.FailureThreshold, s.RecoveryTimeout, s.SuccessThreshold)
	}
}

func TestDisabledBreakerGivesPlainBus(t *testing.T) {
	c := newCluster(t)
	var (
		bus      kafkabus.Bus
		breakers *resilience.Registry
		clients  *HTTPClients
	)
	newApp(t, testEnv("file_service", c, "CIRCUIT_BREAKER_ENABLED=false"), fx.Populate(&bus, &breakers, &clients))

	if _, ok := bus.(*kafkabus.KafkaBus); !ok {
		t.Fatalf("bus is %T, want the plain *kafkabus.KafkaBus", bus)
	}
	if n := len(breakers.All()); n != 0 {
		t.Fatalf("registry holds %d breakers, want none", n)
	}
	if _, ok := clients.For("batch_conductor").Transport.(*resilience.Transport); ok {
		t.Fatal("HTTP client has a breaker although breakers are disabled")
	}
}

func TestBadEnvFailsStartupNamingVariable(t *testing.T) {
	c := newCluster(t)
	_, err := New(testEnv("file_service", c, "FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=-1"), nil, WithLogOutput(io.Discard))
	want := `FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD="-1": must be between 1 and 1000000`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("New = %v, want an error containing %s", err, want)
	}
}

func TestHTTPClientForDependencyHasRegisteredBreaker(t *testing.T) {
	c := newCluster(t)
	var (
		clients  *HTTPClients
		breakers *resilience.Registry
	)
	newApp(t, testEnv("batch_orchestrator_service", c,
		"HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD=2", "HTTP_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=1m"),
		fx.Populate(&clients, &breakers))

	client := clients.For("batch_conductor")
	if clients.For("batch_conductor") != client {
		t.Fatal("For returned a new client for the same dependency")
	}
	cb, ok := breakers.Get("batch_orchestrator_service.batch_conductor")
	if !ok {
		t.Fatalf("breaker not registered; have %v", breakers.States())
	}
	if s := cb.Settings(); s.FailureThreshold != 2 || s.RecoveryTimeout != time.Minute {
		t.Fatalf("breaker settings %+v, want the HTTP_CIRCUIT_BREAKER_* values", s)
	}

	var hits int
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits++
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	for range 2 {
		resp, err := client.Get(down.URL)
		if err != nil {
			t.Fatalf("a 503 must come back as a response, got %v", err)
		}
		resp.Body.Close()
	}
	if _, err := client.Get(down.URL); !errors.Is(err, resilience.ErrCircuitOpen) {
		t.Fatalf("third call = %v, want ErrCircuitOpen after two failures", err)
	}
	if hits != 2 {
		t.Fatalf("dependency got %d requests, want 2: the open breaker must not call it", hits)
	}
	clients.CloseIdleConnections()
}

func TestHTTPClientPropagatesCorrelationID(t *testing.T) {
	c := newCluster(t)
	var clients *HTTPClients
	newApp(t, testEnv("spellchecker_service", c), fx.Populate(&clients))
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get(HeaderCorrelationID)
	}))
	defer srv.Close()

	ctx := errctx.WithCorrelation(context.Background(), "corr-42")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := clients.For("file_service").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if id := <-got; id != "corr-42" {
		t.Fatalf("callee saw correlation id %q, want corr-42", id)
	}
	if req.Header.Get(HeaderCorrelationID) != "" {
		t.Fatal("the caller's request was modified")
	}
	clients.CloseIdleConnections()
}

func TestRoutesAndSubscriptionsAreServed(t *testing.T) {
	c := newCluster(t)
	events := make(chan *event.Envelope, 1)
	module := fx.Options(
		AsRoutes(func(bus kafkabus.Bus) []Route {
			return []Route{{Pattern: "POST /v1/things", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				env, err := event.NewEnvelope(event.TypeBatchFileAddedV1, "thing_service", map[string]string{"a": "b"},
					event.WithCorrelationID(errctx.CorrelationID(r.Context())))
				if err == nil {
					err = bus.Publish(r.Context(), topicA, "k", env)
				}
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				w.WriteHeader(http.StatusAccepted)
			})}}
		}),
		AsSubscriptions(func() []Subscription {
			return []Subscription{{Topic: topicA, Handler: func(_ context.Context, env *event.Envelope) error {
				events <- env
				return nil
			}}}
		}),
	)
	a := startApp(t, testEnv("thing_service", c), module)

	req, _ := http.NewRequest(http.MethodPost, a.Endpoints().API+"/v1/things", nil)
	req.Header.Set(HeaderCorrelationID, "corr-route")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get(HeaderCorrelationID) != "corr-route" {
		t.Fatalf("POST = %d with correlation id %q; want 202 and corr-route", resp.StatusCode, resp.Header.Get(HeaderCorrelationID))
	}
	select {
	case env := <-events:
		if env.CorrelationID != "corr-route" {
			t.Fatalf("consumed event has correlation id %q, want corr-route", env.CorrelationID)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the published event was not consumed")
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestConflictingRoutesFailStartupNamingPattern(t *testing.T) {
	c := newCluster(t)
	h := http.NotFoundHandler()
	_, err := New(testEnv("thing_service", c), AsRoutes(func() []Route {
		return []Route{{Pattern: "GET /v1/x", Handler: h}, {Pattern: "GET /v1/x", Handler: h}}
	}), WithLogOutput(io.Discard))
	if err == nil || !strings.Contains(err.Error(), `"GET /v1/x"`) {
		t.Fatalf("New = %v, want an error naming the pattern", err)
	}
}

func TestKafkaClosedWhenAppFailsToBuild(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	env := testEnv("thing_service", c, "KAFKA_FALLBACK_MODE=disk", "DATA_DIR="+dir)
	_, err := New(env, fx.Invoke(func(kafkabus.Bus) error { return errors.New("domain constructor failed") }), WithLogOutput(io.Discard))
	if err == nil {
		t.Fatal("New succeeded")
	}
	// The spool lock is free again: a second app opens the same spool.
	a := newApp(t, env, nil)
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// cut faults the cluster until the test ends or heal is called.
func cut(t *testing.T, c *embeddedkafka.Cluster) (heal func()) {
	t.Helper()
	if err := c.Fault(embeddedkafka.FaultCut); err != nil {
		t.Fatal(err)
	}
	healed := false
	heal = func() {
		if !healed {
			healed = true
			if err := c.Heal(); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(heal)
	return heal
}
