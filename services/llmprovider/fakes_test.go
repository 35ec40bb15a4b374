package llmprovider_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// reply is one answer of a fake provider: status, headers and raw body.
// block, when set, makes the server wait until the request's context ends
// or the channel closes before answering (a slow provider).
type reply struct {
	status int
	header map[string]string
	body   string
	block  chan struct{}
}

// fakeAPI is an LLM API on a local HTTP server that speaks one provider's
// wire format. Its answers come from next; it records the requests.
type fakeAPI struct {
	srv      *httptest.Server
	path     string
	mu       sync.Mutex // guards next, requests and bodies
	next     func(n int) reply
	requests []*http.Request
	bodies   []map[string]any
	calls    atomic.Int32
	inFlight atomic.Int32
	maxSeen  atomic.Int32
}

func newFakeAPI(t *testing.T, path string, next func(n int) reply) *fakeAPI {
	t.Helper()
	f := &fakeAPI{path: path, next: next}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != f.path {
		http.Error(w, `{"error":{"type":"not_found_error","message":"no route"}}`, http.StatusNotFound)
		return
	}
	n := int(f.calls.Add(1))
	cur := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if cur <= m || f.maxSeen.CompareAndSwap(m, cur) {
			break
		}
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	f.mu.Lock()
	f.requests = append(f.requests, r.Clone(r.Context()))
	f.bodies = append(f.bodies, body)
	next := f.next
	f.mu.Unlock()
	rep := next(n)
	if rep.block != nil {
		select {
		case <-rep.block:
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

// set replaces the answers.
func (f *fakeAPI) set(next func(n int) reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next = next
}

func (f *fakeAPI) request(i int) (*http.Request, map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[i], f.bodies[i]
}

func always(r reply) func(int) reply { return func(int) reply { return r } }

// verdictJSON is the answer a model gives under systemPrompt.
func verdictJSON(winner string) string {
	return fmt.Sprintf(`{"winner": %q, "confidence": 0.8, "justification": "Essay %s argues more clearly."}`, winner, winner)
}

// --- Anthropic Messages API -------------------------------------------------

func newAnthropicAPI(t *testing.T, next func(n int) reply) *fakeAPI {
	return newFakeAPI(t, "/v1/messages", next)
}

// anthropicRateLimitHeaders are the headers Anthropic sends with every
// answer; reset is when the request budget refills.
func anthropicRateLimitHeaders(reset time.Time) map[string]string {
	r := reset.UTC().Format(time.RFC3339)
	return map[string]string{
		"request-id":                              "req_011CSHoEeqs5C35K2UUqR7Fy",
		"anthropic-ratelimit-requests-limit":      "50",
		"anthropic-ratelimit-requests-remaining":  "0",
		"anthropic-ratelimit-requests-reset":      r,
		"anthropic-ratelimit-input-tokens-limit":  "50000",
		"anthropic-ratelimit-input-tokens-reset":  r,
		"anthropic-ratelimit-output-tokens-limit": "10000",
		"anthropic-ratelimit-output-tokens-reset": r,
	}
}

func anthropicOK(winner string) reply {
	text, _ := json.Marshal(verdictJSON(winner))
	return reply{status: http.StatusOK, header: map[string]string{"request-id": "req_01"}, body: `{
  "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
  "type": "message",
  "role": "assistant",
  "model": "claude-haiku-4-5",
  "content": [{"type": "text", "text": ` + string(text) + `}],
  "stop_reason": "end_turn",
  "stop_sequence": null,
  "usage": {"input_tokens": 420, "output_tokens": 36, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
}`}
}

func anthropicError(status int, typ, msg string, header map[string]string) reply {
	return reply{status: status, header: header,
		body: fmt.Sprintf(`{"type": "error", "error": {"type": %q, "message": %q}, "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"}`, typ, msg)}
}

func anthropic429(retryAfter string, reset time.Time) reply {
	h := anthropicRateLimitHeaders(reset)
	if retryAfter != "" {
		h["retry-after"] = retryAfter
	}
	return anthropicError(http.StatusTooManyRequests, "rate_limit_error",
		"This request would exceed the rate limit for your organization of 50 requests per minute.", h)
}

func anthropic529() reply {
	return anthropicError(529, "overloaded_error", "Overloaded", map[string]string{"request-id": "req_02"})
}

func anthropic500() reply {
	return anthropicError(http.StatusInternalServerError, "api_error", "Internal server error", nil)
}

// --- OpenAI chat completions ----------------------------------------------------

func newOpenAIAPI(t *testing.T, next func(n int) reply) *fakeAPI {
	return newFakeAPI(t, "/v1/chat/completions", next)
}

func openAIOK(winner, model string) reply {
	text, _ := json.Marshal(verdictJSON(winner))
	return reply{status: http.StatusOK, header: map[string]string{"x-request-id": "req_abc"}, body: `{
  "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
  "object": "chat.completion",
  "created": 1741569952,
  "model": "` + model + `",
  "choices": [{
    "index": 0,
    "message": {"role": "assistant", "content": ` + string(text) + `, "refusal": null, "annotations": []},
    "logprobs": null,
    "finish_reason": "stop"
  }],
  "usage": {"prompt_tokens": 400, "completion_tokens": 30, "total_tokens": 430,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
  "service_tier": "default"
}`}
}

func openAIError(status int, typ, code, msg string, header map[string]string) reply {
	return reply{status: status, header: header,
		body: fmt.Sprintf(`{"error": {"message": %q, "type": %q, "param": null, "code": %q}}`, msg, typ, code)}
}

func openAI429(retryAfterMs string) reply {
	return openAIError(http.StatusTooManyRequests, "requests", "rate_limit_exceeded",
		"Rate limit reached for gpt-5.4-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.",
		map[string]string{"retry-after-ms": retryAfterMs, "x-ratelimit-limit-requests": "3",
			"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "20s"})
}

// malformed is a 200 whose JSON body is cut off.
func malformed() reply {
	return reply{status: http.StatusOK, body: `{"id": "msg_01", "type": "message", "content": [{"type": "text", "text": "{\"win`}
}

// proseReply is a 200 whose answer is not a verdict.
func anthropicProse() reply {
	r := anthropicOK("A")
	r.body = strings.Replace(r.body, `"text": "{`, `"text": "I cannot decide. {`, 1)
	r.body = strings.Replace(r.body, `\"winner\": \"A\"`, `\"winner\": \"both\"`, 1)
	return r
}
