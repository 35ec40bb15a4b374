package fileservice

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/services/contracts"
)

// Module wires the File Service into servicekit: a Service built from the
// environment (MAX_FILE_BYTES, MAX_FILES_PER_REQUEST, MAX_REQUEST_BYTES,
// optionally prefixed FILE_SERVICE_) with the service's Kafka bus and
// logger, and its routes served on HTTP_ADDR.
func Module() fx.Option {
	return fx.Module(ServiceName,
		fx.Provide(newFromEnv),
		servicekit.AsService[*Service, contracts.HandlerFunc](),
	)
}

// Spec describes the File Service for servicegroup.Start and Run.
func Spec() servicekit.ServiceSpec {
	return servicekit.ServiceSpec{Name: ServiceName, Module: Module()}
}

func newFromEnv(e servicekit.Env, bus kafkabus.Bus, logger *slog.Logger) (*Service, error) {
	var cfg Config
	if err := e.Parse(&cfg); err != nil {
		return nil, err
	}
	return New(cfg, Deps{Bus: bus, Logger: logger})
}
