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
	"github.com/huleedu/huleedu/resilience"
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

// Deps are CJ Assessment's collaborators.
type Deps struct {
	// Bus publishes the service's events. Required.
	Bus kafkabus.Bus
	// Content fetches essay texts from the File Service. Required.
	Content ContentFetcher
	// Judge compares essays; nil means LocalJudge.
	Judge Judge
	// JudgeBreaker guards the judge (registered by servicekit as
	// "cj_assessment_service.judge"). Required: an LLM judge that is down
	// must not be hammered by every batch.
	JudgeBreaker *resilience.CircuitBreaker
	// Repo stores judgements and results: a SQLRepository in the service
	// (see Module); nil means a new MemoryRepository, for tests.
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
	judge   Judge
	breaker *resilience.CircuitBreaker
	repo    Repository
	log     *slog.Logger
	now     func() time.Time
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
	case deps.JudgeBreaker == nil:
		return nil, errors.New("cjassessment: New: Deps.JudgeBreaker is nil")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	pub, err := contracts.NewPublisher(deps.Bus, ServiceName, deps.Now)
	if err != nil {
		return nil, fmt.Errorf("cjassessment: %w", err)
	}
	if deps.Judge == nil {
		deps.Judge = LocalJudge{}
	}
	if deps.Repo == nil {
		deps.Repo = NewMemoryRepository()
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg.withDefaults(), pub: pub, content: deps.Content, judge: deps.Judge,
		breaker: deps.JudgeBreaker, repo: deps.Repo, log: deps.Logger, now: deps.Now}, nil
}

// Handlers returns the service's event handlers by topic.
func (s *Service) Handlers() map[string]contracts.HandlerFunc {
	return map[string]contracts.HandlerFunc{
		event.TopicBatchCJAssessmentRequested: s.HandleBatchCJAssessmentRequested,
	}
}

// Routes registers the REST API on mux:
//
//	GET /v1/assessments/{batch_id}   a batch's ranking and the comparisons behind it
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/assessments/{batch_id}", httpjson.GetByID("batch_id", "assessment", ErrAssessmentNotFound, s.repo.Assessment))
}
