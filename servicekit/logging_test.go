package servicekit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
)

// logLines is an io.Writer for an app's JSON logs that tests can read
// while the app writes.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

// with returns the decoded lines whose msg is msg.
func (l *logLines) with(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Bytes())
		}
		if line["msg"] == msg {
			out = append(out, line)
		}
	}
	return out
}

// startLoggingApp is startApp with the app's logs kept in the returned
// logLines.
func startLoggingApp(t *testing.T, env Env, module fx.Option) *logLines {
	t.Helper()
	logs := &logLines{}
	a, err := New(env, module, WithLogOutput(logs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	if err := a.Start(testContext(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	return logs
}

func TestBreakerTransitionsAreLoggedOnceEach(t *testing.T) {
	c := newCluster(t)
	var clients *HTTPClients
	var breakers *resilience.Registry
	logs := startLoggingApp(t, testEnv("spellchecker_service", c, "LOG_LEVEL=info",
		"HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD=1", "HTTP_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=200ms",
		"HTTP_CIRCUIT_BREAKER_SUCCESS_THRESHOLD=1"),
		fx.Populate(&clients, &breakers))
	var healthy atomic.Bool
	dep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer dep.Close()
	client := clients.For("file_service")
	get := func() error {
		resp, err := client.Get(dep.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	// One failure opens the breaker; the rejected calls after it must not
	// log anything more.
	_ = get()
	for range 20 {
		_ = get()
	}
	healthy.Store(true)
	// Once the recovery timeout has passed, a probe succeeds and closes it.
	waitFor(t, 10*time.Second, "the breaker to close again", func() bool {
		cb, _ := breakers.Get("spellchecker_service.file_service")
		return get() == nil && cb.State() == resilience.StateClosed
	})

	lines := logs.with(t, "circuit breaker state changed")
	want := [][2]string{{"closed", "open"}, {"open", "half_open"}, {"half_open", "closed"}}
	if len(lines) != len(want) {
		t.Fatalf("%d transition lines, want one per transition (%v): %v", len(lines), want, lines)
	}
	for i, line := range lines {
		if line["from_state"] != want[i][0] || line["to_state"] != want[i][1] {
			t.Errorf("line %d: %v -> %v, want %s -> %s", i, line["from_state"], line["to_state"], want[i][0], want[i][1])
		}
		if line["service"] != "spellchecker_service" || line["circuit_name"] != "spellchecker_service.file_service" {
			t.Errorf("line %d names service %v, breaker %v", i, line["service"], line["circuit_name"])
		}
	}
	if lines[0]["level"] != "WARN" {
		t.Errorf("opening logged at %v, want WARN", lines[0]["level"])
	}
	clients.CloseIdleConnections()
}

func TestAPILogLinesCarryServiceCorrelationAndTraceIDs(t *testing.T) {
	c := newCluster(t)
	tracing, _, tracer := recordSpans(t)
	logs := startLoggingApp(t, testEnv("thing_service", c, "LOG_LEVEL=debug"), fx.Options(tracing,
		AsRoutes(func() []Route {
			return []Route{{Pattern: "GET /v1/things", Handler: http.NotFoundHandler()}}
		})))
	var api string
	for _, line := range logs.with(t, "service started") {
		api, _ = line["api"].(string)
	}

	ctx, caller := tracer.Start(context.Background(), "caller")
	defer caller.End()
	req, _ := http.NewRequest(http.MethodGet, api+"/v1/things", nil)
	req.Header.Set(HeaderCorrelationID, "corr-log")
	req.Header.Set("traceparent", traceparent(ctx))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()

	lines := logs.with(t, "request")
	if len(lines) != 1 {
		t.Fatalf("%d request log lines, want 1", len(lines))
	}
	line := lines[0]
	for key, want := range map[string]string{
		"service":        "thing_service",
		"correlation_id": "corr-log",
		"trace_id":       caller.SpanContext().TraceID().String(),
	} {
		if line[key] != want {
			t.Errorf("request log line has %s=%v, want %s (line %v)", key, line[key], want, line)
		}
	}
}

func TestRestartOnDamagedSpoolLogsEachRecoveryOnce(t *testing.T) {
	c := newCluster(t)
	dataDir := t.TempDir()
	env := testEnv("file_service", c, "KAFKA_FALLBACK_MODE=disk", "DATA_DIR="+dataDir, "LOG_LEVEL=info")
	var bus kafkabus.Bus
	first := startApp(t, env, fx.Populate(&bus))
	heal := cut(t, c)
	publishSpooled(t, bus, 3)
	if err := first.Halt(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Halt = %v", err)
	}
	// A crash in the middle of a write leaves a torn tail: zeros after the
	// last whole record of the newest segment.
	segments, err := filepath.Glob(filepath.Join(dataDir, "file_service", "kafka-spool", "*.seg"))
	if err != nil || len(segments) == 0 {
		t.Fatalf("no spool segments (%v)", err)
	}
	slices.Sort(segments)
	f, err := os.OpenFile(segments[len(segments)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	var bus2 kafkabus.Bus
	logs := startLoggingApp(t, env, fx.Populate(&bus2))
	heal()
	waitFor(t, 30*time.Second, "the replay", func() bool {
		return bus2.(*kafkabus.ResilientBus).Stats().Replayed == 3
	})
	service := map[string]string{"service": "file_service"}
	for msg, want := range map[string]map[string]any{
		"spool: truncating an interrupted write at the end of a file": {"bytes": 100.0},
		"replaying records left in the fallback queue":                {"records": 3.0},
	} {
		lines := logs.with(t, msg)
		if len(lines) != 1 {
			t.Errorf("%d %q lines, want 1", len(lines), msg)
			continue
		}
		for k, v := range service {
			want[k] = v
		}
		for k, v := range want {
			if lines[0][k] != v {
				t.Errorf("%q line has %s=%v, want %v (line %v)", msg, k, lines[0][k], v, lines[0])
			}
		}
	}
}
