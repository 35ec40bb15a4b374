package cjassessment

import (
	"fmt"
	"log/slog"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/fileservice"
	"github.com/huleedu/huleedu/services/fileservice/contentclient"
	"github.com/huleedu/huleedu/services/llmprovider/llmclient"
)

// FileServiceURLVar is the variable holding the File Service's base URL
// (optionally prefixed CJ_ASSESSMENT_SERVICE_). servicegroup.Start sets it
// when it starts the File Service in the same process.
const FileServiceURLVar = "FILE_SERVICE_URL"

// LLMProviderURLVar is the variable holding the LLM Provider Service's
// base URL (optionally prefixed CJ_ASSESSMENT_SERVICE_); servicekit.StartAll
// sets it when it starts that service in the same process.
const LLMProviderURLVar = "LLM_PROVIDER_SERVICE_URL"

// Module wires CJ Assessment into servicekit: a Service configured from
// the environment (COMPARISONS_PER_ESSAY, COMPARISON_PROVIDER,
// COMPARISON_MAX_ATTEMPTS, COMPARISON_RESEND_AFTER, BT_PRIOR, BT_TOLERANCE,
// BT_MAX_ITERATIONS),
// fetching essay texts through an HTTP client behind the breaker
// "cj_assessment_service.file_service", sending comparisons to the LLM
// Provider Service through one behind "cj_assessment_service.llm_provider_service",
// with its handlers (the assessment requests and the comparison outcomes)
// registered with the service's consumer, and the resending of stalled
// batches' comparisons running while the app runs.
func Module() fx.Option {
	return fx.Module(ServiceName,
		fx.Provide(newFromEnv),
		servicekit.AsService[*Service, contracts.HandlerFunc](),
		fx.Invoke(func(lc fx.Lifecycle, s *Service) { lc.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop}) }),
	)
}

// Spec describes CJ Assessment for servicegroup.Start and Run: it
// depends on the File Service and the LLM Provider Service.
func Spec() servicekit.ServiceSpec {
	return servicekit.ServiceSpec{
		Name:   ServiceName,
		Module: Module(),
		DependencyURLs: map[string]string{fileservice.ServiceName: FileServiceURLVar,
			llmclient.ServiceName: LLMProviderURLVar},
	}
}

func newFromEnv(e servicekit.Env, bus kafkabus.Bus, clients *servicekit.HTTPClients, logger *slog.Logger) (*Service, error) {
	var cfg Config
	if err := e.Parse(&cfg); err != nil {
		return nil, err
	}
	var deps struct {
		FileServiceURL string `env:"FILE_SERVICE_URL,required"`
		LLMProviderURL string `env:"LLM_PROVIDER_SERVICE_URL,required"`
	}
	if err := e.Parse(&deps); err != nil {
		return nil, err
	}
	content, err := contentclient.New(clients.For(fileservice.ServiceName), deps.FileServiceURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", FileServiceURLVar, err)
	}
	comparisons, err := llmclient.New(clients.For(llmclient.ServiceName), deps.LLMProviderURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", LLMProviderURLVar, err)
	}
	return New(cfg, Deps{Bus: bus, Content: content, Comparisons: comparisons, Logger: logger})
}
