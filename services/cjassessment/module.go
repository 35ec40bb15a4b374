package cjassessment

import (
	"fmt"
	"log/slog"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/fileservice"
	"github.com/huleedu/huleedu/services/fileservice/contentclient"
	"github.com/huleedu/huleedu/sqldb"
)

// FileServiceURLVar is the variable holding the File Service's base URL
// (optionally prefixed CJ_ASSESSMENT_SERVICE_). servicegroup.Start sets it
// when it starts the File Service in the same process.
const FileServiceURLVar = "FILE_SERVICE_URL"

// JudgeBreaker is the name suffix of the judge's breaker, registered as
// "cj_assessment_service.judge" with the HTTP_CIRCUIT_BREAKER_* settings.
const JudgeBreaker = "judge"

// Module wires CJ Assessment into servicekit: a Service configured from
// the environment (COMPARISONS_PER_ESSAY, BT_PRIOR, BT_TOLERANCE,
// BT_MAX_ITERATIONS), fetching essay texts through an HTTP client behind
// the breaker "cj_assessment_service.file_service", judging with the
// deterministic LocalJudge behind the breaker "cj_assessment_service.judge",
// its verdicts and results in the service's database (SQLRepository, see
// servicekit.WithDatabase), with its handlers registered with the
// service's consumer.
func Module() fx.Option {
	return fx.Module(ServiceName,
		servicekit.WithDatabase(Migrations()),
		fx.Provide(newFromEnv),
		servicekit.AsService[*Service, contracts.HandlerFunc](),
	)
}

// Spec describes CJ Assessment for servicegroup.Start and Run: it
// depends on the File Service.
func Spec() servicekit.ServiceSpec {
	return servicekit.ServiceSpec{
		Name:           ServiceName,
		Module:         Module(),
		DependencyURLs: map[string]string{fileservice.ServiceName: FileServiceURLVar},
	}
}

func newFromEnv(e servicekit.Env, bus kafkabus.Bus, db *sqldb.DB, clients *servicekit.HTTPClients,
	breakers *resilience.Registry, logger *slog.Logger) (*Service, error) {
	var cfg Config
	if err := e.Parse(&cfg); err != nil {
		return nil, err
	}
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
	judge, err := breakers.GetOrCreate(ServiceName + "." + JudgeBreaker)
	if err != nil {
		return nil, fmt.Errorf("cjassessment: judge breaker: %w", err)
	}
	return New(cfg, Deps{Bus: bus, Content: content, JudgeBreaker: judge, Repo: NewSQLRepository(db), Logger: logger})
}
