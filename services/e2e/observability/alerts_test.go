package observability

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/internal/platformtest"
	"github.com/huleedu/huleedu/internal/promtest"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/services/batchorchestrator"
)

const (
	// alertsPath is the production rule file, relative to this package.
	alertsPath = "../../../deploy/prometheus/alerts.yml"
	// timeScale runs the rules 60 times faster: for: 5m becomes 5s, a
	// [5m] window 5s.
	timeScale = 60
	// scrapeInterval is also the rule evaluation interval.
	scrapeInterval = 250 * time.Millisecond
	// publisher is the service the test keeps publishing.
	publisher        = batchorchestrator.ServiceName
	publisherBreaker = publisher + ".kafka_producer"
)

// The services publish through the ResilientBus with its memory queue
// here (KAFKA_FALLBACK_MODE=memory, which the services with a database
// accept instead of their outbox): the fallback queue's alerts are what
// this test proves. The outbox's alerts are unit-tested with promtool
// (deploy/prometheus/alerts_test.yml).
func TestKafkaOutageFiresQueueGrowingAlertThenResolves(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	p := startPlatform(t, func(service string) fx.Option {
		if service != publisher {
			return fx.Options()
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		return fx.Decorate(func(trace.TracerProvider) trace.TracerProvider { return tp })
	}, "KAFKA_FALLBACK_MODE=memory")
	targets, services := adminTargets(t, p)
	prom := promtest.Start(t, promtest.Config{
		ScrapeTargets:  targets,
		RuleFiles:      []string{alertsPath},
		ScrapeInterval: scrapeInterval,
		TimeScale:      timeScale,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	traffic := startTraffic(t, p)
	if err := prom.WaitForScrape(ctx); err != nil {
		t.Fatal(err)
	}
	checkEveryServiceExports(ctx, t, prom, services)

	// Before the outage the orchestrator publishes straight to Kafka.
	waitForQuery(ctx, t, prom, fmt.Sprintf(`kafka_published_total{service=%q} > 0`, publisher))
	if n := traffic.accepted.Load(); n == 0 {
		t.Fatal("no registration accepted before the outage")
	}

	watch := watchAlerts(t, prom)
	if err := p.Cluster.Fault(embeddedkafka.FaultCut); err != nil {
		t.Fatal(err)
	}
	cutAt := time.Now()
	healed := false
	t.Cleanup(func() {
		if !healed {
			_ = p.Cluster.Heal()
		}
	})

	waitForQuery(ctx, t, prom, fmt.Sprintf(`circuit_breaker_state{circuit_name=%q} == 1`, publisherBreaker))
	openAt := time.Now()
	pending := waitForAlert(ctx, t, watch, "FallbackQueueGrowing", promtest.AlertPending)
	firing := waitForAlert(ctx, t, watch, "FallbackQueueGrowing", promtest.AlertFiring)
	checkAlert(t, firing, publisher, "#fallbackqueuegrowing")
	// Not closed for "more than a minute" (a second, scaled).
	breakerAlert := waitForAlert(ctx, t, watch, "CircuitBreakerOpen", promtest.AlertFiring)
	checkAlert(t, breakerAlert, publisher, "#circuitbreakeropen")

	if err := p.Cluster.Heal(); err != nil {
		t.Fatal(err)
	}
	healed = true
	healAt := time.Now()
	waitForAlert(ctx, t, watch, "FallbackQueueGrowing", promtest.AlertInactive)
	waitForQuery(ctx, t, prom, fmt.Sprintf(`circuit_breaker_state{circuit_name=%q} == 0`, publisherBreaker))
	closedAt := time.Now()
	waitForQuery(ctx, t, prom, fmt.Sprintf(`kafka_fallback_queue_depth{service=%q} == 0`, publisher))
	emptyAt := time.Now()
	waitForAlert(ctx, t, watch, "CircuitBreakerOpen", promtest.AlertInactive)
	watch.Stop()

	tl := watch.timeline()
	tl.add(cutAt, "Kafka cut")
	tl.add(openAt, "breaker "+publisherBreaker+" at 1 (open) in Prometheus")
	tl.add(pending.ActiveAt, "FallbackQueueGrowing active, by Prometheus's activeAt")
	tl.add(breakerAlert.ActiveAt, "CircuitBreakerOpen active, by Prometheus's activeAt")
	tl.add(healAt, "Kafka healed")
	tl.add(closedAt, "breaker "+publisherBreaker+" at 0 (closed) in Prometheus")
	tl.add(emptyAt, "kafka_fallback_queue_depth 0 in Prometheus")
	traffic.Stop()

	// Nothing the queue accepted was left behind: all of it was replayed.
	spooled := waitForQuery(ctx, t, prom, fmt.Sprintf(
		`kafka_fallback_replayed_total{service=%[1]q} == kafka_fallback_spooled_total{service=%[1]q} > 0`, publisher))
	t.Logf("registrations accepted %d, refused %d; records spooled and replayed by %s: %s",
		traffic.accepted.Load(), traffic.refused.Load(), publisher, spooled[0].Value)
	if n := traffic.refused.Load(); n != 0 {
		t.Errorf("%d registrations were refused (the last: %v); the fallback queue should have accepted every one", n, traffic.lastRefusal.Load())
	}
	tl.log(t, cutAt)
	checkTransitionsLoggedOnce(t, p, publisher, publisherBreaker)
	checkOutageSpans(t, spans)
}

// checkOutageSpans checks the publisher's spans: publishes that went to
// the fallback queue say so, and the drainer's replays have spans too.
func checkOutageSpans(t *testing.T, rec *tracetest.SpanRecorder) {
	t.Helper()
	paths := map[string]int{}
	replays, rejections := 0, 0
	for _, s := range rec.Ended() {
		switch s.Name() {
		case "kafka.publish":
			for _, a := range s.Attributes() {
				if a.Key == "huleedu.publish.path" {
					paths[a.Value.AsString()]++
				}
			}
			for _, e := range s.Events() {
				if e.Name == "circuit_breaker.rejected" {
					rejections++
				}
			}
		case "kafka.replay":
			replays++
		}
	}
	t.Logf("%s spans: kafka.publish by path %v (%d with a breaker rejection event), %d kafka.replay", publisher, paths, rejections, replays)
	if paths["direct"] == 0 || paths["spooled"] == 0 || replays == 0 {
		t.Errorf("want kafka.publish spans on the direct and the spooled path and kafka.replay spans; got %v and %d replays", paths, replays)
	}
}

// traffic keeps registering one-essay batches with the orchestrator, each
// of which publishes one BatchEssaysRegistered event, ten a second.
type traffic struct {
	accepted, refused atomic.Int64
	lastRefusal       atomic.Value // string: why the last refused registration was refused
	stop              chan struct{}
	done              chan struct{}
}

func startTraffic(t *testing.T, p *platformtest.Platform) *traffic {
	t.Helper()
	tr := &traffic{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := p.RegisterBatch(context.Background(), 1); err != nil {
				tr.refused.Add(1)
				tr.lastRefusal.Store(err.Error())
			} else {
				tr.accepted.Add(1)
			}
			select {
			case <-tr.stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(tr.Stop)
	return tr
}

// Stop stops the traffic and waits for the request in flight.
func (tr *traffic) Stop() {
	select {
	case <-tr.stop:
	default:
		close(tr.stop)
	}
	<-tr.done
}

// waitForQuery waits until promql returns at least one sample and returns
// them.
func waitForQuery(ctx context.Context, t *testing.T, prom *promtest.Server, promql string) model.Vector {
	t.Helper()
	var v model.Vector
	err := prom.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		var err error
		v, err = prom.Query(ctx, promql)
		return len(v) > 0, err
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", promql, err)
	}
	return v
}

// waitForAlert waits until the alert name is in state (AlertInactive:
// resolved) and tells the watcher when the test saw it.
func waitForAlert(ctx context.Context, t *testing.T, watch *alertWatcher, name string, state promtest.AlertState) promtest.Alert {
	t.Helper()
	a, err := watch.prom.WaitForAlert(ctx, name, state)
	if err != nil {
		t.Fatal(err)
	}
	seen := string(state)
	if state == promtest.AlertInactive {
		seen = "resolved"
	}
	watch.Saw(name, seen, time.Now())
	return a
}

// checkAlert checks that a is about service and has a summary and its
// runbook section.
func checkAlert(t *testing.T, a promtest.Alert, service, runbookAnchor string) {
	t.Helper()
	if a.Labels["service"] != service {
		t.Errorf("%s is about service %q, want %q (labels %v)", a.Name(), a.Labels["service"], service, a.Labels)
	}
	if a.Annotations["summary"] == "" || !strings.HasSuffix(a.Annotations["runbook_url"], runbookAnchor) {
		t.Errorf("%s annotations %v: want a summary and a runbook_url ending in %s", a.Name(), a.Annotations, runbookAnchor)
	}
}

// checkTransitionsLoggedOnce compares the breaker's own count of its
// transitions with the "circuit breaker state changed" lines of service:
// one line per transition, however many calls the breaker rejected.
func checkTransitionsLoggedOnce(t *testing.T, p *platformtest.Platform, service, breaker string) {
	t.Helper()
	var transitions, rejected uint64
	for _, s := range p.App(service).Runner().CircuitBreakers().Breakers {
		if s.Name == breaker {
			for _, tr := range s.Transitions {
				transitions += tr.Count
			}
			rejected = s.Totals.Rejected
		}
	}
	lines := p.Logs.Lines(t, "circuit breaker state changed", map[string]string{"service": service, "circuit_name": breaker})
	opened := 0
	for _, l := range lines {
		if l["to_state"] == resilience.StateOpen.String() {
			opened++
		}
	}
	t.Logf("%s: %d transitions (%d to open), %d log lines, %d calls rejected while open", breaker, transitions, opened, len(lines), rejected)
	if transitions == 0 || uint64(len(lines)) != transitions {
		t.Errorf("%s made %d transitions and logged %d lines; want one line per transition", breaker, transitions, len(lines))
	}
}
