package llmprovider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
	"github.com/huleedu/huleedu/services/llmprovider/llmclient"
)

// ServiceName is the LLM Provider Service's name: the source_service of
// its events and the prefix of its settings.
const ServiceName = llmclient.ServiceName

// Request limits of POST /v1/comparison.
const (
	maxRequestBytes   = 1 << 20
	maxIDBytes        = 200
	maxMetadata       = 32
	maxMetadataBytes  = 256
	maxTTL            = 7 * 24 * time.Hour
	codeQueueFull     = "queue_full"
	headerRetryAfter  = "Retry-After"
	defaultRetryAfter = 30 * time.Second
)

// Config are the service's queue and worker settings (the provider
// settings are ProviderSettings). Zero values take the defaults.
type Config struct {
	// Workers is the number of requests judged at once. Default 4.
	Workers int
	// RequestTTL is how long a request may wait before it fails as
	// expired, unless it names its own TTL. Default 1h.
	RequestTTL time.Duration
	// RequestDeadline bounds one round of a request through the
	// providers (retries and fallbacks included); a request that got no
	// judgement goes back to the queue. Default 3m.
	RequestDeadline time.Duration
	// RetryDelay is the least wait before a request that found no
	// provider available is tried again. Default 1s.
	RetryDelay time.Duration
	// QueueFullRetryAfter is the retry_after_seconds of a queue_full
	// answer. Default 30s.
	QueueFullRetryAfter time.Duration
	// PollInterval bounds how long an idle worker waits before it looks
	// at the queue again (it is woken at once by new requests). Default 1s.
	PollInterval time.Duration
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Workers == 0 {
		c.Workers = 4
	}
	def(&c.RequestTTL, time.Hour)
	def(&c.RequestDeadline, 3*time.Minute)
	def(&c.RetryDelay, time.Second)
	def(&c.QueueFullRetryAfter, defaultRetryAfter)
	def(&c.PollInterval, time.Second)
	return c
}

// Deps are the service's collaborators.
type Deps struct {
	// Bus publishes the results and failures. Required.
	Bus kafkabus.Bus
	// Queue holds the requests. Required.
	Queue Queue
	// Dispatcher asks the providers. Required.
	Dispatcher *Dispatcher
	// Metrics; nil records nothing.
	Metrics *Metrics
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock of the queue (TTLs, due times); nil means time.Now.
	Now func() time.Time
}

var _ contracts.Service = (*Service)(nil)

// Service is the LLM Provider Service: the queue-first API and the
// workers that judge what is queued. It is safe for concurrent use.
type Service struct {
	cfg     Config
	pub     *contracts.Publisher
	queue   Queue
	judge   *Dispatcher
	metrics *Metrics
	log     *slog.Logger
	now     func() time.Time

	wake chan struct{} // a new or released request: one idle worker looks

	mu     sync.Mutex // guards cancel
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns the service; Start starts its workers.
func New(cfg Config, deps Deps) (*Service, error) {
	switch {
	case deps.Bus == nil:
		return nil, errors.New("llmprovider: New: Deps.Bus is nil")
	case deps.Queue == nil:
		return nil, errors.New("llmprovider: New: Deps.Queue is nil")
	case deps.Dispatcher == nil:
		return nil, errors.New("llmprovider: New: Deps.Dispatcher is nil")
	case cfg.Workers < 0 || cfg.RequestTTL < 0 || cfg.RequestDeadline < 0 || cfg.RetryDelay < 0 || cfg.QueueFullRetryAfter < 0 || cfg.PollInterval < 0:
		return nil, fmt.Errorf("llmprovider: New: Config %+v: no value may be negative", cfg)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(ServiceName, nil, deps.Now)
	}
	pub, err := contracts.NewPublisher(deps.Bus, ServiceName, deps.Now)
	if err != nil {
		return nil, fmt.Errorf("llmprovider: %w", err)
	}
	return &Service{cfg: cfg.withDefaults(), pub: pub, queue: deps.Queue, judge: deps.Dispatcher, metrics: deps.Metrics,
		log: deps.Logger, now: deps.Now, wake: make(chan struct{}, 1)}, nil
}

// Handlers returns no handlers: the service consumes nothing.
func (s *Service) Handlers() map[string]contracts.HandlerFunc { return nil }

// Routes registers the REST API on mux:
//
//	POST /v1/comparison          queue a comparison: 202 and its queue id
//	GET  /v1/status/{queue_id}   where a queued comparison is
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/comparison", s.handleSubmit)
	mux.HandleFunc("GET /v1/status/{queue_id}", s.handleStatus)
}

// traceContext carries W3C trace context through the queue whatever the
// global propagator is, as package event does for Kafka headers.
var traceContext propagation.TraceContext

// QueueID returns the queue id of a request id: the same request always
// gets the same queue entry.
func QueueID(requestID string) string {
	return event.DeterministicID(event.Namespace, "llm_queue", requestID).String()
}

// QueueFullBody is the 503 body of POST /v1/comparison when the queue has
// no room: the usual error body and when to try again.
type QueueFullBody struct {
	httpjson.ErrorBody
	RetryAfterSeconds int `json:"retry_after_seconds"`
}

func (s *Service) handleSubmit(w http.ResponseWriter, r *http.Request) {
	var req contracts.LLMComparisonRequestV1
	if err := httpjson.Decode(w, r, &req, maxRequestBytes); err != nil {
		httpjson.WriteErr(w, err)
		return
	}
	if req.CorrelationID == "" {
		req.CorrelationID = httpjson.CorrelationID(w, r)
	}
	ttl, err := s.validate(&req)
	if err != nil {
		httpjson.WriteErr(w, err)
		return
	}
	now := s.now()
	e := Entry{QueueID: QueueID(req.RequestID), Request: req, Bytes: entryBytes(req), EnqueuedAt: now, ExpiresAt: now.Add(ttl)}
	// servicekit's API middleware has put the caller's trace (or its own
	// server span) in the context; without it, the header is the trace.
	tctx := r.Context()
	if !trace.SpanContextFromContext(tctx).IsValid() {
		tctx = traceContext.Extract(tctx, propagation.HeaderCarrier(r.Header))
	}
	carrier := propagation.MapCarrier{}
	traceContext.Inject(tctx, carrier)
	if len(carrier) > 0 {
		e.Trace = carrier
	}
	got, created, err := s.queue.Enqueue(r.Context(), e)
	switch {
	case errors.Is(err, ErrQueueFull):
		s.queueFull(r.Context(), w, e, err)
		return
	case err != nil:
		httpjson.WriteError(w, http.StatusInternalServerError, httpjson.CodeInternal, "queue: "+err.Error(), "")
		return
	}
	if created {
		s.metrics.submissions.WithLabelValues("accepted").Inc()
		s.log.DebugContext(r.Context(), "comparison queued", "queue_id", got.QueueID, "request_id", req.RequestID)
		s.poke()
	} else {
		s.metrics.submissions.WithLabelValues("duplicate").Inc()
	}
	httpjson.Write(w, http.StatusAccepted, statusOf(got))
}

// queueFull answers 503 with retry_after_seconds and publishes the same
// as an LLMComparisonFailedV1 to the callback topic, so a caller that
// only listens there learns it too.
func (s *Service) queueFull(ctx context.Context, w http.ResponseWriter, e Entry, cause error) {
	s.metrics.submissions.WithLabelValues("queue_full").Inc()
	retry := int(math.Ceil(s.cfg.QueueFullRetryAfter.Seconds()))
	f := failureOf(e, contracts.LLMFailureQueueFull, cause.Error())
	f.QueueID, f.RetryAfterSeconds = "", retry
	// The event id includes the time: a later refusal of the same request
	// is a new event, not a duplicate of this one.
	err := s.pub.Publish(ctx, contracts.Message{EventType: contracts.TypeLLMComparisonFailedV1, Topic: e.Request.CallbackTopic,
		Key: e.Request.RequestID, Identity: []string{e.Request.RequestID, codeQueueFull, e.EnqueuedAt.UTC().Format(time.RFC3339Nano)},
		CorrelationID: e.Request.CorrelationID, Data: f})
	if err != nil {
		s.log.WarnContext(ctx, "queue full; the failure event was not accepted either", "request_id", e.Request.RequestID, "error", err)
	}
	w.Header().Set(headerRetryAfter, strconv.Itoa(retry))
	httpjson.Write(w, http.StatusServiceUnavailable, QueueFullBody{RetryAfterSeconds: retry, ErrorBody: httpjson.ErrorBody{
		Error: httpjson.ErrorDetail{Code: codeQueueFull, Message: cause.Error() + fmt.Sprintf("; retry in %ds", retry)}}})
}

func (s *Service) handleStatus(w http.ResponseWriter, r *http.Request) {
	httpjson.GetByID("queue_id", "queued comparison", ErrNotFound, func(ctx context.Context, id string) (contracts.LLMComparisonAccepted, error) {
		e, err := s.queue.Get(ctx, id)
		if err != nil {
			return contracts.LLMComparisonAccepted{}, err
		}
		return statusOf(e), nil
	})(w, r)
}

func statusOf(e Entry) contracts.LLMComparisonAccepted {
	a := contracts.LLMComparisonAccepted{QueueID: e.QueueID, RequestID: e.Request.RequestID, Status: e.Status,
		Attempts: e.Attempts, Provider: e.Provider, LastError: e.LastError, FailureReason: e.FailureReason,
		EnqueuedAt: e.EnqueuedAt, UpdatedAt: e.UpdatedAt, ExpiresAt: e.ExpiresAt}
	if e.Status == contracts.LLMStatusQueued && e.NotBefore.After(e.UpdatedAt) {
		a.NextAttemptAt = e.NotBefore
	}
	return a
}

// validate checks req, fills its defaults and returns its TTL. Errors are
// *httpjson.RequestError values naming the field and the accepted range.
func (s *Service) validate(req *contracts.LLMComparisonRequestV1) (time.Duration, error) {
	if req.RequestID == "" {
		req.RequestID = uuid.NewString()
	}
	if req.CallbackTopic == "" {
		req.CallbackTopic = contracts.TopicLLMComparisonResultV1
	}
	switch {
	case len(req.RequestID) > maxIDBytes:
		return 0, httpjson.BadField("request_id", "request_id is %d bytes long, the limit is %d", len(req.RequestID), maxIDBytes)
	case req.EssayA.ID == "" || len(req.EssayA.ID) > maxIDBytes:
		return 0, httpjson.BadField("essay_a.id", "essay_a.id must be 1 to %d bytes", maxIDBytes)
	case req.EssayB.ID == "" || len(req.EssayB.ID) > maxIDBytes:
		return 0, httpjson.BadField("essay_b.id", "essay_b.id must be 1 to %d bytes", maxIDBytes)
	case req.EssayA.ID == req.EssayB.ID:
		return 0, httpjson.BadField("essay_b.id", "essay_a and essay_b have the same id %q; a comparison needs two essays", req.EssayA.ID)
	case req.EssayA.Text == "":
		return 0, httpjson.BadField("essay_a.text", "essay_a.text is empty")
	case req.EssayB.Text == "":
		return 0, httpjson.BadField("essay_b.text", "essay_b.text is empty")
	case req.EssayA.SpellingErrors < 0:
		return 0, httpjson.BadField("essay_a.spelling_errors", "essay_a.spelling_errors must be >= 0, got %d", req.EssayA.SpellingErrors)
	case req.EssayB.SpellingErrors < 0:
		return 0, httpjson.BadField("essay_b.spelling_errors", "essay_b.spelling_errors must be >= 0, got %d", req.EssayB.SpellingErrors)
	case req.Provider != "" && !s.judge.Has(req.Provider):
		return 0, httpjson.BadField("provider", "provider %q is not configured; configured are %v (LLM_PROVIDER_ORDER)", req.Provider, s.judge.Providers())
	case req.TTLSeconds < 0 || time.Duration(req.TTLSeconds)*time.Second > maxTTL:
		return 0, httpjson.BadField("ttl_seconds", "ttl_seconds must be between 1 and %d, or 0 for the default %v, got %d", int(maxTTL.Seconds()), s.cfg.RequestTTL, req.TTLSeconds)
	case len(req.Metadata) > maxMetadata:
		return 0, httpjson.BadField("metadata", "metadata has %d entries, the limit is %d", len(req.Metadata), maxMetadata)
	}
	if err := checkTopic(req.CallbackTopic); err != nil {
		return 0, httpjson.BadField("callback_topic", "callback_topic: %v", err)
	}
	for k, v := range req.Metadata {
		if len(k) > maxMetadataBytes || len(v) > maxMetadataBytes {
			return 0, httpjson.BadField("metadata", "metadata %q: keys and values are limited to %d bytes", k, maxMetadataBytes)
		}
	}
	if req.TTLSeconds > 0 {
		return time.Duration(req.TTLSeconds) * time.Second, nil
	}
	return s.cfg.RequestTTL, nil
}

// checkTopic applies Kafka's topic name rules.
func checkTopic(topic string) error {
	if len(topic) > 249 || topic == "." || topic == ".." {
		return fmt.Errorf("%q is not a Kafka topic name (at most 249 characters, not . or ..)", topic)
	}
	for _, c := range topic {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%q contains %q; allowed are ASCII letters, digits, '.', '_' and '-'", topic, c)
		}
	}
	return nil
}

// poke wakes one idle worker.
func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
