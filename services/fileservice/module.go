package fileservice

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/sqldb"
)

// Module wires the File Service into servicekit: a Service built from the
// environment (MAX_FILE_BYTES, MAX_FILES_PER_REQUEST, MAX_REQUEST_BYTES,
// optionally prefixed FILE_SERVICE_) with the service's Kafka bus and
// logger, the essay texts in the service's database (SQLContentStore, see
// servicekit.WithDatabase), and its routes served on HTTP_ADDR.
func Module() fx.Option {
	return fx.Module(ServiceName,
		servicekit.WithDatabase(Migrations()),
		fx.Provide(newFromEnv),
		servicekit.AsService[*Service, contracts.HandlerFunc](),
	)
}

// Spec describes the File Service for servicegroup.Start and Run.
func Spec() servicekit.ServiceSpec {
	return servicekit.ServiceSpec{Name: ServiceName, Module: Module()}
}

func newFromEnv(e servicekit.Env, bus kafkabus.Bus, db *sqldb.DB, logger *slog.Logger) (*Service, error) {
	var cfg Config
	if err := e.Parse(&cfg); err != nil {
		return nil, err
	}
	return New(cfg, Deps{Bus: bus, Store: NewSQLContentStore(db), Logger: logger})
}
