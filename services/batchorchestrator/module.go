package batchorchestrator

import (
	"fmt"
	"log/slog"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/services/batchconductor"
	"github.com/huleedu/huleedu/services/batchconductor/conductorclient"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/sqldb"
)

// BatchConductorURLVar is the variable holding the Batch Conductor's base
// URL (optionally prefixed BATCH_ORCHESTRATOR_SERVICE_). servicegroup.Start
// sets it when it starts the Batch Conductor in the same process.
const BatchConductorURLVar = "BATCH_CONDUCTOR_URL"

// Module wires the Batch Orchestrator into servicekit: a Service
// configured from the environment (MAX_ESSAYS_PER_BATCH, ESSAY_LANGUAGE,
// DEFAULT_PIPELINE), its batches in the service's database
// (SQLBatchRepository, see servicekit.WithDatabase), that resolves pipelines through the Batch Conductor
// over an HTTP client behind the breaker
// "batch_orchestrator_service.batch_conductor" (the original platform's
// Phase 1 reference integration), with its routes served on HTTP_ADDR and
// its handlers registered with the service's consumer.
func Module() fx.Option {
	return fx.Module(ServiceName,
		servicekit.WithDatabase(Migrations()),
		fx.Provide(newFromEnv),
		servicekit.AsService[*Service, contracts.HandlerFunc](),
	)
}

// Spec describes the Batch Orchestrator for servicegroup.Start and
// Run: it depends on the Batch Conductor.
func Spec() servicekit.ServiceSpec {
	return servicekit.ServiceSpec{
		Name:           ServiceName,
		Module:         Module(),
		DependencyURLs: map[string]string{batchconductor.ServiceName: BatchConductorURLVar},
	}
}

// conductorDependency is the breaker and client name of the Batch
// Conductor: "batch_orchestrator_service.batch_conductor".
const conductorDependency = "batch_conductor"

func newFromEnv(e servicekit.Env, bus kafkabus.Bus, db *sqldb.DB, clients *servicekit.HTTPClients, logger *slog.Logger) (*Service, error) {
	var cfg Config
	if err := e.Parse(&cfg); err != nil {
		return nil, err
	}
	var deps struct {
		BatchConductorURL string `env:"BATCH_CONDUCTOR_URL,required"`
	}
	if err := e.Parse(&deps); err != nil {
		return nil, err
	}
	conductor, err := conductorclient.New(clients.For(conductorDependency), deps.BatchConductorURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", BatchConductorURLVar, err)
	}
	return New(cfg, Deps{Bus: bus, Conductor: conductor, Repo: NewSQLBatchRepository(db), Logger: logger})
}
