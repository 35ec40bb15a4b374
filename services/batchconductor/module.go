package batchconductor

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/services/contracts"
)

// Module wires the Batch Conductor into servicekit: a Service with the
// default pipeline catalog and the service's logger, its routes served on
// HTTP_ADDR. It publishes and consumes no events; its Kafka bus only backs
// readiness.
func Module() fx.Option {
	return fx.Module(ServiceName,
		fx.Provide(func(logger *slog.Logger) *Service { return New(Deps{Logger: logger}) }),
		servicekit.AsService[*Service, contracts.HandlerFunc](),
	)
}

// Spec describes the Batch Conductor for servicegroup.Start and Run.
func Spec() servicekit.ServiceSpec {
	return servicekit.ServiceSpec{Name: ServiceName, Module: Module()}
}
