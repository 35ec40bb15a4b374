package promtest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huleedu/huleedu/internal/promtest"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/spool"
)

// controlledQueue is a fallback queue the test drives: while growing, each
// scrape finds 10 more records.
type controlledQueue struct {
	growing atomic.Bool
	depth   atomic.Int64
}

func (q *controlledQueue) Stats() kafkabus.Stats {
	d := q.depth.Load()
	if q.growing.Load() {
		d = q.depth.Add(10)
	}
	return kafkabus.Stats{Queue: spool.Stats{Records: d, Bytes: d * 1024, MaxRecords: 1_000_000}}
}

// startExporter serves the queue's metrics, as a service's admin server
// does, on loopback, and returns its host:port.
func startExporter(t *testing.T, q *controlledQueue) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(observability.NewBusCollector("selftest", q))
	mux := http.NewServeMux()
	mux.Handle("/metrics", observability.Handler(reg))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestPrometheusFiresAndResolvesQueueGrowingAlert runs the production
// alerts.yml in a real Prometheus, 100 times faster (for: 5m becomes 3s),
// against an exporter whose queue the test makes grow and then empties.
func TestPrometheusFiresAndResolvesQueueGrowingAlert(t *testing.T) {
	q := &controlledQueue{}
	q.growing.Store(true)
	begin := time.Now()
	srv := promtest.Start(t, promtest.Config{
		ScrapeTargets:  []string{startExporter(t, q)},
		RuleFiles:      []string{alertsPath},
		ScrapeInterval: 200 * time.Millisecond,
		TimeScale:      100,
	})
	ready := time.Since(begin)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()

	if err := srv.WaitForScrape(ctx); err != nil {
		t.Fatal(err)
	}
	// Prometheus applies discovered targets on a 5 s tick, so the first
	// scrape comes about 5 s after start whatever the scrape interval.
	scrapedAt := time.Since(begin)
	pending, err := srv.WaitForAlert(ctx, "FallbackQueueGrowing", promtest.AlertPending)
	if err != nil {
		t.Fatal(err)
	}
	pendingAt := time.Since(begin)
	firing, err := srv.WaitForAlert(ctx, "FallbackQueueGrowing", promtest.AlertFiring)
	if err != nil {
		t.Fatal(err)
	}
	firingAt := time.Since(begin)

	if got := firing.Labels; got["service"] != "selftest" || got["severity"] != "warning" {
		t.Errorf("alert labels %v, want service=selftest severity=warning", got)
	}
	if got := firing.Annotations["runbook_url"]; !strings.HasSuffix(got, "docs/operations.md#fallbackqueuegrowing") {
		t.Errorf("runbook_url %q does not point at the runbook section", got)
	}
	if !firing.ActiveAt.Equal(pending.ActiveAt) {
		t.Errorf("firing alert active since %v, but it was pending since %v: the for: clock restarted", firing.ActiveAt, pending.ActiveAt)
	}
	v, err := srv.Query(ctx, `kafka_fallback_queue_depth{service="selftest"}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 1 || v[0].Value <= 0 {
		t.Fatalf("kafka_fallback_queue_depth = %v, want one positive sample", v)
	}

	q.growing.Store(false)
	q.depth.Store(0)
	emptiedAt := time.Since(begin)
	if _, err := srv.WaitForAlert(ctx, "FallbackQueueGrowing", promtest.AlertInactive); err != nil {
		t.Fatal(err)
	}
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	t.Logf("prometheus ready at %v, first scrape by %v; FallbackQueueGrowing pending at %v, firing at %v (for: 3s); queue emptied at %v, alert resolved at %v",
		ms(ready), ms(scrapedAt), ms(pendingAt), ms(firingAt), ms(emptiedAt), ms(time.Since(begin)))
}

// TestDashboardAndAlertQueriesRunInPrometheus sends every dashboard query
// and alert expression to a real Prometheus, which rejects any that does
// not parse; loading alerts.yml at start-up checks the rule file too.
func TestDashboardAndAlertQueriesRunInPrometheus(t *testing.T) {
	srv := promtest.Start(t, promtest.Config{RuleFiles: []string{alertsPath}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	d := loadDashboard(t)
	exprs := dashboardExprs(d)
	for k, v := range variableQueries(t, d) {
		exprs[k] = v
	}
	for _, g := range loadAlerts(t).Groups {
		for _, r := range g.Rules {
			exprs["alert "+r.Alert] = r.Expr
		}
	}
	for where, expr := range exprs {
		if _, err := srv.Query(ctx, grafanaVars.Replace(expr)); err != nil {
			t.Errorf("%s: %v", where, err)
		}
	}
}

func TestQueryReportsPrometheusErrors(t *testing.T) {
	srv := promtest.Start(t, promtest.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	v, err := srv.Query(ctx, `1 + 1`)
	if err != nil || len(v) != 1 || v[0].Value != 2 {
		t.Errorf("Query(1 + 1) = %v, %v; want one sample 2", v, err)
	}
	for _, q := range []string{`sum(`, `up[1m]`} {
		if _, err := srv.Query(ctx, q); err == nil || !strings.Contains(err.Error(), q) {
			t.Errorf("Query(%q) error %v, want an error naming the query", q, err)
		}
	}
}

func TestWaitForReturnsLastErrorWhenContextEnds(t *testing.T) {
	srv := promtest.Start(t, promtest.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := srv.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		_, err := srv.Query(ctx, `sum(`)
		return false, err
	})
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") || !strings.Contains(err.Error(), "sum(") {
		t.Errorf("WaitFor error %v, want the deadline and the last query error", err)
	}
}

func TestStartFailsWithPrometheusLogOnInvalidRules(t *testing.T) {
	bad := t.TempDir() + "/bad.yml"
	if err := os.WriteFile(bad, []byte("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: sum(\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		promtest.Start(rec, promtest.Config{RuleFiles: []string{bad}, StartTimeout: 15 * time.Second})
	}()
	<-done
	if rec.skipped {
		t.Skip(rec.msg) // no prometheus binary here
	}
	if !strings.Contains(rec.msg, "exited before it was ready") || !strings.Contains(rec.msg, "could not parse expression") {
		t.Errorf("Start failed with %q, want the exit and Prometheus's complaint about the rule", rec.msg)
	}
}

// fatalRecorder is a testing.TB whose Fatal and Skip record the message and
// end the calling goroutine, as the real ones do, without failing the test.
type fatalRecorder struct {
	testing.TB
	msg     string
	skipped bool
}

func (r *fatalRecorder) Fatal(args ...any) { r.msg = fmt.Sprint(args...); runtime.Goexit() }
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *fatalRecorder) Skip(args ...any) {
	r.msg, r.skipped = fmt.Sprint(args...), true
	runtime.Goexit()
}
