package fileservice

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/services/contracts"
)

// ServiceName is the File Service's name: the source_service of its events
// and the prefix of its settings.
const ServiceName = "file_service"

// Deps are the File Service's collaborators.
type Deps struct {
	// Bus publishes the service's events. Required.
	Bus kafkabus.Bus
	// Store keeps the essay texts: a SQLContentStore in the service (see
	// Module); nil means a new MemoryContentStore, for tests.
	Store ContentStore
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock for event timestamps; nil means time.Now.
	Now func() time.Time
}

var _ contracts.Service = (*Service)(nil)

// Service is the File Service: it turns uploaded files into stored essay
// texts and events. It is safe for concurrent use.
type Service struct {
	cfg   Config
	pub   *contracts.Publisher
	store ContentStore
	log   *slog.Logger
}

// New returns a File Service. It fails on an invalid cfg or a missing bus.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Bus == nil {
		return nil, errors.New("fileservice: New: Deps.Bus is nil")
	}
	pub, err := contracts.NewPublisher(deps.Bus, ServiceName, deps.Now)
	if err != nil {
		return nil, fmt.Errorf("fileservice: %w", err)
	}
	if deps.Store == nil {
		deps.Store = NewMemoryContentStore()
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg.withDefaults(), pub: pub, store: deps.Store, log: deps.Logger}, nil
}

// Routes registers the REST API on mux:
//
//	POST /v1/files/batch     multipart upload: batch_id and one or more files
//	GET  /v1/content/{id}    a stored essay text
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/files/batch", s.handleUpload)
	mux.HandleFunc("GET /v1/content/{id}", s.handleGetContent)
}

// Handlers returns the service's event handlers by topic: none, the File
// Service consumes no events. It exists so every service has the same
// shape.
func (s *Service) Handlers() map[string]contracts.HandlerFunc {
	return map[string]contracts.HandlerFunc{}
}
