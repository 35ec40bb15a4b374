package fileservice

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/huleedu/huleedu/services/contracts/httpjson"
	"github.com/huleedu/huleedu/sqldb"
)

// handleGetContent serves GET /v1/content/{id}: the stored text as
// text/plain, or a JSON 404.
func (s *Service) handleGetContent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	content, err := s.store.Get(r.Context(), id)
	switch {
	case errors.Is(err, ErrContentNotFound):
		httpjson.WriteError(w, http.StatusNotFound, httpjson.CodeNotFound, "no content with id "+strconv.Quote(id), "id")
		return
	case err != nil:
		s.log.ErrorContext(r.Context(), "content store get failed", "content_id", id, "error", err)
		if sqldb.IsRetriable(err) {
			httpjson.WriteUnavailable(w, err)
			return
		}
		httpjson.WriteError(w, http.StatusInternalServerError, httpjson.CodeInternal, "content store failed", "")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	// Content ids are derived from the content hash: what an id names never
	// changes.
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(content)
}
