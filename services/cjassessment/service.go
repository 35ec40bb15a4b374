package cjassessment

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

// ServiceName is CJ Assessment's name: the source_service of its events
// and the prefix of its settings.
const ServiceName = "cj_assessment_service"

// ContentFetcher fetches essay texts. *contentclient.Client implements it
// over HTTP; its errors wrap contentclient.ErrNotFound or
// contentclient.ErrInvalidContent when a text will never be available.
type ContentFetcher interface {
	Fetch(ctx context.Context, contentID string) (string, error)
}

// Comparer sends a comparison to the LLM Provider Service, whose verdict
// comes back later on the request's callback topic. *llmclient.Client
// implements it over HTTP (behind the breaker
// "cj_assessment_service.llm_provider_service"); its errors wrap
// llmclient.ErrRejected for a request that will never be accepted.
type Comparer interface {
	Submit(ctx context.Context, req contracts.LLMComparisonRequestV1) (contracts.LLMComparisonAccepted, error)
}

// Deps are CJ Assessment's collaborators.
type Deps struct {
	// Bus publishes the service's events. Required.
	Bus kafkabus.Bus
	// Content fetches essay texts from the File Service. Required.
	Content ContentFetcher
	// Comparisons sends the comparisons to the LLM Provider Service.
	// Required.
	Comparisons Comparer
	// Repo stores batches, outcomes and results; nil means a new
	// MemoryRepository.
	Repo Repository
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ contracts.Service = (*Service)(nil)

// Service is CJ Assessment. It is safe for concurrent use.
type Service struct {
	cfg     Config
	pub     *contracts.Publisher
	content ContentFetcher
	compare Comparer
	repo    Repository
	log     *slog.Logger
	now     func() time.Time
	resend  resender
}

// New returns a CJ Assessment service.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case deps.Bus == nil:
		return nil, errors.New("cjassessment: New: Deps.Bus is nil")
	case deps.Content == nil:
		return nil, errors.New("cjassessment: New: Deps.Content is nil")
	case deps.Comparisons == nil:
		return nil, errors.New("cjassessment: New: Deps.Comparisons is nil")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	pub, err := contracts.NewPublisher(deps.Bus, ServiceName, deps.Now)
	if err != nil {
		return nil, fmt.Errorf("cjassessment: %w", err)
	}
	if deps.Repo == nil {
		deps.Repo = NewMemoryRepository()
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg.withDefaults(), pub: pub, content: deps.Content, compare: deps.Comparisons,
		repo: deps.Repo, log: deps.Logger, now: deps.Now}, nil
}

// Handlers returns the service's event handlers by topic.
func (s *Service) Handlers() map[string]contracts.HandlerFunc {
	return map[string]contracts.HandlerFunc{
		event.TopicBatchCJAssessmentRequested: s.HandleBatchCJAssessmentRequested,
		contracts.TopicLLMComparisonResultV1:  s.HandleComparisonOutcome,
	}
}

// Routes registers the REST API on mux:
//
//	GET /v1/assessments/{batch_id}   a batch's ranking and the comparisons behind it
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/assessments/{batch_id}", httpjson.GetByID("batch_id", "assessment", ErrAssessmentNotFound, s.repo.Assessment))
}
