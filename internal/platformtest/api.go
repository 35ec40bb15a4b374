package platformtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/huleedu/huleedu/services/batchorchestrator"
	"github.com/huleedu/huleedu/services/fileservice"
)

// Do sends a request carrying ctx's trace (a traceparent header) and, when
// out is not nil, decodes the JSON answer into it. It returns an error,
// with the answer's body, unless the status is want.
func (p *Platform) Do(ctx context.Context, method, url, contentType string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, url, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s = %d %s, want %d", method, url, resp.StatusCode, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: %w in %s", method, url, err, raw)
		}
	}
	return nil
}

// RegisterBatch registers a batch of n essays for the full pipeline with
// the Batch Orchestrator and returns its id. It returns an error unless the
// orchestrator accepted the batch (202) with an id and n essay ids.
func (p *Platform) RegisterBatch(ctx context.Context, n int) (string, error) {
	body, err := json.Marshal(batchorchestrator.RegisterBatchRequest{
		EssayCount: n, CourseCode: "ENG5", EssayInstructions: "Describe your summer.", RequestedPipeline: "full",
	})
	if err != nil {
		return "", err
	}
	var resp batchorchestrator.RegisterBatchResponse
	err = p.Do(ctx, http.MethodPost, p.API(batchorchestrator.ServiceName)+"/v1/batches", "application/json", body, http.StatusAccepted, &resp)
	if err != nil {
		return "", err
	}
	if resp.BatchID == "" || len(resp.EssayIDs) != n {
		return "", fmt.Errorf("registration answered %+v, want a batch id and %d essay ids", resp, n)
	}
	return resp.BatchID, nil
}

// UploadEssays uploads n essay texts (EssayText) for batchID to the File
// Service. It returns an error unless all n were provisioned.
func (p *Platform) UploadEssays(ctx context.Context, batchID string, n int) error {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("batch_id", batchID)
	for i := range n {
		f, _ := w.CreateFormFile("files", fmt.Sprintf("essay-%02d.txt", i+1))
		_, _ = io.WriteString(f, EssayText(i))
	}
	if err := w.Close(); err != nil {
		return err
	}
	var resp fileservice.UploadResponse
	err := p.Do(ctx, http.MethodPost, p.API(fileservice.ServiceName)+"/v1/files/batch", w.FormDataContentType(), buf.Bytes(), http.StatusAccepted, &resp)
	if err != nil {
		return err
	}
	if resp.ProvisionedCount != n {
		return fmt.Errorf("upload provisioned %d of %d essays: %+v", resp.ProvisionedCount, n, resp)
	}
	return nil
}

// EssayText is the i-th essay: different lengths and a few misspellings,
// so the spellchecker has work and the judge has differences to rank.
func EssayText(i int) string {
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

// Batch returns the Batch Orchestrator's record of batchID; it fails the
// test when the orchestrator does not answer 200.
func (p *Platform) Batch(batchID string) batchorchestrator.Batch {
	p.t.Helper()
	var b batchorchestrator.Batch
	if err := p.Do(context.Background(), http.MethodGet, p.API(batchorchestrator.ServiceName)+"/v1/batches/"+batchID, "", nil, http.StatusOK, &b); err != nil {
		p.t.Fatal(err)
	}
	return b
}

// WaitCompleted waits until batchID's pipeline has ended and returns the
// batch; it fails the test when that takes longer than within.
func (p *Platform) WaitCompleted(batchID string, within time.Duration) batchorchestrator.Batch {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		b := p.Batch(batchID)
		if b.Done() {
			return b
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("batch %s not completed within %v: status %s, phase %q, results %+v", batchID, within, b.Status, b.CurrentPhase, b.PhaseResults)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
