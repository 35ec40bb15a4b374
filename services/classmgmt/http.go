package classmgmt

import (
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
	"github.com/huleedu/huleedu/sqldb"
)

// maxBody bounds request bodies.
const maxBody = 64 << 10

// fail answers err: a *httpjson.RequestError as it says, an unavailable
// database or an event the bus did not accept as 503 (nothing was kept;
// retry), anything else as 500.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	if sqldb.IsRetriable(err) {
		s.log.ErrorContext(r.Context(), "change not kept: the database is unavailable", "error", err)
		httpjson.WriteUnavailable(w, err)
		return
	}
	if contracts.IsPublishError(err) {
		s.log.ErrorContext(r.Context(), "change not kept: event not accepted", "error", err)
		w.Header().Set("Retry-After", "1")
		httpjson.WriteError(w, http.StatusServiceUnavailable, httpjson.CodePublishFailed,
			"the change's event was not accepted by the event bus; nothing was kept, retry", "")
		return
	}
	httpjson.WriteErr(w, err)
}

func notFound(kind, id string) *httpjson.RequestError {
	return &httpjson.RequestError{Status: http.StatusNotFound, Code: httpjson.CodeNotFound,
		Message: fmt.Sprintf("no %s with id %q", kind, id), Field: kind + "_id"}
}

// requireText trims *v and checks it is between 1 and maxLen characters.
func requireText(field string, v *string, maxLen int) error {
	*v = strings.TrimSpace(*v)
	switch n := utf8.RuneCountInString(*v); {
	case n == 0:
		return httpjson.BadField(field, "%s is required", field)
	case n > maxLen:
		return httpjson.BadField(field, "%s is longer than %d characters", field, maxLen)
	}
	return nil
}

// optionalEmail trims *v and checks it is empty or one plain address.
func optionalEmail(field string, v *string) error {
	*v = strings.TrimSpace(*v)
	if *v == "" {
		return nil
	}
	a, err := mail.ParseAddress(*v)
	if err != nil || a.Address != *v {
		return httpjson.BadField(field, "%s %q is not an e-mail address", field, *v)
	}
	return nil
}

// cleanIDs trims the ids and rejects empty and duplicate ones.
func cleanIDs(field string, ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	for i, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" {
			return nil, httpjson.BadField(field, "%s[%d] is empty", field, i)
		}
		if slices.Contains(out, id) {
			return nil, httpjson.BadField(field, "%s[%d] = %q is a duplicate", field, i, id)
		}
		out = append(out, id)
	}
	return out, nil
}
