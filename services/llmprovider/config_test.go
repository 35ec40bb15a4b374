package llmprovider_test

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/servicekit/servicekittest"
	"github.com/huleedu/huleedu/services/llmprovider"
)

func load(environ ...string) (llmprovider.Settings, []string, error) {
	return llmprovider.LoadSettings(servicekit.NewEnv(llmprovider.ServiceName, environ))
}

func TestSettingsDefaultToTheLocalProviderAndTheIssuesBreakerValues(t *testing.T) {
	s, order, err := load()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []string{"local"}) {
		t.Errorf("order %v, want [local] with no key set", order)
	}
	b := s.BreakerSettings()
	if b.FailureThreshold != 3 || b.RecoveryTimeout != 120*time.Second || b.SuccessThreshold != 2 {
		t.Errorf("breaker settings %+v, want 3, 120s, 2", b)
	}
	if c := s.Config(); c.RequestTTL != time.Hour || c.Workers != 4 || c.QueueFullRetryAfter != 30*time.Second {
		t.Errorf("config %+v", c)
	}
}

func TestSettingsOrderFollowsTheKeysAndThePrefixWins(t *testing.T) {
	_, order, err := load("OPENAI_API_KEY=sk-1", "ANTHROPIC_API_KEY=sk-2")
	if err != nil || !slices.Equal(order, []string{"anthropic", "openai"}) {
		t.Errorf("order %v, %v; want the keyed providers in the default order", order, err)
	}
	s, order, err := load("ANTHROPIC_API_KEY=sk-2", "LLM_PROVIDER_ORDER=openai", "LLM_PROVIDER_SERVICE_LLM_PROVIDER_ORDER=anthropic,local",
		"LLM_PROVIDER_SERVICE_LLM_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=250ms")
	if err != nil || !slices.Equal(order, []string{"anthropic", "local"}) || s.BreakerSettings().RecoveryTimeout != 250*time.Millisecond {
		t.Errorf("order %v, recovery %v, %v; want the prefixed values", order, s.BreakerSettings().RecoveryTimeout, err)
	}
	p, err := s.Providers(order, nil)
	if err != nil || len(p) != 2 || p[0].Name() != "anthropic" || p[1].Name() != "local" {
		t.Errorf("providers %v, %v", p, err)
	}
}

func TestInvalidSettingsFailNamingTheVariable(t *testing.T) {
	_, _, err := load(
		"LLM_PROVIDER_SERVICE_LLM_CIRCUIT_BREAKER_FAILURE_THRESHOLD=0",
		"LLM_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=0",
		"LLM_PROVIDER_ORDER=openai,local",
		"ANTHROPIC_BASE_URL=api.anthropic.com",
		"LLM_PRICES=claude=1",
		"LLM_QUEUE_MAX_BYTES=10",
	)
	if !errors.Is(err, servicekit.ErrInvalidSettings) {
		t.Fatalf("err = %v, want ErrInvalidSettings", err)
	}
	for _, want := range []string{
		`LLM_PROVIDER_SERVICE_LLM_CIRCUIT_BREAKER_FAILURE_THRESHOLD="0": must be between 1 and 1000000`,
		`LLM_CIRCUIT_BREAKER_RECOVERY_TIMEOUT="0": must be between 10ms and 24h0m0s`,
		`LLM_PROVIDER_ORDER="openai,local": openai is listed but OPENAI_API_KEY is not set`,
		`ANTHROPIC_BASE_URL="api.anthropic.com": must be an http or https URL`,
		`LLM_PRICES="claude=1": entry "claude=1": want model=input:output`,
		`LLM_QUEUE_MAX_BYTES="10": must be between 1048576`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nlacks %s", err, want)
		}
	}
	if _, _, err := load("LLM_WORKERS=many"); err == nil || !strings.Contains(err.Error(), `LLM_WORKERS="many": must be an integer`) {
		t.Errorf("unparsable value: %v", err)
	}
	if _, _, err := load("LLM_PROVIDER_ORDER=gemini"); err == nil || !strings.Contains(err.Error(), `unknown provider "gemini"`) {
		t.Errorf("unknown provider: %v", err)
	}
}

func TestParsePricesAddsToTheDefaults(t *testing.T) {
	s, _, err := load("LLM_PRICES=gpt-5.4-mini=0.25:2, claude-haiku-4-5=2:10")
	if err != nil {
		t.Fatal(err)
	}
	p := s.PriceTable()
	if p["gpt-5.4-mini"] != (llmprovider.Price{Input: 0.25, Output: 2}) || p["claude-haiku-4-5"] != (llmprovider.Price{Input: 2, Output: 10}) {
		t.Errorf("prices %v", p)
	}
	if got := p.Cost("gpt-5.4-mini", 1_000_000, 500_000); got != 1.25 {
		t.Errorf("cost %v, want 0.25 + 1", got)
	}
	if got := p.Cost("unknown", 1000, 1000); got != 0 {
		t.Errorf("unknown model costs %v, want 0", got)
	}
}

func TestModuleWiring(t *testing.T) {
	servicekittest.CheckWiring(t, llmprovider.Spec(), servicekittest.Want{
		Breakers: []string{"llm_local"},
		API:      true,
	})
}

// TestEnvExampleListsEverySettingWithItsDefault keeps deploy/env.example
// true for the service's own variables.
func TestEnvExampleListsEverySettingWithItsDefault(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/env.example")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(line, "#") {
			documented[k] = v
		}
	}
	typ := reflect.TypeFor[llmprovider.Settings]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		got, ok := documented[key]
		switch {
		case !ok:
			t.Errorf("deploy/env.example does not list %s", key)
		case got != f.Tag.Get("envDefault"):
			t.Errorf("deploy/env.example: %s=%s, but the default is %q", key, got, f.Tag.Get("envDefault"))
		}
	}
}
