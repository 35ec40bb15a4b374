package essaylifecycle

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/sqldb"
)

// Module wires the Essay Lifecycle Service into servicekit: a Service with
// the service's Kafka bus and logger, its batches in the service's
// database (SQLBatchRepository: PostgreSQL or SQLite, see
// servicekit.WithDatabase), its event handlers registered with the
// service's consumer and its routes served on HTTP_ADDR.
func Module() fx.Option {
	return fx.Module(ServiceName,
		servicekit.WithDatabase(Migrations()),
		fx.Provide(func(bus kafkabus.Bus, db *sqldb.DB, logger *slog.Logger) (*Service, error) {
			return New(Deps{Bus: bus, Repo: NewSQLBatchRepository(db), Logger: logger})
		}),
		servicekit.AsService[*Service, contracts.HandlerFunc](),
	)
}

// Spec describes the Essay Lifecycle Service for servicegroup.Start and
// Run.
func Spec() servicekit.ServiceSpec {
	return servicekit.ServiceSpec{Name: ServiceName, Module: Module()}
}
