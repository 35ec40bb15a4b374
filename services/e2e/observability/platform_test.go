package observability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.uber.org/fx"

	"github.com/huleedu/huleedu/internal/kafkatest"
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

// platformEnv is what every service of a test platform sees, besides the
// cluster's address: a publish gives up on Kafka after 500ms and goes to
// the fallback queue, two failures open the Kafka breaker, which probes
// again after 1s and closes on the first success; clients notice a healed
// cluster within 100ms; API and admin servers listen on free loopback
// ports (the servicekit defaults).
var platformEnv = []string{
	"KAFKA_PUBLISH_TIMEOUT=500ms",
	"KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=2",
	"KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=1s",
	"KAFKA_CIRCUIT_BREAKER_SUCCESS_THRESHOLD=1",
	"KAFKA_METADATA_MIN_AGE=100ms",
	"KAFKA_CONSUMER_SESSION_TIMEOUT=2s",
	"KAFKA_CONSUMER_RETRY_BACKOFF=50ms",
	"KAFKA_CONSUMER_RETRY_MAX_BACKOFF=500ms",
	"KAFKA_CONSUMER_MAX_ATTEMPTS=20",
	"SHUTDOWN_TIMEOUT=20s",
	"LOG_LEVEL=info",
}

// platform is every service of `huleedu serve all`, started on a cluster
// the test owns.
type platform struct {
	t       *testing.T
	cluster *kafkatest.Cluster
	group   *servicekit.Group
	logs    *servicekittest.LogBuffer
	client  *http.Client
}

// startPlatform starts a one-broker cluster with every topic and all
// services on it. module, when not nil, adds to each service's module
// (a decoration, say); the platform stops when the test ends.
func startPlatform(t *testing.T, module func(service string) fx.Option) *platform {
	t.Helper()
	cluster := kafkatest.NewTestCluster(t, kafkatest.Config{
		Brokers:       1,
		Partitions:    3,
		Topics:        servicekit.WithDeadLetterTopics(contracts.Topics()),
		BrokerConfigs: map[string]string{"group.min.session.timeout.ms": "100"},
	})
	p := &platform{t: t, cluster: cluster, logs: &servicekittest.LogBuffer{}, client: &http.Client{Transport: &http.Transport{}}}
	environ := append([]string{"KAFKA_BOOTSTRAP_SERVERS=" + strings.Join(cluster.Addrs(), ",")}, platformEnv...)

	// The services of `huleedu serve all`.
	specs := []servicekit.ServiceSpec{
		fileservice.Spec(), classmgmt.Spec(), batchorchestrator.Spec(), batchconductor.Spec(),
		essaylifecycle.Spec(), spellchecker.Spec(), cjassessment.Spec(),
	}
	if module != nil {
		for i, s := range specs {
			specs[i].Module = fx.Options(s.Module, module(s.Name))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := servicekit.StartAll(ctx, environ, specs, servicekit.WithLogOutput(p.logs))
	if err != nil {
		t.Fatal(err)
	}
	p.group = g
	t.Cleanup(func() {
		p.client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := g.Stop(ctx); err != nil {
			t.Errorf("stopping the services: %v", err)
		}
		if t.Failed() || os.Getenv("HULEEDU_E2E_LOGS") != "" {
			t.Logf("service logs (last 256 KiB):\n%s", p.logs.Tail(256<<10))
		}
	})
	return p
}

// app returns the running app of service.
func (p *platform) app(service string) *servicekit.App {
	p.t.Helper()
	a, ok := p.group.App(service)
	if !ok {
		p.t.Fatalf("no service %s", service)
	}
	return a
}

// adminTargets returns every service's admin server as host:port, for
// Prometheus to scrape, and the service each one belongs to.
func (p *platform) adminTargets() (targets []string, services map[string]string) {
	p.t.Helper()
	services = map[string]string{}
	for _, a := range p.group.Apps() {
		u, err := url.Parse(a.Endpoints().Admin)
		if err != nil {
			p.t.Fatal(err)
		}
		targets = append(targets, u.Host)
		services[u.Host] = a.Service()
	}
	return targets, services
}

// api returns the API base URL of service.
func (p *platform) api(service string) string { return p.app(service).Endpoints().API }

// registerBatch registers a batch of n essays for the full pipeline with
// the trace of ctx, and returns its id. It returns the status when the
// orchestrator did not answer 202 and fails the test on transport errors.
func (p *platform) registerBatch(ctx context.Context, n int) (string, int) {
	p.t.Helper()
	body, _ := json.Marshal(batchorchestrator.RegisterBatchRequest{
		EssayCount: n, CourseCode: "ENG5", EssayInstructions: "Describe your summer.", RequestedPipeline: "full",
	})
	var resp batchorchestrator.RegisterBatchResponse
	status, err := p.do(ctx, http.MethodPost, p.api(batchorchestrator.ServiceName)+"/v1/batches", "application/json", body, &resp)
	if err != nil {
		p.t.Error(err)
		return "", 0
	}
	return resp.BatchID, status
}

// uploadEssays uploads n essay texts for batchID to the File Service with
// the trace of ctx.
func (p *platform) uploadEssays(ctx context.Context, batchID string, n int) {
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
	status, err := p.do(ctx, http.MethodPost, p.api(fileservice.ServiceName)+"/v1/files/batch", w.FormDataContentType(), buf.Bytes(), &resp)
	if err != nil {
		p.t.Fatal(err)
	}
	if status != http.StatusAccepted || resp.ProvisionedCount != n {
		p.t.Fatalf("upload answered %d, provisioned %d of %d essays: %+v", status, resp.ProvisionedCount, n, resp)
	}
}

// essayText is the i-th essay, with a few misspellings for the
// spellchecker.
func essayText(i int) string {
	sentences := []string{
		"This summer I visited my grandparents in the countryside.",
		"Recieve the sun on your face and you will feel definately better.",
		"My brother and I built a small boat from old wood.",
		"The weather was beautifull and the days were long.",
	}
	var b strings.Builder
	for j := range 2 + i%3 {
		b.WriteString(sentences[(i+j)%len(sentences)])
		b.WriteByte(' ')
	}
	return b.String()
}

// waitCompleted waits until batchID's pipeline has ended and returns it.
func (p *platform) waitCompleted(batchID string, within time.Duration) batchorchestrator.Batch {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var b batchorchestrator.Batch
		status, err := p.do(context.Background(), http.MethodGet, p.api(batchorchestrator.ServiceName)+"/v1/batches/"+batchID, "", nil, &b)
		if err != nil || status != http.StatusOK {
			p.t.Fatalf("batch status: %d %v", status, err)
		}
		if b.Done() {
			return b
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("batch %s not completed within %v: status %s, phase %q", batchID, within, b.Status, b.CurrentPhase)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// do sends a request carrying ctx's trace (traceparent) and decodes a
// JSON answer into out; it returns the status code.
func (p *platform) do(ctx context.Context, method, url, contentType string, body []byte, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w in %s", method, url, err, raw)
		}
	}
	return resp.StatusCode, nil
}
