package classmgmt

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/servicekit"
)

// Module wires Class Management into servicekit: a Service with the
// service's Kafka bus and logger, its routes served on HTTP_ADDR and its
// event handlers registered with the service's consumer.
func Module() fx.Option {
	return fx.Module(ServiceName,
		fx.Provide(func(bus kafkabus.Bus, logger *slog.Logger) (*Service, error) {
			return New(Deps{Bus: bus, Logger: logger})
		}),
		servicekit.AsRoutes(func(s *Service) []servicekit.Route { return servicekit.MuxRoutes(s.Routes) }),
		servicekit.AsSubscriptions(func(s *Service) []servicekit.Subscription { return servicekit.Subscriptions(s.Handlers()) }),
	)
}

// Spec describes Class Management for servicekit.StartAll and RunAll.
func Spec() servicekit.ServiceSpec {
	return servicekit.ServiceSpec{Name: ServiceName, Module: Module()}
}
