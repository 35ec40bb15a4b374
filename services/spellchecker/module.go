package spellchecker

import (
	"fmt"
	"log/slog"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/fileservice"
	"github.com/huleedu/huleedu/services/fileservice/contentclient"
)

// FileServiceURLVar is the variable holding the File Service's base URL
// (optionally prefixed SPELLCHECKER_SERVICE_). servicegroup.Start sets it
// when it starts the File Service in the same process.
const FileServiceURLVar = "FILE_SERVICE_URL"

// Module wires the Spellchecker into servicekit: a Service that fetches
// essay texts from the File Service through an HTTP client behind the
// breaker "spellchecker_service.file_service", publishes through the
// service's Kafka bus, and has its handlers registered with the service's
// consumer. Its database (servicekit.WithDatabase, no tables of its own)
// holds what it has processed and the results it has yet to publish.
func Module() fx.Option {
	return fx.Module(ServiceName,
		servicekit.WithDatabase(),
		fx.Provide(newFromEnv),
		servicekit.AsService[*Service, contracts.HandlerFunc](),
	)
}

// Spec describes the Spellchecker for servicegroup.Start and Run: it
// depends on the File Service.
func Spec() servicekit.ServiceSpec {
	return servicekit.ServiceSpec{
		Name:           ServiceName,
		Module:         Module(),
		DependencyURLs: map[string]string{fileservice.ServiceName: FileServiceURLVar},
	}
}

func newFromEnv(e servicekit.Env, bus kafkabus.Bus, clients *servicekit.HTTPClients, logger *slog.Logger) (*Service, error) {
	var deps struct {
		FileServiceURL string `env:"FILE_SERVICE_URL,required"`
	}
	if err := e.Parse(&deps); err != nil {
		return nil, err
	}
	content, err := contentclient.New(clients.For(fileservice.ServiceName), deps.FileServiceURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", FileServiceURLVar, err)
	}
	return New(Deps{Bus: bus, Content: content, Logger: logger})
}
