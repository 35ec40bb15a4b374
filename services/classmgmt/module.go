package classmgmt

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/sqldb"
)

// Module wires Class Management into servicekit: a Service with the
// service's Kafka bus and logger, its data in the service's database
// (SQLStore, see servicekit.WithDatabase), its routes served on HTTP_ADDR
// and its event handlers registered with the service's consumer.
func Module() fx.Option {
	return fx.Module(ServiceName,
		servicekit.WithDatabase(Migrations()),
		fx.Provide(func(bus kafkabus.Bus, db *sqldb.DB, logger *slog.Logger) (*Service, error) {
			return New(Deps{Bus: bus, Store: NewSQLStore(db), Logger: logger})
		}),
		servicekit.AsService[*Service, contracts.HandlerFunc](),
	)
}

// Spec describes Class Management for servicegroup.Start and Run.
func Spec() servicekit.ServiceSpec {
	return servicekit.ServiceSpec{Name: ServiceName, Module: Module()}
}
