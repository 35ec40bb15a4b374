package batchorchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
)

// ServiceName is the Batch Orchestrator's name: the source_service of its
// events and the prefix of its settings.
const ServiceName = "batch_orchestrator_service"

// PipelineResolver resolves a requested pipeline into its ordered phases.
// *conductorclient.Client implements it over HTTP; its errors wrap
// conductorclient.ErrUnknownPipeline for an unknown pipeline and
// resilience.ErrCircuitOpen while the conductor's breaker is open.
type PipelineResolver interface {
	Resolve(ctx context.Context, pipeline string) ([]string, error)
}

// Deps are the Batch Orchestrator's collaborators.
type Deps struct {
	// Bus publishes the service's events. Required.
	Bus kafkabus.Bus
	// Conductor resolves pipelines (a *conductorclient.Client whose
	// http.Client has a breaker transport). Required.
	Conductor PipelineResolver
	// Repo stores batches: a SQLBatchRepository in the service (see
	// Module); nil means a new MemoryBatchRepository, for tests.
	Repo BatchRepository
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ contracts.Service = (*Service)(nil)

// Service is the Batch Orchestrator. It is safe for concurrent use.
type Service struct {
	cfg       Config
	pub       *contracts.Publisher
	conductor PipelineResolver
	repo      BatchRepository
	log       *slog.Logger
	now       func() time.Time
}

// New returns a Batch Orchestrator. It fails on an invalid cfg or a missing
// required dependency.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Bus == nil {
		return nil, errors.New("batchorchestrator: New: Deps.Bus is nil")
	}
	if deps.Conductor == nil {
		return nil, errors.New("batchorchestrator: New: Deps.Conductor is nil")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	pub, err := contracts.NewPublisher(deps.Bus, ServiceName, deps.Now)
	if err != nil {
		return nil, fmt.Errorf("batchorchestrator: %w", err)
	}
	if deps.Repo == nil {
		deps.Repo = NewMemoryBatchRepository()
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg.withDefaults(), pub: pub, conductor: deps.Conductor, repo: deps.Repo,
		log: deps.Logger, now: deps.Now}, nil
}

// Routes registers the REST API on mux:
//
//	POST /v1/batches        register a batch
//	GET  /v1/batches/{id}   a batch's status and phase results
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/batches", s.handleRegister)
	mux.HandleFunc("GET /v1/batches/{id}", httpjson.GetByID("id", "batch", ErrBatchNotFound, s.repo.Get))
}

// Handlers returns the service's event handlers by topic.
func (s *Service) Handlers() map[string]contracts.HandlerFunc {
	return map[string]contracts.HandlerFunc{
		event.TopicBatchEssaysReady:           s.HandleBatchEssaysReady,
		contracts.TopicELSBatchPhaseOutcomeV1: s.HandlePhaseOutcome,
	}
}

// Batch returns the stored batch.
func (s *Service) Batch(ctx context.Context, id string) (Batch, error) {
	return s.repo.Get(ctx, id)
}
