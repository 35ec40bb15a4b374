package classmgmt

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/services/contracts"
)

// ServiceName is Class Management's name: the source_service of its events
// and the prefix of its settings.
const ServiceName = "class_management_service"

// Deps are Class Management's collaborators.
type Deps struct {
	// Bus publishes the service's events. Required.
	Bus kafkabus.Bus
	// Store keeps the data: a SQLStore in the service (see Module); nil
	// means a new MemoryStore, for tests.
	Store Store
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NewID makes class and student ids; nil means random UUIDs.
	NewID func() string
}

var _ contracts.Service = (*Service)(nil)

// Service is Class Management. It is safe for concurrent use.
type Service struct {
	pub   *contracts.Publisher
	store Store
	log   *slog.Logger
	now   func() time.Time
	newID func() string
}

// New returns a Class Management service.
func New(deps Deps) (*Service, error) {
	if deps.Bus == nil {
		return nil, errors.New("classmgmt: New: Deps.Bus is nil")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	pub, err := contracts.NewPublisher(deps.Bus, ServiceName, deps.Now)
	if err != nil {
		return nil, fmt.Errorf("classmgmt: %w", err)
	}
	if deps.Store == nil {
		deps.Store = NewMemoryStore()
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.NewID == nil {
		deps.NewID = uuid.NewString
	}
	return &Service{pub: pub, store: deps.Store, log: deps.Logger, now: deps.Now, newID: deps.NewID}, nil
}

// Routes registers the REST API on mux:
//
//	POST /v1/classes                    create a class
//	GET  /v1/classes                    list classes
//	GET  /v1/classes/{id}               a class and its students
//	POST /v1/classes/{id}/students      enrol a student (existing, or new)
//	POST /v1/students                   create a student (optionally enrolled)
//	GET  /v1/students/{id}              a student
//	PUT  /v1/essays/{essay_id}/student  name the author of an essay
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/classes", s.handleCreateClass)
	mux.HandleFunc("GET /v1/classes", s.handleListClasses)
	mux.HandleFunc("GET /v1/classes/{id}", s.handleGetClass)
	mux.HandleFunc("POST /v1/classes/{id}/students", s.handleEnrol)
	mux.HandleFunc("POST /v1/students", s.handleCreateStudent)
	mux.HandleFunc("GET /v1/students/{id}", s.handleGetStudent)
	mux.HandleFunc("PUT /v1/essays/{essay_id}/student", s.handleAssociateEssay)
}

// Handlers returns the service's event handlers: none, Class Management
// only publishes.
func (s *Service) Handlers() map[string]contracts.HandlerFunc {
	return map[string]contracts.HandlerFunc{}
}
