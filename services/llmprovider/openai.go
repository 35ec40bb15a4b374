package llmprovider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// OpenAI's and OpenRouter's defaults.
const (
	DefaultOpenAIBaseURL     = "https://api.openai.com/v1"
	DefaultOpenAIModel       = string(openai.ChatModelGPT5_4Mini)
	DefaultOpenRouterBaseURL = "https://openrouter.ai/api/v1"
	DefaultOpenRouterModel   = "anthropic/claude-haiku-4.5"
)

// OpenAIProvider asks an OpenAI-compatible chat completions API, through
// the official OpenAI SDK with its retries off: OpenAI itself, or
// OpenRouter at its base URL.
type OpenAIProvider struct {
	name   string
	client openai.Client
	cfg    ClientConfig
}

// NewOpenAI returns the OpenAI provider.
func NewOpenAI(cfg ClientConfig) (*OpenAIProvider, error) {
	return newOpenAICompatible(ProviderOpenAI, cfg.withDefaults(DefaultOpenAIBaseURL, DefaultOpenAIModel))
}

// NewOpenRouter returns the OpenRouter provider: OpenRouter's
// OpenAI-compatible API. OpenAI's organisation and project headers,
// which the SDK may take from the process environment, are not sent.
func NewOpenRouter(cfg ClientConfig) (*OpenAIProvider, error) {
	return newOpenAICompatible(ProviderOpenRouter, cfg.withDefaults(DefaultOpenRouterBaseURL, DefaultOpenRouterModel),
		option.WithHeaderDel("OpenAI-Organization"), option.WithHeaderDel("OpenAI-Project"),
		option.WithHeader("X-Title", "HuleEdu"))
}

func newOpenAICompatible(name string, cfg ClientConfig, extra ...option.RequestOption) (*OpenAIProvider, error) {
	if cfg.APIKey == "" {
		return nil, fmt.Errorf("llmprovider: %s: the API key is empty", name)
	}
	// The options after the SDK's environment defaults replace them: the
	// key and URL always come from the service's settings.
	opts := append([]option.RequestOption{
		option.WithAPIKey(cfg.APIKey),
		option.WithBaseURL(cfg.BaseURL),
		option.WithHTTPClient(cfg.HTTPClient),
		option.WithMaxRetries(0),
	}, extra...)
	return &OpenAIProvider{name: name, client: openai.NewClient(opts...), cfg: cfg}, nil
}

// Name returns "openai" or "openrouter".
func (p *OpenAIProvider) Name() string { return p.name }

// Model returns the configured model.
func (p *OpenAIProvider) Model() string { return p.cfg.Model }

// Compare implements Provider with one chat completion.
func (p *OpenAIProvider) Compare(ctx context.Context, c Comparison) (Judgement, error) {
	model := c.Model
	if model == "" {
		model = p.cfg.Model
	}
	params := openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(systemPrompt), openai.UserMessage(userPrompt(c))},
	}
	if p.name == ProviderOpenAI {
		params.MaxCompletionTokens = openai.Int(p.cfg.MaxTokens)
	} else {
		params.MaxTokens = openai.Int(p.cfg.MaxTokens)
	}
	opts := []option.RequestOption{}
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, option.WithRequestTimeout(time.Until(dl)))
	}
	resp, err := p.client.Chat.Completions.New(ctx, params, opts...)
	if err != nil {
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			var h http.Header
			if apiErr.Response != nil {
				h = apiErr.Response.Header
			}
			return Judgement{}, newProviderError(p.name, apiErr.StatusCode, apiErr.Type, h, p.cfg.Now(), err)
		}
		return Judgement{}, sdkError(ctx, p.name, err)
	}
	if len(resp.Choices) == 0 || resp.Choices[0].Message.Content == "" {
		return Judgement{}, fmt.Errorf("%w: %s: the answer has no message content", ErrMalformedResponse, p.name)
	}
	winner, conf, why, err := parseVerdict(resp.Choices[0].Message.Content, c)
	if err != nil {
		return Judgement{}, fmt.Errorf("%s: %w", p.name, err)
	}
	return Judgement{Winner: winner, Confidence: conf, Justification: why, Model: resp.Model,
		InputTokens: resp.Usage.PromptTokens, OutputTokens: resp.Usage.CompletionTokens}, nil
}
