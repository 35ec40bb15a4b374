package e2e

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/platformtest"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/kafkaconsumer"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/essaylifecycle"
	"github.com/huleedu/huleedu/services/spellchecker"
	"github.com/huleedu/huleedu/sqldb"
)

// platform is every service of the pipeline (platformtest) with every
// service's bus observed: the test sees what each accepted and can hold
// a service's publishes back.
type platform struct {
	*platformtest.Platform
	t        *testing.T
	accepted *acceptedEvents
	// gates hold back the publishes of a service until opened.
	gates map[string]*gate
}

// startPlatform starts every service on a cluster of the test's own
// (platformtest.Start). extra adds variables; gated names the services
// whose publishes wait for their gate.
func startPlatform(t *testing.T, extra []string, gated ...string) *platform {
	t.Helper()
	return startPlatformWith(t, platformtest.Options{Env: extra}, gated...)
}

// startPlatformWith is startPlatform with the harness's options.
func startPlatformWith(t *testing.T, o platformtest.Options, gated ...string) *platform {
	t.Helper()
	p := &platform{t: t, accepted: newAcceptedEvents(), gates: map[string]*gate{}}
	for _, name := range gated {
		p.gates[name] = newGate()
	}
	o.Module = p.decorate
	p.Platform = platformtest.Start(t, o)
	// Runs before the services stop: a publish held at a gate would
	// otherwise block the shutdown.
	t.Cleanup(func() {
		for _, gt := range p.gates {
			gt.Open()
		}
	})
	return p
}

// decorate wraps service's kafkabus.Bus so the test sees what it accepted
// and can hold its publishes back.
func (p *platform) decorate(service string) fx.Option {
	return fx.Decorate(func(b kafkabus.Bus) kafkabus.Bus {
		return &observedBus{Bus: b, service: service, accepted: p.accepted, gate: p.gates[service]}
	})
}

// cut cuts every connection to Kafka.
func (p *platform) cut() {
	p.t.Helper()
	if err := p.Cluster.Fault(embeddedkafka.FaultCut); err != nil {
		p.t.Fatal(err)
	}
}

// healAt ends the cut at t: the outage lasts until then, whatever the
// services do.
func (p *platform) healAt(t time.Time) {
	p.t.Helper()
	time.Sleep(time.Until(t))
	if err := p.Cluster.Heal(); err != nil {
		p.t.Fatal(err)
	}
}

// cutMidPipeline starts a batch of n essays and waits until the pipeline
// reaches the spellcheck phase: the Spellchecker's first result waits at
// its gate (the Spellchecker must be gated). Kafka goes down right then, in
// the middle of the pipeline, and the gate opens, so the results go to the
// fallback queue. It returns the batch id and when Kafka was cut.
func (p *platform) cutMidPipeline(n int) (string, time.Time) {
	p.t.Helper()
	ctx := context.Background()
	batchID, err := p.RegisterBatch(ctx, n)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.UploadEssays(ctx, batchID, n); err != nil {
		p.t.Fatal(err)
	}
	gate := p.gates[spellchecker.ServiceName]
	select {
	case <-gate.Entered():
	case <-time.After(30 * time.Second):
		p.t.Fatal("the spellcheck phase did not start within 30s")
	}
	p.cut()
	cutAt := time.Now()
	gate.Open()
	return batchID, cutAt
}

// essays returns the Essay Lifecycle's record of batchID.
func (p *platform) essays(batchID string) essaylifecycle.BatchState {
	p.t.Helper()
	var st essaylifecycle.BatchState
	url := p.API(essaylifecycle.ServiceName) + "/v1/batches/" + batchID + "/essays"
	if err := p.Do(context.Background(), http.MethodGet, url, "", nil, http.StatusOK, &st); err != nil {
		p.t.Fatal(err)
	}
	return st
}

// topicEvents returns, for every platform topic, how often each event id
// is in Kafka now.
func (p *platform) topicEvents() map[string]map[string]int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all := map[string]map[string]int{}
	for _, topic := range kafkaconsumer.WithDeadLetterTopics(contracts.Topics()) {
		recs, err := embeddedkafka.ReadAll(ctx, p.Cluster.Addrs(), topic)
		if err != nil {
			p.t.Fatal(err)
		}
		ids := map[string]int{}
		for _, r := range recs {
			for _, h := range r.Headers {
				if h.Key == event.HeaderEventID {
					ids[string(h.Value)]++
				}
			}
		}
		all[topic] = ids
	}
	return all
}

// outboxPending returns how many events wait in the outbox of a's
// service.
func outboxPending(t *testing.T, a *servicekit.App) int64 {
	t.Helper()
	db := a.Runner().Database()
	if db == nil || a.Runner().Kafka().Outbox == nil {
		t.Fatalf("%s does not publish through an outbox", a.Service())
	}
	st, err := db.Outbox.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Pending
}

// observedBus records what its bus accepted and, with a gate, holds every
// publish until the gate opens. An event published in a transaction (the
// outbox's) counts as accepted once the transaction committed.
type observedBus struct {
	kafkabus.Bus
	service  string
	accepted *acceptedEvents
	gate     *gate
}

func (b *observedBus) Publish(ctx context.Context, topic, key string, env *event.Envelope) error {
	if b.gate != nil {
		if err := b.gate.Wait(ctx); err != nil {
			return err
		}
	}
	err := b.Bus.Publish(ctx, topic, key, env)
	if err == nil {
		sqldb.AfterCommit(ctx, func() { b.accepted.add(b.service, topic, env.EventID.String()) })
	}
	return err
}

// acceptedEvents are the events the services' buses accepted.
type acceptedEvents struct {
	mu      sync.Mutex
	byTopic map[string]map[string]string // topic → event id → service
}

func newAcceptedEvents() *acceptedEvents {
	return &acceptedEvents{byTopic: map[string]map[string]string{}}
}

func (a *acceptedEvents) add(service, topic, id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byTopic[topic] == nil {
		a.byTopic[topic] = map[string]string{}
	}
	a.byTopic[topic][id] = service
}

// snapshot returns a copy.
func (a *acceptedEvents) snapshot() map[string]map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]map[string]string{}
	for t, ids := range a.byTopic {
		out[t] = map[string]string{}
		for id, s := range ids {
			out[t][id] = s
		}
	}
	return out
}

// gate holds publishes back: Entered is closed when the first publish
// arrives, and every publish waits until Open.
type gate struct {
	enterOnce sync.Once
	entered   chan struct{}
	openOnce  sync.Once
	open      chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}), open: make(chan struct{})} }

// Wait blocks until the gate is open or ctx ends.
func (g *gate) Wait(ctx context.Context) error {
	g.enterOnce.Do(func() { close(g.entered) })
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Entered is closed once a publish waits at the gate.
func (g *gate) Entered() <-chan struct{} { return g.entered }

// Open lets every publish through, now and later.
func (g *gate) Open() { g.openOnce.Do(func() { close(g.open) }) }
