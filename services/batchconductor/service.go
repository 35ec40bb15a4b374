package batchconductor

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
)

// ServiceName is the Batch Conductor's name: the prefix of its settings.
const ServiceName = "batch_conductor_service"

// PipelineResponse is the body of GET /v1/pipelines/{name}.
type PipelineResponse struct {
	Pipeline    string   `json:"pipeline"`
	Description string   `json:"description,omitempty"`
	Phases      []string `json:"phases"`
}

// PipelinesResponse is the body of GET /v1/pipelines.
type PipelinesResponse struct {
	Pipelines []PipelineResponse `json:"pipelines"`
}

// Deps are the Batch Conductor's collaborators.
type Deps struct {
	// Catalog defines the phases and pipelines; nil means DefaultCatalog.
	Catalog *Catalog
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
}

var _ contracts.Service = (*Service)(nil)

// Service is the Batch Conductor: it tells the Batch Orchestrator which
// phases a requested pipeline runs, in which order. It is stateless and
// safe for concurrent use.
type Service struct {
	catalog *Catalog
	log     *slog.Logger
}

// New returns a Batch Conductor.
func New(deps Deps) *Service {
	if deps.Catalog == nil {
		deps.Catalog = DefaultCatalog()
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{catalog: deps.Catalog, log: deps.Logger}
}

// Routes registers the REST API on mux:
//
//	GET /v1/pipelines          every pipeline and its phases
//	GET /v1/pipelines/{name}   one pipeline's ordered phases; 404 if unknown
func (s *Service) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/pipelines", s.handleList)
	mux.HandleFunc("GET /v1/pipelines/{name}", s.handleResolve)
}

// Handlers returns the service's event handlers: none, the conductor only
// answers HTTP requests.
func (s *Service) Handlers() map[string]contracts.HandlerFunc {
	return map[string]contracts.HandlerFunc{}
}

func (s *Service) handleResolve(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	phases, err := s.catalog.Resolve(name)
	if errors.Is(err, ErrUnknownPipeline) {
		httpjson.WriteError(w, http.StatusNotFound, httpjson.CodeNotFound, err.Error(), "name")
		return
	}
	if err != nil {
		httpjson.WriteErr(w, err)
		return
	}
	p, _ := s.catalog.Pipeline(name)
	httpjson.Write(w, http.StatusOK, PipelineResponse{Pipeline: name, Description: p.Description, Phases: phases})
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	resp := PipelinesResponse{Pipelines: []PipelineResponse{}}
	for _, name := range s.catalog.Names() {
		phases, _ := s.catalog.Resolve(name)
		p, _ := s.catalog.Pipeline(name)
		resp.Pipelines = append(resp.Pipelines, PipelineResponse{Pipeline: name, Description: p.Description, Phases: phases})
	}
	httpjson.Write(w, http.StatusOK, resp)
}
