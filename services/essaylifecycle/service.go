package essaylifecycle

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

// ServiceName is the Essay Lifecycle Service's name: the source_service of
// its events and the prefix of its settings.
const ServiceName = "essay_lifecycle_service"

// Deps are the Essay Lifecycle Service's collaborators.
type Deps struct {
	// Bus publishes the service's events. Required.
	Bus kafkabus.Bus
	// Repo stores batch states: a SQLBatchRepository in the service (see
	// Module); nil means a new MemoryBatchRepository, for tests.
	Repo BatchRepository
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ contracts.Service = (*Service)(nil)

// Service is the Essay Lifecycle Service. It is safe for concurrent use.
type Service struct {
	pub  *contracts.Publisher
	repo BatchRepository
	log  *slog.Logger
	now  func() time.Time
}

// New returns an Essay Lifecycle Service.
func New(deps Deps) (*Service, error) {
	if deps.Bus == nil {
		return nil, errors.New("essaylifecycle: New: Deps.Bus is nil")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	pub, err := contracts.NewPublisher(deps.Bus, ServiceName, deps.Now)
	if err != nil {
		return nil, fmt.Errorf("essaylifecycle: %w", err)
	}
	if deps.Repo == nil {
		deps.Repo = NewMemoryBatchRepository()
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{pub: pub, repo: deps.Repo, log: deps.Logger, now: deps.Now}, nil
}

// Handlers returns the service's event handlers by topic.
func (s *Service) Handlers() map[string]contracts.HandlerFunc {
	return map[string]contracts.HandlerFunc{
		event.TopicBatchEssaysRegistered:      s.HandleBatchEssaysRegistered,
		event.TopicEssayContentProvisionedV1:  s.HandleEssayContentProvisioned,
		event.TopicEssayValidationFailedV1:    s.HandleEssayValidationFailed,
		event.TopicBatchSpellcheckRequested:   s.HandleBatchSpellcheckRequested,
		event.TopicSpellcheckCompletedV1:      s.HandleSpellcheckCompleted,
		event.TopicBatchCJAssessmentRequested: s.HandleBatchCJAssessmentRequested,
		event.TopicCJAssessmentCompletedV1:    s.HandleCJAssessmentCompleted,
	}
}

// Routes registers the REST API on mux:
//
//	GET /v1/batches/{id}/essays   a batch's essays and their states
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/batches/{id}/essays", httpjson.GetByID("id", "batch", ErrBatchNotFound, s.repo.Get))
}

// Batch returns the stored state of a batch.
func (s *Service) Batch(ctx context.Context, id string) (BatchState, error) {
	return s.repo.Get(ctx, id)
}
