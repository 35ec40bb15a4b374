package llmprovider_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/llmprovider"
)

var pair = llmprovider.Comparison{
	EssayA: contracts.LLMEssay{ID: "e-1", Text: "Forests regulate the climate."},
	EssayB: contracts.LLMEssay{ID: "e-2", Text: "Trees are nice."},
	Prompt: "Why do forests matter?",
}

func newAnthropic(t *testing.T, api *fakeAPI) llmprovider.Provider {
	t.Helper()
	p, err := llmprovider.NewAnthropic(llmprovider.ClientConfig{APIKey: "sk-ant-test", BaseURL: api.srv.URL,
		Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newOpenAI(t *testing.T, api *fakeAPI, name string) llmprovider.Provider {
	t.Helper()
	cfg := llmprovider.ClientConfig{APIKey: "sk-test", BaseURL: api.srv.URL + "/v1", Now: func() time.Time { return t0 }}
	var (
		p   llmprovider.Provider
		err error
	)
	if name == llmprovider.ProviderOpenRouter {
		p, err = llmprovider.NewOpenRouter(cfg)
	} else {
		p, err = llmprovider.NewOpenAI(cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAnthropicProviderSpeaksTheMessagesAPI(t *testing.T) {
	t.Setenv("ANTHROPIC_API_KEY", "sk-from-the-process-environment")
	api := newAnthropicAPI(t, always(anthropicOK("B")))
	j, err := newAnthropic(t, api).Compare(context.Background(), pair)
	if err != nil {
		t.Fatal(err)
	}
	if j.Winner != "e-2" || j.Confidence != 0.8 || j.Model != "claude-haiku-4-5" || j.InputTokens != 420 || j.OutputTokens != 36 || j.Justification == "" {
		t.Errorf("judgement %+v: want e-2 (B) with the answer's confidence, model and usage", j)
	}
	req, body := api.request(0)
	// This SDK version sends the key as a bearer token; earlier ones used
	// x-api-key. Either way it must be the configured key.
	if key, bearer := req.Header.Get("X-Api-Key"), req.Header.Get("Authorization"); key != "sk-ant-test" && bearer != "Bearer sk-ant-test" {
		t.Errorf("x-api-key %q, authorization %q: want the configured key, not the process environment's", key, bearer)
	}
	if req.Header.Get("Anthropic-Version") == "" {
		t.Error("no anthropic-version header")
	}
	msgs, _ := body["messages"].([]any)
	if body["model"] != llmprovider.DefaultAnthropicModel || body["max_tokens"] != float64(512) || body["system"] == nil || len(msgs) != 1 {
		t.Errorf("request body %v: want the default model, max_tokens 512, a system prompt and one user message", body)
	}
}

func TestOpenAICompatibleProvidersSpeakChatCompletions(t *testing.T) {
	t.Setenv("OPENAI_ORG_ID", "org-from-the-process-environment")
	for _, name := range []string{llmprovider.ProviderOpenAI, llmprovider.ProviderOpenRouter} {
		t.Run(name, func(t *testing.T) {
			api := newOpenAIAPI(t, always(openAIOK("A", "served-model")))
			p := newOpenAI(t, api, name)
			j, err := p.Compare(context.Background(), pair)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name() != name || j.Winner != "e-1" || j.Model != "served-model" || j.InputTokens != 400 || j.OutputTokens != 30 {
				t.Errorf("%s judgement %+v: want e-1 (A) with the answer's model and usage", p.Name(), j)
			}
			req, body := api.request(0)
			if got := req.Header.Get("Authorization"); got != "Bearer sk-test" {
				t.Errorf("Authorization %q, want the configured key", got)
			}
			msgs, _ := body["messages"].([]any)
			if len(msgs) != 2 || body["model"] != p.Model() {
				t.Errorf("request body %v: want a system and a user message for %s", body, p.Model())
			}
			if name == llmprovider.ProviderOpenRouter {
				if got := req.Header.Get("OpenAI-Organization"); got != "" || req.Header.Get("X-Title") != "HuleEdu" {
					t.Errorf("OpenRouter got OpenAI-Organization %q and X-Title %q: want none and HuleEdu", got, req.Header.Get("X-Title"))
				}
				if body["max_tokens"] != float64(512) {
					t.Errorf("OpenRouter body %v: want max_tokens", body)
				}
			} else if body["max_completion_tokens"] != float64(512) {
				t.Errorf("OpenAI body %v: want max_completion_tokens", body)
			}
		})
	}
}

func TestProviderErrorsAreClassifiedWithoutSDKRetries(t *testing.T) {
	reset := t0.Add(45 * time.Second)
	tests := []struct {
		name       string
		openai     bool
		reply      reply
		class      llmprovider.Class
		status     int
		retryAfter time.Duration
		is         error
	}{
		{"anthropic 429 with retry-after", false, anthropic429("30", reset), llmprovider.ClassRateLimited, 429, 30 * time.Second, nil},
		{"anthropic 429 with only the rate limit reset headers", false, anthropic429("", reset), llmprovider.ClassRateLimited, 429, 45 * time.Second, nil},
		{"anthropic 529 overloaded", false, anthropic529(), llmprovider.ClassRateLimited, 529, 0, nil},
		{"anthropic 500", false, anthropic500(), llmprovider.ClassRetriable, 500, 0, nil},
		{"anthropic 503", false, anthropicError(503, "api_error", "unavailable", nil), llmprovider.ClassRetriable, 503, 0, nil},
		{"anthropic 400", false, anthropicError(400, "invalid_request_error", "max_tokens: must be positive", nil), llmprovider.ClassRejected, 400, 0, nil},
		{"anthropic 401", false, anthropicError(401, "authentication_error", "invalid x-api-key", nil), llmprovider.ClassRejected, 401, 0, nil},
		{"anthropic 403", false, anthropicError(403, "permission_error", "no access", nil), llmprovider.ClassRejected, 403, 0, nil},
		{"anthropic 404", false, anthropicError(404, "not_found_error", "model: claude-nope", nil), llmprovider.ClassRejected, 404, 0, nil},
		{"anthropic malformed JSON", false, malformed(), llmprovider.ClassRetriable, 0, 0, nil},
		{"anthropic answer that is no verdict", false, anthropicProse(), llmprovider.ClassRetriable, 0, 0, llmprovider.ErrInvalidVerdict},
		{"openai 429 with retry-after-ms", true, openAI429("1500"), llmprovider.ClassRateLimited, 429, 1500 * time.Millisecond, nil},
		{"openai 500", true, openAIError(500, "server_error", "", "The server had an error", nil), llmprovider.ClassRetriable, 500, 0, nil},
		{"openai 401", true, openAIError(401, "invalid_request_error", "invalid_api_key", "Incorrect API key", nil), llmprovider.ClassRejected, 401, 0, nil},
		{"openai malformed JSON", true, malformed(), llmprovider.ClassRetriable, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var api *fakeAPI
			var p llmprovider.Provider
			if tt.openai {
				api = newOpenAIAPI(t, always(tt.reply))
				p = newOpenAI(t, api, llmprovider.ProviderOpenAI)
			} else {
				api = newAnthropicAPI(t, always(tt.reply))
				p = newAnthropic(t, api)
			}
			_, err := p.Compare(context.Background(), pair)
			if got := llmprovider.Classify(err); got != tt.class {
				t.Fatalf("Classify(%v) = %v, want %v", err, got, tt.class)
			}
			var pe *llmprovider.ProviderError
			if tt.status != 0 && (!errors.As(err, &pe) || pe.StatusCode != tt.status || pe.RetryAfter != tt.retryAfter) {
				t.Errorf("error %v: want a ProviderError with status %d and retry after %v", err, tt.status, tt.retryAfter)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v: want it to wrap %v", err, tt.is)
			}
			if n := api.calls.Load(); n != 1 {
				t.Errorf("the provider was called %d times: the SDK must not retry on its own", n)
			}
		})
	}
}

func TestSlowProviderEndsAtTheDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	api := newAnthropicAPI(t, always(reply{status: http.StatusOK, block: release}))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := newAnthropic(t, api).Compare(ctx, pair)
	if !errors.Is(err, context.DeadlineExceeded) || llmprovider.Classify(err) != llmprovider.ClassRetriable {
		t.Errorf("err = %v (%v), want a retriable DeadlineExceeded", err, llmprovider.Classify(err))
	}
}

func TestRetryAfterReadsEveryForm(t *testing.T) {
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	for name, tc := range map[string]struct {
		h    http.Header
		want time.Duration
	}{
		"seconds":          {h("Retry-After", "12"), 12 * time.Second},
		"fractional":       {h("Retry-After", "0.5"), 500 * time.Millisecond},
		"HTTP date":        {h("Retry-After", t0.Add(time.Minute).Format(http.TimeFormat)), time.Minute},
		"date in the past": {h("Retry-After", t0.Add(-time.Minute).Format(http.TimeFormat)), 0},
		"milliseconds win": {h("Retry-After-Ms", "250", "Retry-After", "12"), 250 * time.Millisecond},
		"anthropic resets": {h("Anthropic-Ratelimit-Requests-Reset", t0.Add(5*time.Second).Format(time.RFC3339), "Anthropic-Ratelimit-Tokens-Reset", t0.Add(9*time.Second).Format(time.RFC3339)), 9 * time.Second},
		"garbage":          {h("Retry-After", "soon"), 0},
		"negative":         {h("Retry-After", "-3"), 0},
		"nothing":          {http.Header{}, 0},
	} {
		if got := llmprovider.RetryAfter(tc.h, t0); got != tc.want {
			t.Errorf("%s: RetryAfter = %v, want %v", name, got, tc.want)
		}
	}
}

func TestLocalProviderJudgesWithTheLocalJudge(t *testing.T) {
	j, err := llmprovider.LocalProvider{}.Compare(context.Background(), pair)
	if err != nil || j.Winner != "e-1" || j.Model != llmprovider.LocalModel || j.InputTokens != 0 {
		t.Errorf("Compare = %+v, %v; want e-1, the longer and richer essay, at no token cost", j, err)
	}
}
