package llmprovider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// Anthropic's defaults.
const (
	DefaultAnthropicBaseURL = "https://api.anthropic.com"
	DefaultAnthropicModel   = string(anthropic.ModelClaudeHaiku4_5)
)

// ClientConfig configures an API provider.
type ClientConfig struct {
	// APIKey authenticates the requests. Required.
	APIKey string
	// BaseURL is the API's address (the provider's default when empty).
	BaseURL string
	// Model is asked when a comparison names none (the provider's default
	// when empty).
	Model string
	// MaxTokens bounds the answer. Default 512.
	MaxTokens int64
	// HTTPClient sends the requests; nil means a client of its own.
	// Its Timeout should be 0: every call is bounded by its context.
	HTTPClient *http.Client
	// Now is the clock for Retry-After dates; nil means time.Now.
	Now func() time.Time
}

func (c ClientConfig) withDefaults(baseURL, model string) ClientConfig {
	if c.BaseURL == "" {
		c.BaseURL = baseURL
	}
	if c.Model == "" {
		c.Model = model
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = 512
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// AnthropicProvider asks Anthropic's Messages API, through the official
// SDK with its retries off and its environment defaults ignored (keys
// and URLs come from the service's settings only).
type AnthropicProvider struct {
	client anthropic.Client
	cfg    ClientConfig
}

// NewAnthropic returns the Anthropic provider.
func NewAnthropic(cfg ClientConfig) (*AnthropicProvider, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("llmprovider: anthropic: the API key is empty")
	}
	cfg = cfg.withDefaults(DefaultAnthropicBaseURL, DefaultAnthropicModel)
	client := anthropic.NewClient(
		option.WithoutEnvironmentDefaults(),
		option.WithAPIKey(cfg.APIKey),
		option.WithBaseURL(cfg.BaseURL),
		option.WithHTTPClient(cfg.HTTPClient),
		option.WithMaxRetries(0),
	)
	return &AnthropicProvider{client: client, cfg: cfg}, nil
}

// Name returns "anthropic".
func (p *AnthropicProvider) Name() string { return ProviderAnthropic }

// Model returns the configured model.
func (p *AnthropicProvider) Model() string { return p.cfg.Model }

// Compare implements Provider with one Messages API call.
func (p *AnthropicProvider) Compare(ctx context.Context, c Comparison) (Judgement, error) {
	model := c.Model
	if model == "" {
		model = p.cfg.Model
	}
	opts := []option.RequestOption{}
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, option.WithRequestTimeout(time.Until(dl)))
	}
	msg, err := p.client.Messages.New(ctx, anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: p.cfg.MaxTokens,
		System:    []anthropic.TextBlockParam{{Text: systemPrompt}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(userPrompt(c)))},
	}, opts...)
	if err != nil {
		var apiErr *anthropic.Error
		if errors.As(err, &apiErr) {
			var h http.Header
			if apiErr.Response != nil {
				h = apiErr.Response.Header
			}
			return Judgement{}, newProviderError(ProviderAnthropic, apiErr.StatusCode, string(apiErr.Type()), h, p.cfg.Now(), err)
		}
		return Judgement{}, sdkError(ctx, ProviderAnthropic, err)
	}
	text := ""
	for _, block := range msg.Content {
		if block.Type == "text" {
			text += block.Text
		}
	}
	if text == "" {
		return Judgement{}, fmt.Errorf("%w: anthropic: the answer has no text (stop reason %q)", ErrMalformedResponse, msg.StopReason)
	}
	winner, conf, why, err := parseVerdict(text, c)
	if err != nil {
		return Judgement{}, fmt.Errorf("anthropic: %w", err)
	}
	return Judgement{Winner: winner, Confidence: conf, Justification: why, Model: string(msg.Model),
		InputTokens: msg.Usage.InputTokens, OutputTokens: msg.Usage.OutputTokens}, nil
}

// sdkError describes an SDK error that is not an HTTP answer: the
// context's end, a connection error, or a body that did not decode.
func sdkError(ctx context.Context, provider string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("llmprovider: %s: %w (%v)", provider, ctx.Err(), err)
	}
	return fmt.Errorf("llmprovider: %s: %w", provider, err)
}
