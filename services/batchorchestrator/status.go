package batchorchestrator

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/huleedu/huleedu/services/contracts/httpjson"
)

// handleGet serves GET /v1/batches/{id}: the Batch as JSON, or 404.
func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	b, err := s.repo.Get(r.Context(), id)
	if errors.Is(err, ErrBatchNotFound) {
		httpjson.WriteError(w, http.StatusNotFound, httpjson.CodeNotFound, "no batch with id "+strconv.Quote(id), "id")
		return
	}
	if err != nil {
		httpjson.WriteErr(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, b)
}
