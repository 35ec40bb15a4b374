package spellchecker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
	"github.com/huleedu/huleedu/services/fileservice/contentclient"
)

// ServiceName is the Spellchecker's name: the source_service of its events
// and the prefix of its settings.
const ServiceName = "spellchecker_service"

// maxCheckBytes bounds the text of POST /v1/spellcheck.
const maxCheckBytes = 1 << 20

// ContentFetcher fetches essay texts. *contentclient.Client implements it
// over HTTP; its errors wrap contentclient.ErrNotFound or
// contentclient.ErrInvalidContent when the text will never be available.
type ContentFetcher interface {
	Fetch(ctx context.Context, contentID string) (string, error)
}

// Deps are the Spellchecker's collaborators.
type Deps struct {
	// Bus publishes the service's events. Required.
	Bus kafkabus.Bus
	// Content fetches essay texts from the File Service (a
	// *contentclient.Client whose http.Client has a breaker transport).
	// Required.
	Content ContentFetcher
	// Dictionary checks the texts; nil means DefaultDictionary.
	Dictionary *Dictionary
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock for event timestamps; nil means time.Now.
	Now func() time.Time
}

var _ contracts.Service = (*Service)(nil)

// Service is the Spellchecker. It is safe for concurrent use.
type Service struct {
	pub     *contracts.Publisher
	content ContentFetcher
	dict    *Dictionary
	log     *slog.Logger
}

// New returns a Spellchecker.
func New(deps Deps) (*Service, error) {
	if deps.Bus == nil {
		return nil, errors.New("spellchecker: New: Deps.Bus is nil")
	}
	if deps.Content == nil {
		return nil, errors.New("spellchecker: New: Deps.Content is nil")
	}
	pub, err := contracts.NewPublisher(deps.Bus, ServiceName, deps.Now)
	if err != nil {
		return nil, fmt.Errorf("spellchecker: %w", err)
	}
	if deps.Dictionary == nil {
		if deps.Dictionary, err = DefaultDictionary(); err != nil {
			return nil, err
		}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{pub: pub, content: deps.Content, dict: deps.Dictionary, log: deps.Logger}, nil
}

// Handlers returns the service's event handlers by topic.
func (s *Service) Handlers() map[string]contracts.HandlerFunc {
	return map[string]contracts.HandlerFunc{
		contracts.TopicEssaySpellcheckRequestedV1: s.HandleEssaySpellcheckRequested,
	}
}

// Routes registers the REST API on mux:
//
//	POST /v1/spellcheck   {"text": "..."} -> the corrections, without events
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/spellcheck", s.handleCheck)
}

// HandleEssaySpellcheckRequested fetches the essay's text from the File
// Service, checks it and publishes SpellcheckCompletedV1.
//
// A text that will never be available (unknown content id, not text) and
// an unsupported language give a result with status FAILED, so the batch
// does not wait for the essay forever. Any other fetch failure (File
// Service down, breaker open, timeout) is returned, and the consumer
// retries the event later; a retry publishes the same event id.
func (s *Service) HandleEssaySpellcheckRequested(ctx context.Context, env *event.Envelope) error {
	req, err := event.Decode[contracts.EssaySpellcheckRequestedV1](env)
	if err != nil {
		return err
	}
	if req.BatchID == "" || req.EssayID == "" {
		return contracts.InvalidEvent(env, "batch_id and essay_id are required")
	}
	res := contracts.SpellcheckCompletedV1{BatchID: req.BatchID, EssayID: req.EssayID, ContentID: req.ContentID,
		Corrections: []contracts.SpellcheckCorrection{}}
	if lang := strings.ToLower(req.Language); lang != "" && lang != "en" && !strings.HasPrefix(lang, "en-") {
		res.Status, res.Reason = contracts.ResultFailed, fmt.Sprintf("language %q is not supported; the dictionary is English", req.Language)
		return s.publish(ctx, env, res)
	}
	text, err := s.content.Fetch(ctx, req.ContentID)
	switch {
	case errors.Is(err, contentclient.ErrNotFound), errors.Is(err, contentclient.ErrInvalidContent):
		s.log.WarnContext(ctx, "essay text unavailable; reporting the essay as failed", "batch_id", req.BatchID,
			"essay_id", req.EssayID, "content_id", req.ContentID, "error", err)
		res.Status, res.Reason = contracts.ResultFailed, err.Error()
		return s.publish(ctx, env, res)
	case err != nil:
		return fmt.Errorf("spellchecker: essay %s of batch %s: fetch content: %w", req.EssayID, req.BatchID, err)
	}
	r := s.dict.Check(text)
	res.Status, res.Corrections, res.ErrorCount, res.WordCount = contracts.ResultSuccess, r.Corrections, len(r.Corrections), r.WordCount
	return s.publish(ctx, env, res)
}

func (s *Service) publish(ctx context.Context, env *event.Envelope, res contracts.SpellcheckCompletedV1) error {
	err := s.pub.Publish(ctx, contracts.Message{EventType: event.TypeSpellcheckCompletedV1, Key: res.BatchID, Data: res,
		Identity: []string{res.BatchID, res.EssayID}, CorrelationID: env.CorrelationID})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "essay spellchecked", "batch_id", res.BatchID, "essay_id", res.EssayID,
		"status", res.Status, "errors", res.ErrorCount, "words", res.WordCount)
	return nil
}

// CheckRequest is the body of POST /v1/spellcheck.
type CheckRequest struct {
	Text string `json:"text"`
}

// CheckResponse is the 200 body of POST /v1/spellcheck.
type CheckResponse struct {
	Corrections []contracts.SpellcheckCorrection `json:"corrections"`
	ErrorCount  int                              `json:"error_count"`
	WordCount   int                              `json:"word_count"`
}

func (s *Service) handleCheck(w http.ResponseWriter, r *http.Request) {
	var req CheckRequest
	if err := httpjson.Decode(w, r, &req, maxCheckBytes); err != nil {
		httpjson.WriteErr(w, err)
		return
	}
	res := s.dict.Check(req.Text)
	httpjson.Write(w, http.StatusOK, CheckResponse{Corrections: res.Corrections, ErrorCount: len(res.Corrections), WordCount: res.WordCount})
}
