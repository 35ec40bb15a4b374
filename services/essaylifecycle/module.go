package essaylifecycle

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/services/contracts"
)

// Module wires the Essay Lifecycle Service into servicekit: a Service with
// the service's Kafka bus and logger, its event handlers registered with
// the service's consumer and its routes served on HTTP_ADDR.
func Module() fx.Option {
	return fx.Module(ServiceName,
		fx.Provide(func(bus kafkabus.Bus, logger *slog.Logger) (*Service, error) {
			return New(Deps{Bus: bus, Logger: logger})
		}),
		servicekit.AsService[*Service, contracts.HandlerFunc](),
	)
}

// Spec describes the Essay Lifecycle Service for servicegroup.Start and
// Run.
func Spec() servicekit.ServiceSpec {
	return servicekit.ServiceSpec{Name: ServiceName, Module: Module()}
}
