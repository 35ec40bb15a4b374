package llmprovider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience/resiliencetest"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
	"github.com/huleedu/huleedu/services/llmprovider"
)

// svc is a running service on a recording bus, with a fake queue clock.
type svc struct {
	*llmprovider.Service
	bus   *contractstest.Bus
	queue *llmprovider.MemoryQueue
	clock *resiliencetest.Clock
	x     *dispatch
	mux   *http.ServeMux
}

func startService(t *testing.T, providers []llmprovider.Provider, cfg llmprovider.Config, limits ...int) *svc {
	t.Helper()
	maxReq, maxBytes := 100, 1<<20
	if len(limits) == 2 {
		maxReq, maxBytes = limits[0], limits[1]
	}
	q, err := llmprovider.NewMemoryQueue(llmprovider.MemoryQueueOptions{MaxRequests: maxReq, MaxBytes: int64(maxBytes)})
	if err != nil {
		t.Fatal(err)
	}
	m := llmprovider.NewMetrics("llm_provider_service", q, nil)
	x := newDispatch(t, providers, func(c *llmprovider.DispatcherConfig) { c.Metrics = m })
	x.metrics = m
	s := &svc{bus: contractstest.NewBus(), queue: q, clock: x.clock, x: x, mux: http.NewServeMux()}
	s.Service, err = llmprovider.New(cfg, llmprovider.Deps{Bus: s.bus, Queue: q, Dispatcher: x.d, Metrics: x.metrics, Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	s.Routes(s.mux)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s
}

func comparisonRequest(id string) contracts.LLMComparisonRequestV1 {
	return contracts.LLMComparisonRequestV1{RequestID: id, EssayA: pair.EssayA, EssayB: pair.EssayB, Prompt: pair.Prompt,
		CorrelationID: "corr-1", Metadata: map[string]string{"batch_id": "b-1"}}
}

func (s *svc) post(t *testing.T, body any) *httptest.ResponseRecorder {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/comparison", bytes.NewReader(raw)))
	return rec
}

func (s *svc) submit(t *testing.T, req contracts.LLMComparisonRequestV1) contracts.LLMComparisonAccepted {
	t.Helper()
	rec := s.post(t, req)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST /v1/comparison = %d %s, want 202", rec.Code, rec.Body)
	}
	var a contracts.LLMComparisonAccepted
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func (s *svc) status(t *testing.T, queueID string) (int, contracts.LLMComparisonAccepted) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/status/"+queueID, nil))
	var a contracts.LLMComparisonAccepted
	_ = json.Unmarshal(rec.Body.Bytes(), &a)
	return rec.Code, a
}

// waitEvents waits until n events are on the bus and returns them.
func (s *svc) waitEvents(t *testing.T, n int) []contractstest.Published {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d published events", n), func() bool { return len(s.bus.All()) >= n })
	return s.bus.All()
}

func TestSubmittedComparisonIsJudgedAndPublishedToItsCallbackTopic(t *testing.T) {
	api := newAnthropicAPI(t, always(anthropicOK("B")))
	s := startService(t, []llmprovider.Provider{newAnthropic(t, api)}, llmprovider.Config{})
	req := comparisonRequest("r-1")
	req.CallbackTopic = "cj.results.v1"
	a := s.submit(t, req)
	if a.QueueID != llmprovider.QueueID("r-1") || a.Status != contracts.LLMStatusQueued || a.RequestID != "r-1" ||
		!a.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("202 body %+v: want the queue id of r-1, queued, expiring after the default TTL", a)
	}
	p := s.waitEvents(t, 1)[0]
	r, err := event.Decode[contracts.LLMComparisonResultV1](p.Envelope)
	if err != nil {
		t.Fatal(err)
	}
	if p.Topic != "cj.results.v1" || p.Envelope.EventType != contracts.TypeLLMComparisonResultV1 || p.Envelope.CorrelationID != "corr-1" ||
		p.Envelope.EventID.String() != contracts.EventID(contracts.TypeLLMComparisonResultV1, "r-1") {
		t.Errorf("published %s %s to %s (correlation %s)", p.Envelope.EventType, p.Envelope.EventID, p.Topic, p.Envelope.CorrelationID)
	}
	if r.WinnerID != "e-2" || r.Provider != llmprovider.ProviderAnthropic || r.InputTokens != 420 || r.Metadata["batch_id"] != "b-1" ||
		r.QueueID != a.QueueID || r.Attempts != 1 || r.CostUSD == 0 {
		t.Errorf("result %+v", r)
	}
	waitFor(t, "the entry completed", func() bool { _, st := s.status(t, a.QueueID); return st.Status == contracts.LLMStatusCompleted })
	if code, st := s.status(t, a.QueueID); code != http.StatusOK || st.Provider != llmprovider.ProviderAnthropic || st.Attempts != 1 {
		t.Errorf("GET /v1/status = %d %+v", code, st)
	}
}

func TestRepeatedRequestIDIsQueuedAndJudgedOnce(t *testing.T) {
	release := make(chan struct{})
	api := newAnthropicAPI(t, func(int) reply { r := anthropicOK("A"); r.block = release; return r })
	s := startService(t, []llmprovider.Provider{newAnthropic(t, api)}, llmprovider.Config{})
	first := s.submit(t, comparisonRequest("r-1"))
	waitFor(t, "the provider asked", func() bool { return api.calls.Load() == 1 })
	again := s.submit(t, comparisonRequest("r-1"))
	if again.QueueID != first.QueueID || again.Status != contracts.LLMStatusProcessing {
		t.Errorf("repeat answered %+v, want the same entry, processing", again)
	}
	close(release)
	s.waitEvents(t, 1)
	waitFor(t, "completed", func() bool { _, st := s.status(t, first.QueueID); return st.Status == contracts.LLMStatusCompleted })
	s.submit(t, comparisonRequest("r-1"))
	if n, m := api.calls.Load(), len(s.bus.All()); n != 1 || m != 1 {
		t.Errorf("%d provider calls and %d events for one request id, want 1 and 1", n, m)
	}
	if got := metricValue(t, s.x.metrics, "llm_queue_submissions_total", "result", "duplicate"); got != 2 {
		t.Errorf("duplicate submissions %v, want 2", got)
	}
}

func TestInvalidRequestsAreRefusedNamingTheField(t *testing.T) {
	s := startService(t, []llmprovider.Provider{llmprovider.LocalProvider{}}, llmprovider.Config{})
	for field, mutate := range map[string]func(*contracts.LLMComparisonRequestV1){
		"essay_a.id":     func(r *contracts.LLMComparisonRequestV1) { r.EssayA.ID = "" },
		"essay_b.id":     func(r *contracts.LLMComparisonRequestV1) { r.EssayB.ID = r.EssayA.ID },
		"essay_b.text":   func(r *contracts.LLMComparisonRequestV1) { r.EssayB.Text = "" },
		"provider":       func(r *contracts.LLMComparisonRequestV1) { r.Provider = "anthropic" },
		"callback_topic": func(r *contracts.LLMComparisonRequestV1) { r.CallbackTopic = "no spaces/allowed" },
		"ttl_seconds":    func(r *contracts.LLMComparisonRequestV1) { r.TTLSeconds = -1 },
		"request_id":     func(r *contracts.LLMComparisonRequestV1) { r.RequestID = strings.Repeat("x", 201) },
	} {
		req := comparisonRequest("r-1")
		mutate(&req)
		rec := s.post(t, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"field":"`+field+`"`) {
			t.Errorf("%s: %d %s, want 400 naming the field", field, rec.Code, rec.Body)
		}
	}
	rec := s.post(t, map[string]any{"essay_a": map[string]string{"id": "a", "text": "x"}, "essays": 2})
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `unknown field \"essays\"`) {
		t.Errorf("unknown field: %d %s", rec.Code, rec.Body)
	}
	if st, _ := s.queue.Stats(context.Background()); st.Requests != 0 || len(s.bus.All()) != 0 {
		t.Errorf("refused requests left %d entries and %d events", st.Requests, len(s.bus.All()))
	}
}

func TestFullQueueAnswers503WithRetryAfterAndPublishesTheFailure(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	api := newAnthropicAPI(t, func(int) reply { r := anthropicOK("A"); r.block = release; return r })
	s := startService(t, []llmprovider.Provider{newAnthropic(t, api)}, llmprovider.Config{Workers: 1, QueueFullRetryAfter: 42 * time.Second}, 2, 1<<20)
	s.submit(t, comparisonRequest("r-1"))
	s.submit(t, comparisonRequest("r-2"))
	rec := s.post(t, comparisonRequest("r-3"))
	var body llmprovider.QueueFullBody
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "42" || body.RetryAfterSeconds != 42 || body.Error.Code != "queue_full" {
		t.Fatalf("third request: %d, Retry-After %q, body %s; want 503 with 42s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	p := s.waitEvents(t, 1)[0]
	f, err := event.Decode[contracts.LLMComparisonFailedV1](p.Envelope)
	if err != nil || p.Topic != contracts.TopicLLMComparisonResultV1 || f.Reason != contracts.LLMFailureQueueFull ||
		f.RetryAfterSeconds != 42 || f.RequestID != "r-3" || f.Metadata["batch_id"] != "b-1" {
		t.Errorf("failure event %+v on %s, %v", f, p.Topic, err)
	}
	if code, _ := s.status(t, llmprovider.QueueID("r-3")); code != http.StatusNotFound {
		t.Errorf("GET status of the refused request = %d, want 404: nothing was queued", code)
	}
	if got := metricValue(t, s.x.metrics, "llm_queue_depth"); got != 2 {
		t.Errorf("llm_queue_depth = %v, want 2", got)
	}
}

func TestRequestThatOutlivesItsTTLEndsWithAnExpiredFailure(t *testing.T) {
	api := newAnthropicAPI(t, always(anthropic529()))
	s := startService(t, []llmprovider.Provider{newAnthropic(t, api)}, llmprovider.Config{RetryDelay: time.Millisecond})
	req := comparisonRequest("r-1")
	req.TTLSeconds = 600
	a := s.submit(t, req)
	// The 529 opens the breaker; the request waits in the queue for it.
	waitFor(t, "the request back in the queue", func() bool {
		_, st := s.status(t, a.QueueID)
		return st.Status == contracts.LLMStatusQueued && st.Attempts == 1
	})
	if _, st := s.status(t, a.QueueID); !st.NextAttemptAt.Equal(t0.Add(120*time.Second)) || !strings.Contains(st.LastError, "529") {
		t.Errorf("status %+v: want the next attempt when the breaker's open period ends, and the 529 as last error", st)
	}
	s.clock.Advance(601 * time.Second)
	p := s.waitEvents(t, 1)[0]
	f, err := event.Decode[contracts.LLMComparisonFailedV1](p.Envelope)
	if err != nil || f.Reason != contracts.LLMFailureExpired || !strings.Contains(f.Message, "529") ||
		p.Envelope.EventID.String() != contracts.EventID(contracts.TypeLLMComparisonFailedV1, "r-1") {
		t.Errorf("failure %+v, %v: want reason expired naming the last problem", f, err)
	}
	waitFor(t, "failed", func() bool { _, st := s.status(t, a.QueueID); return st.Status == contracts.LLMStatusFailed })
	if _, st := s.status(t, a.QueueID); st.FailureReason != contracts.LLMFailureExpired {
		t.Errorf("status %+v", st)
	}
	if got := metricValue(t, s.x.metrics, "llm_comparisons_failed_total", "reason", "expired"); got != 1 {
		t.Errorf("expired failures %v, want 1", got)
	}
}

func TestRejectedRequestEndsWithAFailureNamingTheProvider(t *testing.T) {
	api := newAnthropicAPI(t, always(anthropicError(404, "not_found_error", "model: claude-nope", nil)))
	s := startService(t, []llmprovider.Provider{newAnthropic(t, api), llmprovider.LocalProvider{}}, llmprovider.Config{})
	s.submit(t, comparisonRequest("r-1"))
	f, err := event.Decode[contracts.LLMComparisonFailedV1](s.waitEvents(t, 1)[0].Envelope)
	if err != nil || f.Reason != contracts.LLMFailureRejected || f.Provider != llmprovider.ProviderAnthropic || f.StatusCode != 404 ||
		!strings.Contains(f.Message, "not_found_error") {
		t.Errorf("failure %+v, %v", f, err)
	}
}

func TestUnacceptedPublishIsRetriedWithoutJudgingAgain(t *testing.T) {
	api := newAnthropicAPI(t, always(anthropicOK("A")))
	s := startService(t, []llmprovider.Provider{newAnthropic(t, api)}, llmprovider.Config{})
	var refused atomic.Int32
	s.bus.FailWhen(func(string, *event.Envelope) error {
		if refused.Add(1) == 1 {
			return fmt.Errorf("%w: fallback queue full", errors.New("kafka unavailable"))
		}
		return nil
	})
	a := s.submit(t, comparisonRequest("r-1"))
	waitFor(t, "the first publish refused", func() bool { return refused.Load() >= 1 })
	s.clock.Advance(2 * time.Second) // past the publish retry
	s.waitEvents(t, 1)
	waitFor(t, "completed", func() bool { _, st := s.status(t, a.QueueID); return st.Status == contracts.LLMStatusCompleted })
	if n := api.calls.Load(); n != 1 {
		t.Errorf("anthropic called %d times, want 1: the verdict is kept while its publish is retried", n)
	}
}

func TestUndeliverableCallbackTopicEndsTheRequest(t *testing.T) {
	s := startService(t, []llmprovider.Provider{llmprovider.LocalProvider{}}, llmprovider.Config{})
	s.bus.FailWhen(func(topic string, _ *event.Envelope) error {
		return &kafkabus.ProduceError{Topic: topic, Partition: -1, Err: kafkabus.ErrUnknownTopic}
	})
	a := s.submit(t, comparisonRequest("r-1"))
	waitFor(t, "failed", func() bool { _, st := s.status(t, a.QueueID); return st.Status == contracts.LLMStatusFailed })
	if _, st := s.status(t, a.QueueID); st.FailureReason != "undeliverable" {
		t.Errorf("status %+v, want failed as undeliverable", st)
	}
}
