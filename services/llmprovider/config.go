package llmprovider

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/servicekit"
)

// Settings are the service's environment variables (each may carry the
// prefix LLM_PROVIDER_SERVICE_). deploy/env.example and docs/operations.md
// list them with their defaults.
type Settings struct {
	// ProviderOrder is the fallback order (LLM_PROVIDER_ORDER, comma
	// separated). Default: the providers with an API key, in the order
	// anthropic, openai, openrouter; "local" when none has one.
	ProviderOrder string `env:"LLM_PROVIDER_ORDER"`

	AnthropicAPIKey   string `env:"ANTHROPIC_API_KEY"`
	AnthropicBaseURL  string `env:"ANTHROPIC_BASE_URL" envDefault:"https://api.anthropic.com"`
	AnthropicModel    string `env:"ANTHROPIC_MODEL" envDefault:"claude-haiku-4-5"`
	OpenAIAPIKey      string `env:"OPENAI_API_KEY"`
	OpenAIBaseURL     string `env:"OPENAI_BASE_URL" envDefault:"https://api.openai.com/v1"`
	OpenAIModel       string `env:"OPENAI_MODEL" envDefault:"gpt-5.4-mini"`
	OpenRouterAPIKey  string `env:"OPENROUTER_API_KEY"`
	OpenRouterBaseURL string `env:"OPENROUTER_BASE_URL" envDefault:"https://openrouter.ai/api/v1"`
	OpenRouterModel   string `env:"OPENROUTER_MODEL" envDefault:"anthropic/claude-haiku-4.5"`
	// MaxTokens bounds each answer.
	MaxTokens int `env:"LLM_MAX_TOKENS" envDefault:"512"`

	// One breaker per provider (llm_<provider>).
	FailureThreshold int               `env:"LLM_CIRCUIT_BREAKER_FAILURE_THRESHOLD" envDefault:"3"`
	RecoveryTimeout  kafkabus.Duration `env:"LLM_CIRCUIT_BREAKER_RECOVERY_TIMEOUT" envDefault:"120"`
	SuccessThreshold int               `env:"LLM_CIRCUIT_BREAKER_SUCCESS_THRESHOLD" envDefault:"2"`

	MaxConcurrency   int               `env:"LLM_PROVIDER_MAX_CONCURRENCY" envDefault:"4"`
	CallTimeout      kafkabus.Duration `env:"LLM_PROVIDER_TIMEOUT" envDefault:"60s"`
	RetryMaxAttempts int               `env:"LLM_RETRY_MAX_ATTEMPTS" envDefault:"3"`
	RetryBaseDelay   kafkabus.Duration `env:"LLM_RETRY_BASE_DELAY" envDefault:"500ms"`
	RetryMaxDelay    kafkabus.Duration `env:"LLM_RETRY_MAX_DELAY" envDefault:"10s"`
	// Prices add to and override DefaultPrices (ParsePrices' format).
	Prices string `env:"LLM_PRICES"`

	Workers             int               `env:"LLM_WORKERS" envDefault:"4"`
	QueueMaxRequests    int               `env:"LLM_QUEUE_MAX_REQUESTS" envDefault:"1000"`
	QueueMaxBytes       int64             `env:"LLM_QUEUE_MAX_BYTES" envDefault:"67108864"`
	RequestTTL          kafkabus.Duration `env:"LLM_QUEUE_REQUEST_TTL" envDefault:"1h"`
	RequestDeadline     kafkabus.Duration `env:"LLM_REQUEST_DEADLINE" envDefault:"3m"`
	RetryDelay          kafkabus.Duration `env:"LLM_QUEUE_RETRY_DELAY" envDefault:"1s"`
	QueueFullRetryAfter kafkabus.Duration `env:"LLM_QUEUE_FULL_RETRY_AFTER" envDefault:"30"`
}

// LoadSettings reads and checks the settings of e. Every problem is
// reported at once, as a *servicekit.SettingsError naming the variable as
// it was set (prefixed or not) and the accepted range.
func LoadSettings(e servicekit.Env) (Settings, []string, error) {
	var s Settings
	if err := e.Parse(&s); err != nil {
		return Settings{}, nil, err
	}
	var problems []*servicekit.SettingError
	bad := func(name, want string) {
		v, from, _ := e.Lookup(name)
		if from == "" {
			from = name
		}
		problems = append(problems, &servicekit.SettingError{Var: from, Value: v, Want: want})
	}
	intRange := func(name string, n, lo, hi int) {
		if n < lo || n > hi {
			bad(name, fmt.Sprintf("must be between %d and %d", lo, hi))
		}
	}
	durRange := func(name string, d kafkabus.Duration, lo, hi time.Duration) {
		if time.Duration(d) < lo || time.Duration(d) > hi {
			bad(name, fmt.Sprintf("must be between %v and %v (seconds, or a Go duration such as 500ms)", lo, hi))
		}
	}
	for name, u := range map[string]string{"ANTHROPIC_BASE_URL": s.AnthropicBaseURL, "OPENAI_BASE_URL": s.OpenAIBaseURL,
		"OPENROUTER_BASE_URL": s.OpenRouterBaseURL} {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			bad(name, "must be an http or https URL, such as https://api.example.com/v1")
		}
	}
	for name, m := range map[string]string{"ANTHROPIC_MODEL": s.AnthropicModel, "OPENAI_MODEL": s.OpenAIModel, "OPENROUTER_MODEL": s.OpenRouterModel} {
		if m == "" || len(m) > maxIDBytes {
			bad(name, fmt.Sprintf("must be a model name of 1 to %d bytes", maxIDBytes))
		}
	}
	intRange("LLM_MAX_TOKENS", s.MaxTokens, 16, 1_000_000)
	intRange("LLM_CIRCUIT_BREAKER_FAILURE_THRESHOLD", s.FailureThreshold, 1, 1_000_000)
	intRange("LLM_CIRCUIT_BREAKER_SUCCESS_THRESHOLD", s.SuccessThreshold, 1, 1_000_000)
	durRange("LLM_CIRCUIT_BREAKER_RECOVERY_TIMEOUT", s.RecoveryTimeout, 10*time.Millisecond, 24*time.Hour)
	intRange("LLM_PROVIDER_MAX_CONCURRENCY", s.MaxConcurrency, 1, 10_000)
	durRange("LLM_PROVIDER_TIMEOUT", s.CallTimeout, time.Millisecond, time.Hour)
	intRange("LLM_RETRY_MAX_ATTEMPTS", s.RetryMaxAttempts, 1, 100)
	durRange("LLM_RETRY_BASE_DELAY", s.RetryBaseDelay, time.Millisecond, time.Hour)
	durRange("LLM_RETRY_MAX_DELAY", s.RetryMaxDelay, time.Millisecond, time.Hour)
	if s.RetryMaxDelay < s.RetryBaseDelay {
		bad("LLM_RETRY_MAX_DELAY", "must not be below LLM_RETRY_BASE_DELAY ("+s.RetryBaseDelay.String()+")")
	}
	if _, err := ParsePrices(s.Prices); err != nil {
		bad("LLM_PRICES", err.Error())
	}
	intRange("LLM_WORKERS", s.Workers, 1, 10_000)
	intRange("LLM_QUEUE_MAX_REQUESTS", s.QueueMaxRequests, 1, 10_000_000)
	if s.QueueMaxBytes < 1<<20 || s.QueueMaxBytes > 1<<40 {
		bad("LLM_QUEUE_MAX_BYTES", "must be between 1048576 (1 MiB) and 1099511627776 (1 TiB)")
	}
	durRange("LLM_QUEUE_REQUEST_TTL", s.RequestTTL, time.Second, maxTTL)
	durRange("LLM_REQUEST_DEADLINE", s.RequestDeadline, time.Millisecond, 24*time.Hour)
	durRange("LLM_QUEUE_RETRY_DELAY", s.RetryDelay, time.Millisecond, time.Hour)
	durRange("LLM_QUEUE_FULL_RETRY_AFTER", s.QueueFullRetryAfter, time.Second, 24*time.Hour)

	order, err := s.order()
	if err != nil {
		bad("LLM_PROVIDER_ORDER", err.Error())
	}
	if len(problems) > 0 {
		return Settings{}, nil, &servicekit.SettingsError{Service: e.Service(), Problems: problems}
	}
	return s, order, nil
}

// keys are the API keys by provider ("" for local, which needs none).
func (s Settings) keys() map[string]string {
	return map[string]string{ProviderAnthropic: s.AnthropicAPIKey, ProviderOpenAI: s.OpenAIAPIKey, ProviderOpenRouter: s.OpenRouterAPIKey}
}

// order is the fallback order: LLM_PROVIDER_ORDER, or the providers with
// a key, or local. A listed provider without its key is an error.
func (s Settings) order() ([]string, error) {
	keys := s.keys()
	if s.ProviderOrder == "" {
		var order []string
		for _, p := range KnownProviders {
			if keys[p] != "" {
				order = append(order, p)
			}
		}
		if len(order) == 0 {
			order = []string{ProviderLocal}
		}
		return order, nil
	}
	order, err := ParseProviderOrder(s.ProviderOrder)
	if err != nil {
		return nil, err
	}
	for _, p := range order {
		if p != ProviderLocal && keys[p] == "" {
			return nil, fmt.Errorf("%s is listed but %s_API_KEY is not set", p, map[string]string{
				ProviderAnthropic: "ANTHROPIC", ProviderOpenAI: "OPENAI", ProviderOpenRouter: "OPENROUTER"}[p])
		}
	}
	return order, nil
}

// Providers builds the providers of order, sending their requests with
// client (nil: a client of their own per provider).
func (s Settings) Providers(order []string, client *http.Client) ([]Provider, error) {
	var ps []Provider
	for _, name := range order {
		var (
			p   Provider
			err error
		)
		switch name {
		case ProviderAnthropic:
			p, err = NewAnthropic(ClientConfig{APIKey: s.AnthropicAPIKey, BaseURL: s.AnthropicBaseURL, Model: s.AnthropicModel,
				MaxTokens: int64(s.MaxTokens), HTTPClient: client})
		case ProviderOpenAI:
			p, err = NewOpenAI(ClientConfig{APIKey: s.OpenAIAPIKey, BaseURL: s.OpenAIBaseURL, Model: s.OpenAIModel,
				MaxTokens: int64(s.MaxTokens), HTTPClient: client})
		case ProviderOpenRouter:
			p, err = NewOpenRouter(ClientConfig{APIKey: s.OpenRouterAPIKey, BaseURL: s.OpenRouterBaseURL, Model: s.OpenRouterModel,
				MaxTokens: int64(s.MaxTokens), HTTPClient: client})
		case ProviderLocal:
			p = LocalProvider{}
		default:
			err = fmt.Errorf("unknown provider %q", name)
		}
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// BreakerSettings are the providers' breaker settings (Name and Classify
// are the dispatcher's).
func (s Settings) BreakerSettings() resilience.Settings {
	return resilience.Settings{FailureThreshold: s.FailureThreshold, RecoveryTimeout: time.Duration(s.RecoveryTimeout),
		SuccessThreshold: s.SuccessThreshold}
}

// Retry is the retry policy.
func (s Settings) Retry() RetryPolicy {
	return RetryPolicy{MaxAttempts: s.RetryMaxAttempts, BaseDelay: time.Duration(s.RetryBaseDelay), MaxDelay: time.Duration(s.RetryMaxDelay)}
}

// Config is the service's queue and worker configuration.
func (s Settings) Config() Config {
	return Config{Workers: s.Workers, RequestTTL: time.Duration(s.RequestTTL), RequestDeadline: time.Duration(s.RequestDeadline),
		RetryDelay: time.Duration(s.RetryDelay), QueueFullRetryAfter: time.Duration(s.QueueFullRetryAfter)}
}

// PriceTable is DefaultPrices with LLM_PRICES on top.
func (s Settings) PriceTable() Prices {
	over, _ := ParsePrices(s.Prices) // checked by LoadSettings
	return DefaultPrices().with(over)
}

func timeOf(d kafkabus.Duration) time.Duration { return time.Duration(d) }
