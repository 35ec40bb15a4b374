package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/platformtest"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/services/cjassessment"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/llmprovider"
	"github.com/huleedu/huleedu/services/llmprovider/localjudge"
)

// anthropicAPI is a local server speaking Anthropic's Messages API. While
// down it answers 529 overloaded_error (with retry-after: 0) and 500s in
// turn; once up it judges with the local judge, so the ranking is the one
// the platform gives without a key.
type anthropicAPI struct {
	srv      *httptest.Server
	down     atomic.Bool
	failures atomic.Int32
	mu       sync.Mutex     // guards answered
	answered map[string]int // 200 answers by the pair's texts
}

var essayRE = regexp.MustCompile(`(?s)Essay A:\n<<<\n(.*?)\n>>>\n\nEssay B:\n<<<\n(.*?)\n>>>`)

func newAnthropicAPI(t *testing.T) *anthropicAPI {
	t.Helper()
	a := &anthropicAPI{answered: map[string]int{}}
	a.down.Store(true)
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *anthropicAPI) serve(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Messages []struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"messages"`
	}
	raw, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", "req_e2e")
	if a.down.Load() {
		if a.failures.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"type":"error","error":{"type":"api_error","message":"Internal server error"}}`)
			return
		}
		w.Header().Set("retry-after", "0")
		w.WriteHeader(529)
		_, _ = io.WriteString(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
		return
	}
	if err := json.Unmarshal(raw, &body); err != nil || len(body.Messages) == 0 || len(body.Messages[0].Content) == 0 {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"type":"error","error":{"type":"invalid_request_error","message":"messages: required"}}`)
		return
	}
	m := essayRE.FindStringSubmatch(body.Messages[0].Content[0].Text)
	if m == nil {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"type":"error","error":{"type":"invalid_request_error","message":"no essays"}}`)
		return
	}
	winner := "A"
	if localjudge.Compare(contracts.LLMEssay{ID: "A", Text: m[1]}, contracts.LLMEssay{ID: "B", Text: m[2]}) == "B" {
		winner = "B"
	}
	a.mu.Lock()
	a.answered[m[1]+"\x00"+m[2]]++
	a.mu.Unlock()
	text, _ := json.Marshal(fmt.Sprintf(`{"winner": %q, "confidence": 0.7, "justification": "clearer"}`, winner))
	_, _ = fmt.Fprintf(w, `{"id":"msg_e2e","type":"message","role":"assistant","model":"claude-haiku-4-5",
"content":[{"type":"text","text":%s}],"stop_reason":"end_turn","stop_sequence":null,
"usage":{"input_tokens":300,"output_tokens":20}}`, text)
}

// llmEnv points the LLM Provider at api with timings short enough for a
// test: the breaker probes again 200ms after it opened.
func llmEnv(api *anthropicAPI, order string) []string {
	const p = "LLM_PROVIDER_SERVICE_"
	return []string{
		p + "ANTHROPIC_API_KEY=sk-ant-e2e", p + "ANTHROPIC_BASE_URL=" + api.srv.URL, p + "LLM_PROVIDER_ORDER=" + order,
		p + "LLM_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=200ms", p + "LLM_RETRY_BASE_DELAY=5ms", p + "LLM_RETRY_MAX_DELAY=20ms",
		p + "LLM_QUEUE_RETRY_DELAY=20ms", p + "LLM_PROVIDER_TIMEOUT=5s",
	}
}

// llmBreaker returns the LLM Provider's snapshot of breaker name.
func llmBreaker(t *testing.T, p *platform, name string) resilience.Snapshot {
	t.Helper()
	for _, s := range p.App(llmprovider.ServiceName).Runner().CircuitBreakers().Breakers {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("the LLM Provider has no breaker %s", name)
	return resilience.Snapshot{}
}

func transitions(s resilience.Snapshot, from, to resilience.State) uint64 {
	for _, tr := range s.Transitions {
		if tr.From == from && tr.To == to {
			return tr.Count
		}
	}
	return 0
}

// downPastRecovery waits until llm_anthropic opened and a probe after its
// recovery timeout failed too (half-open back to open): the provider has
// been down for longer than the recovery timeout. Then it comes back.
func downPastRecovery(t *testing.T, p *platform, api *anthropicAPI) {
	t.Helper()
	platformtest.WaitFor(t, 60*time.Second, "llm_anthropic reopened by a failed probe", func() bool {
		return transitions(llmBreaker(t, p, "llm_anthropic"), resilience.StateHalfOpen, resilience.StateOpen) > 0
	})
	api.down.Store(false)
}

func TestBatchCompletesThroughTheFallbackProviderWhileAnthropicIsDown(t *testing.T) {
	api := newAnthropicAPI(t)
	// The LLM Provider's publishes wait at a gate, so the batch is still
	// running when llm_anthropic's open period ends.
	p := startPlatform(t, llmEnv(api, "anthropic,local"), llmprovider.ServiceName)
	batchID := p.startBatch(essays)
	gate := p.gates[llmprovider.ServiceName]
	select {
	case <-gate.Entered():
	case <-time.After(60 * time.Second):
		t.Fatal("no comparison was judged within 60s")
	}
	platformtest.WaitFor(t, 10*time.Second, "llm_anthropic's open period over", func() bool {
		return llmBreaker(t, p, "llm_anthropic").State == resilience.StateHalfOpen
	})
	gate.Open()
	downPastRecovery(t, p, api)

	b := p.WaitCompleted(batchID, completeWithin)
	assertPipelineCompleted(t, p, batchID, b)
	assertAcceptedEventsInKafka(t, p)
	providers := assertEachComparisonDecidedOnce(t, p, batchID)
	if providers[llmprovider.ProviderLocal] == 0 {
		t.Errorf("verdicts by provider %v: want the local fallback to have judged while anthropic was down", providers)
	}
	s := llmBreaker(t, p, "llm_anthropic")
	if transitions(s, resilience.StateClosed, resilience.StateOpen) == 0 {
		t.Errorf("llm_anthropic %+v: want it opened by the outage", s.Transitions)
	}
	t.Logf("verdicts by provider %v; anthropic failed %d times while down", providers, api.failures.Load())
}

func TestBatchCompletesAfterTheOnlyProviderRecovers(t *testing.T) {
	api := newAnthropicAPI(t)
	p := startPlatform(t, llmEnv(api, "anthropic"))
	batchID := p.startBatch(essays)
	downPastRecovery(t, p, api)

	b := p.WaitCompleted(batchID, completeWithin)
	assertPipelineCompleted(t, p, batchID, b)
	assertAcceptedEventsInKafka(t, p)
	providers := assertEachComparisonDecidedOnce(t, p, batchID)
	if len(providers) != 1 || providers[llmprovider.ProviderAnthropic] == 0 {
		t.Errorf("verdicts by provider %v, want anthropic's only", providers)
	}
	platformtest.WaitFor(t, 10*time.Second, "llm_anthropic closed again", func() bool {
		return llmBreaker(t, p, "llm_anthropic").State == resilience.StateClosed
	})
	api.mu.Lock()
	defer api.mu.Unlock()
	for pair, n := range api.answered {
		if n != 1 {
			t.Errorf("anthropic judged one pair %d times (%q)", n, pair)
		}
	}
}

// startBatch registers a batch of n essays and uploads them.
func (p *platform) startBatch(n int) string {
	p.t.Helper()
	ctx := context.Background()
	batchID, err := p.RegisterBatch(ctx, n)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.UploadEssays(ctx, batchID, n); err != nil {
		p.t.Fatal(err)
	}
	return batchID
}

// assertEachComparisonDecidedOnce reads the LLM Provider's topic: every
// comparison CJ Assessment asked for has exactly one outcome, a verdict
// (no failure), and the assessment used one verdict per pair. It returns
// the verdicts by provider.
func assertEachComparisonDecidedOnce(t *testing.T, p *platform, batchID string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := embeddedkafka.ReadAll(ctx, p.Cluster.Addrs(), contracts.TopicLLMComparisonResultV1)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]map[string]bool{} // request id -> distinct event ids
	providers := map[string]int{}
	for _, r := range recs {
		env, err := event.ParseEnvelope(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if env.EventType != contracts.TypeLLMComparisonResultV1 {
			t.Errorf("outcome %s: %s, want verdicts only", env.EventType, env.Data)
			continue
		}
		res, err := event.Decode[contracts.LLMComparisonResultV1](env)
		if err != nil {
			t.Fatal(err)
		}
		if outcomes[res.RequestID] == nil {
			outcomes[res.RequestID] = map[string]bool{}
			providers[res.Provider]++
		}
		outcomes[res.RequestID][env.EventID.String()] = true
	}
	for id, events := range outcomes {
		if len(events) != 1 {
			t.Errorf("request %s has %d distinct outcome events, want 1", id, len(events))
		}
	}
	var a cjassessment.Assessment
	if err := p.Do(ctx, http.MethodGet, p.API(cjassessment.ServiceName)+"/v1/assessments/"+batchID, "", nil, http.StatusOK, &a); err != nil {
		t.Fatal(err)
	}
	if len(a.Comparisons) != len(outcomes) || len(a.FailedComparisons) != 0 || len(a.Comparisons) == 0 {
		t.Errorf("the assessment used %d comparisons (%d given up) for %d judged requests; want one verdict per pair",
			len(a.Comparisons), len(a.FailedComparisons), len(outcomes))
	}
	return providers
}
