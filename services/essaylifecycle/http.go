package essaylifecycle

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/huleedu/huleedu/services/contracts/httpjson"
)

// handleGetEssays serves GET /v1/batches/{id}/essays: the BatchState as
// JSON, or 404 for a batch ELS has never heard of.
func (s *Service) handleGetEssays(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	st, err := s.repo.Get(r.Context(), id)
	if errors.Is(err, ErrBatchNotFound) {
		httpjson.WriteError(w, http.StatusNotFound, httpjson.CodeNotFound, "no batch with id "+strconv.Quote(id), "id")
		return
	}
	if err != nil {
		httpjson.WriteErr(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, st)
}
