package llmprovider

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/services/contracts"
)

// Module wires the LLM Provider Service into servicekit: Settings from
// the environment, the providers of LLM_PROVIDER_ORDER behind the
// breakers llm_<provider> in the service's registry, a MemoryQueue with
// the LLM_QUEUE_* limits, Metrics on the service's Prometheus registry,
// the API, and the workers, started after the servers and stopped with
// the app.
func Module() fx.Option {
	return fx.Module(ServiceName,
		fx.Provide(newFromEnv),
		servicekit.AsService[*Service, contracts.HandlerFunc](),
		fx.Invoke(func(lc fx.Lifecycle, s *Service) { lc.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop}) }),
	)
}

// Spec describes the service for servicekit.StartAll and RunAll; it calls
// no other service.
func Spec() servicekit.ServiceSpec {
	return servicekit.ServiceSpec{Name: ServiceName, Module: Module()}
}

func newFromEnv(e servicekit.Env, bus kafkabus.Bus, breakers *resilience.Registry, reg *prometheus.Registry,
	logger *slog.Logger) (*Service, error) {
	s, order, err := LoadSettings(e)
	if err != nil {
		return nil, err
	}
	queue, err := NewMemoryQueue(MemoryQueueOptions{MaxRequests: s.QueueMaxRequests, MaxBytes: s.QueueMaxBytes})
	if err != nil {
		return nil, err
	}
	metrics := NewMetrics(e.Service(), queue, nil)
	if err := reg.Register(metrics); err != nil {
		return nil, err
	}
	// One transport for every provider; the calls are bounded by their
	// contexts, so the client has no timeout of its own.
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	providers, err := s.Providers(order, client)
	if err != nil {
		return nil, err
	}
	d, err := NewDispatcher(DispatcherConfig{Providers: providers, Breakers: breakers, BreakerSettings: s.BreakerSettings(),
		MaxConcurrency: s.MaxConcurrency, CallTimeout: timeOf(s.CallTimeout), Retry: s.Retry(), Prices: s.PriceTable(),
		Metrics: metrics, Logger: logger})
	if err != nil {
		return nil, err
	}
	logger.Info("LLM providers configured", "order", order)
	return New(s.Config(), Deps{Bus: bus, Queue: queue, Dispatcher: d, Metrics: metrics, Logger: logger})
}
