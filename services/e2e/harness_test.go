package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/kafkatest"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/servicekit/servicekittest"
	"github.com/huleedu/huleedu/services/batchconductor"
	"github.com/huleedu/huleedu/services/batchorchestrator"
	"github.com/huleedu/huleedu/services/cjassessment"
	"github.com/huleedu/huleedu/services/classmgmt"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/essaylifecycle"
	"github.com/huleedu/huleedu/services/fileservice"
	"github.com/huleedu/huleedu/services/spellchecker"
)

// platform is every service of the pipeline, started on one cluster.
type platform struct {
	t        *testing.T
	cluster  *kafkatest.Cluster
	group    *servicekit.Group
	accepted *acceptedEvents
	logs     *servicekittest.LogBuffer
	// gates hold back the publishes of a service until opened.
	gates map[string]*gate
	// halted are apps stopped with Halt; restarted replace them.
	halted    map[*servicekit.App]bool
	restarted map[string]*servicekit.App
}

// specs returns the platform's services; decorate wraps each module.
func specs() []servicekit.ServiceSpec {
	return []servicekit.ServiceSpec{
		fileservice.Spec(), classmgmt.Spec(), batchconductor.Spec(), batchorchestrator.Spec(),
		essaylifecycle.Spec(), spellchecker.Spec(), cjassessment.Spec(),
	}
}

// startPlatform starts a one-broker cluster with every topic and all
// services on it, with timings short enough for a test: a publish gives up
// on Kafka after 500ms and goes to the fallback queue, breakers probe
// every 250ms, a vanished consumer is replaced within 2s. extra adds
// variables; gated names the services whose publishes wait for their gate.
func startPlatform(t *testing.T, extra []string, gated ...string) *platform {
	t.Helper()
	cluster := kafkatest.NewTestCluster(t, kafkatest.Config{
		Brokers:       1,
		Partitions:    3,
		Topics:        servicekit.WithDeadLetterTopics(contracts.Topics()),
		BrokerConfigs: map[string]string{"group.min.session.timeout.ms": "100"},
	})
	p := &platform{t: t, cluster: cluster, accepted: newAcceptedEvents(), logs: &servicekittest.LogBuffer{}, gates: map[string]*gate{},
		halted: map[*servicekit.App]bool{}, restarted: map[string]*servicekit.App{}}
	for _, name := range gated {
		p.gates[name] = newGate()
	}
	environ := append([]string{
		"KAFKA_BOOTSTRAP_SERVERS=" + strings.Join(cluster.Addrs(), ","),
		"KAFKA_PUBLISH_TIMEOUT=500ms",
		"KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=2",
		"KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=250ms",
		"KAFKA_CIRCUIT_BREAKER_SUCCESS_THRESHOLD=1",
		"KAFKA_METADATA_MIN_AGE=100ms",
		"KAFKA_CONSUMER_SESSION_TIMEOUT=2s",
		"KAFKA_CONSUMER_RETRY_BACKOFF=50ms",
		"KAFKA_CONSUMER_RETRY_MAX_BACKOFF=500ms",
		"KAFKA_CONSUMER_MAX_ATTEMPTS=20",
		"SHUTDOWN_TIMEOUT=20s",
		"LOG_LEVEL=info",
	}, extra...)
	var wrapped []servicekit.ServiceSpec
	for _, s := range specs() {
		s.Module = fx.Options(s.Module, p.decorate(s.Name))
		wrapped = append(wrapped, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := servicekit.StartAll(ctx, environ, wrapped, servicekit.WithLogOutput(p.logs))
	if err != nil {
		t.Fatal(err)
	}
	p.group = g
	t.Cleanup(func() {
		for _, gt := range p.gates {
			gt.Open()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		apps := g.Apps()
		for i := len(apps) - 1; i >= 0; i-- {
			a := apps[i]
			if r := p.restarted[a.Service()]; r != nil {
				a = r
			}
			if p.halted[a] {
				continue
			}
			if err := a.Stop(ctx); err != nil {
				t.Errorf("stopping %s: %v", a.Service(), err)
			}
		}
		if t.Failed() || os.Getenv("HULEEDU_E2E_LOGS") != "" {
			t.Logf("service logs (last 256 KiB):\n%s", p.logs.Tail(256<<10))
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

// app returns the running app of service.
func (p *platform) app(service string) *servicekit.App {
	p.t.Helper()
	if a := p.restarted[service]; a != nil {
		return a
	}
	a, ok := p.group.App(service)
	if !ok {
		p.t.Fatalf("no service %s", service)
	}
	return a
}

// restart halts service as a crash would (no drain: the disk spool keeps
// what it accepted) and starts a new process of it from the same
// environment, so on the same spool directory.
func (p *platform) restart(service string, module fx.Option) *servicekit.App {
	p.t.Helper()
	old := p.app(service)
	// Halt reports what it cut short; the spool keeps the records.
	if err := old.Halt(); err != nil {
		p.t.Logf("halt %s: %v", service, err)
	}
	p.halted[old] = true
	a, err := servicekit.New(old.Env(), fx.Options(module, p.decorate(service)), servicekit.WithLogOutput(p.logs))
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		p.t.Fatal(err)
	}
	p.restarted[service] = a
	return a
}

// api returns the API base URL of service.
func (p *platform) api(service string) string { return p.app(service).Endpoints().API }

// cut cuts every connection to Kafka.
func (p *platform) cut() {
	p.t.Helper()
	if err := p.cluster.Fault(kafkatest.FaultCut); err != nil {
		p.t.Fatal(err)
	}
}

// heal ends the cut.
func (p *platform) heal() {
	p.t.Helper()
	if err := p.cluster.Heal(); err != nil {
		p.t.Fatal(err)
	}
}

// registerBatch registers a batch of n essays for the full pipeline and
// returns its id.
func (p *platform) registerBatch(n int) string {
	p.t.Helper()
	body, _ := json.Marshal(batchorchestrator.RegisterBatchRequest{
		EssayCount: n, CourseCode: "ENG5", EssayInstructions: "Describe your summer.", RequestedPipeline: "full",
	})
	var resp batchorchestrator.RegisterBatchResponse
	p.do(http.MethodPost, p.api(batchorchestrator.ServiceName)+"/v1/batches", "application/json", body, http.StatusAccepted, &resp)
	if resp.BatchID == "" || len(resp.EssayIDs) != n {
		p.t.Fatalf("registration answered %+v, want a batch id and %d essay ids", resp, n)
	}
	return resp.BatchID
}

// uploadEssays uploads n essay texts for batchID to the File Service.
func (p *platform) uploadEssays(batchID string, n int) {
	p.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("batch_id", batchID)
	for i := range n {
		f, _ := w.CreateFormFile("files", fmt.Sprintf("essay-%02d.txt", i+1))
		_, _ = io.WriteString(f, essayText(i))
	}
	_ = w.Close()
	var resp fileservice.UploadResponse
	p.do(http.MethodPost, p.api(fileservice.ServiceName)+"/v1/files/batch", w.FormDataContentType(), buf.Bytes(), http.StatusAccepted, &resp)
	if resp.ProvisionedCount != n {
		p.t.Fatalf("upload provisioned %d of %d essays: %+v", resp.ProvisionedCount, n, resp)
	}
}

// essayText is the i-th essay: different lengths and a few misspellings,
// so the spellchecker has work and the judge has differences to rank.
func essayText(i int) string {
	sentences := []string{
		"This summer I visited my grandparents in the countryside.",
		"We walked to the lake every morning and watched the birds.",
		"Recieve the sun on your face and you will feel definately better.",
		"My brother and I built a small boat from old wood.",
		"In the evenings we read books and talked about the future.",
		"The weather was beautifull and the days were long.",
	}
	var b strings.Builder
	for j := range 2 + i%5 {
		b.WriteString(sentences[(i+j)%len(sentences)])
		b.WriteByte(' ')
	}
	return b.String()
}

// batchStatus returns the orchestrator's record of batchID.
func (p *platform) batchStatus(batchID string) batchorchestrator.Batch {
	p.t.Helper()
	var b batchorchestrator.Batch
	p.do(http.MethodGet, p.api(batchorchestrator.ServiceName)+"/v1/batches/"+batchID, "", nil, http.StatusOK, &b)
	return b
}

// essays returns the Essay Lifecycle's record of batchID.
func (p *platform) essays(batchID string) essaylifecycle.BatchState {
	p.t.Helper()
	var st essaylifecycle.BatchState
	p.do(http.MethodGet, p.api(essaylifecycle.ServiceName)+"/v1/batches/"+batchID+"/essays", "", nil, http.StatusOK, &st)
	return st
}

// waitCompleted waits until batchID's pipeline has ended and returns it.
func (p *platform) waitCompleted(batchID string, within time.Duration) batchorchestrator.Batch {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		b := p.batchStatus(batchID)
		if b.Done() {
			return b
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("batch %s not completed within %v: status %s, phase %q, results %+v", batchID, within, b.Status, b.CurrentPhase, b.PhaseResults)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// do sends a request and decodes the JSON answer into out, failing the
// test unless the status is want.
func (p *platform) do(method, url, contentType string, body []byte, want int, out any) {
	p.t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		p.t.Fatalf("%s %s = %d %s, want %d", method, url, resp.StatusCode, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			p.t.Fatalf("%s %s: %v in %s", method, url, err, raw)
		}
	}
}

// topicEvents returns, for every platform topic, how often each event id
// is in Kafka now.
func (p *platform) topicEvents() map[string]map[string]int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all := map[string]map[string]int{}
	for _, topic := range servicekit.WithDeadLetterTopics(contracts.Topics()) {
		recs, err := kafkatest.ReadAll(ctx, p.cluster.Addrs(), topic)
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

// observedBus records what its bus accepted and, with a gate, holds every
// publish until the gate opens.
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
		b.accepted.add(b.service, topic, env.EventID.String())
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
