package httpjson

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/huleedu/huleedu/errctx"
)

// HeaderCorrelationID is the request header that carries a correlation id
// into a service; responses echo it.
const HeaderCorrelationID = "X-Correlation-ID"

// Error codes of the error body.
const (
	CodeInvalidRequest        = "invalid_request"        // the body is not what the endpoint accepts
	CodeInvalidField          = "invalid_field"          // one field has a bad value
	CodeNotFound              = "not_found"              // the resource does not exist
	CodeConflict              = "conflict"               // the resource already exists
	CodeUnsupportedMedia      = "unsupported_media_type" // wrong Content-Type
	CodeTooLarge              = "request_too_large"      // the body exceeds the limit
	CodeDependencyUnavailable = "dependency_unavailable" // a dependency's breaker is open; retry later
	CodeDependencyFailed      = "dependency_failed"      // a dependency answered with an error
	CodePublishFailed         = "publish_failed"         // the event bus did not accept an event; retry
	CodeInternal              = "internal_error"         // a bug
)

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes an error response.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// RequestError is a client error with its HTTP status: what Decode returns
// and WriteErr writes.
type RequestError struct {
	Status  int
	Code    string
	Message string
	Field   string
}

// Error returns the message.
func (e *RequestError) Error() string { return e.Message }

// BadField returns a 400 RequestError for field with the given message.
func BadField(field, format string, args ...any) *RequestError {
	return &RequestError{Status: http.StatusBadRequest, Code: CodeInvalidField, Message: fmt.Sprintf(format, args...), Field: field}
}

// Write writes v as JSON with status.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// An encoding error here means the client went away; there is nobody
	// left to tell.
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes an error body.
func WriteError(w http.ResponseWriter, status int, code, message, field string) {
	Write(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: message, Field: field}})
}

// WriteErr writes err: a *RequestError with its status, code and field,
// anything else as a 500 internal_error.
func WriteErr(w http.ResponseWriter, err error) {
	if re, ok := errors.AsType[*RequestError](err); ok {
		WriteError(w, re.Status, re.Code, re.Message, re.Field)
		return
	}
	WriteError(w, http.StatusInternalServerError, CodeInternal, err.Error(), "")
}

// GetByID returns the handler of a GET endpoint for one resource: it
// answers get(ctx, id), id being the path wildcard param, as JSON with
// 200; an error wrapping notFound as a 404 not_found body ("no batch with
// id \"b-1\"", field param); any other error as WriteErr does.
//
//	mux.HandleFunc("GET /v1/batches/{id}", httpjson.GetByID("id", "batch", ErrBatchNotFound, repo.Get))
func GetByID[T any](param, what string, notFound error, get func(ctx context.Context, id string) (T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue(param)
		v, err := get(r.Context(), id)
		switch {
		case errors.Is(err, notFound):
			WriteError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no %s with %s %q", what, param, id), param)
		case err != nil:
			WriteErr(w, err)
		default:
			Write(w, http.StatusOK, v)
		}
	}
}

// Decode reads a JSON object from r's body into dst. It requires the
// Content-Type application/json (or none), at most maxBytes of body, no
// unknown fields and no trailing data. Its errors are *RequestError values
// that name the problem (and the field, where there is one).
func Decode(w http.ResponseWriter, r *http.Request, dst any, maxBytes int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &RequestError{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia,
				Message: fmt.Sprintf("Content-Type must be application/json, got %q", ct)}
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return &RequestError{Status: http.StatusBadRequest, Code: CodeInvalidRequest,
			Message: "body must hold a single JSON object"}
	}
	return nil
}

func decodeError(err error) *RequestError {
	bad := func(field, msg string) *RequestError {
		code := CodeInvalidRequest
		if field != "" {
			code = CodeInvalidField
		}
		return &RequestError{Status: http.StatusBadRequest, Code: code, Message: msg, Field: field}
	}
	if tooLarge, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &RequestError{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
			Message: fmt.Sprintf("body exceeds %d bytes", tooLarge.Limit)}
	}
	if syntax, ok := errors.AsType[*json.SyntaxError](err); ok {
		return bad("", fmt.Sprintf("body is not valid JSON at byte %d: %v", syntax.Offset, err))
	}
	if typ, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return bad(typ.Field, fmt.Sprintf("%s must be %s, got JSON %s", typ.Field, typ.Type, typ.Value))
	}
	switch {
	case errors.Is(err, io.EOF):
		return bad("", "body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad("", "body is truncated JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return bad(field, fmt.Sprintf("unknown field %q", field))
	}
	return bad("", "body could not be decoded: "+err.Error())
}

// CorrelationID returns the request's correlation id and echoes it on the
// response: the one in the request's context (errctx.CorrelationID) when a
// middleware such as servicekit's already chose it, so the events a
// handler publishes carry the id of the request's log lines and outgoing
// calls; else the X-Correlation-ID header, or a new random id when that is
// missing or longer than 128 bytes.
func CorrelationID(w http.ResponseWriter, r *http.Request) string {
	id := errctx.CorrelationID(r.Context())
	if id == "" {
		id = strings.TrimSpace(r.Header.Get(HeaderCorrelationID))
	}
	if id == "" || len(id) > 128 {
		id = uuid.NewString()
	}
	w.Header().Set(HeaderCorrelationID, id)
	return id
}
