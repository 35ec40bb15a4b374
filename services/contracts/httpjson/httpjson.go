package httpjson

import (
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/google/uuid"

	"github.com/huleedu/huleedu/errctx"
	"github.com/huleedu/huleedu/sqldb"
)

// HeaderCorrelationID is the request header that carries a correlation id
// into a service; responses echo it.
const HeaderCorrelationID = "X-Correlation-ID"

// Error codes of the error body.
const (
	CodeInvalidRequest        = "invalid_request"        // the body is not what the endpoint accepts
	CodeInvalidField          = "invalid_field"          // one field has a bad value
	CodeNotFound              = "not_found"              // the resource (or the endpoint) does not exist
	CodeMethodNotAllowed      = "method_not_allowed"     // the endpoint exists, not with this method
	CodeConflict              = "conflict"               // the resource already exists
	CodeUnsupportedMedia      = "unsupported_media_type" // wrong Content-Type
	CodeTooLarge              = "request_too_large"      // the body exceeds the limit
	CodeDependencyUnavailable = "dependency_unavailable" // a dependency's breaker is open; retry later
	CodeDependencyFailed      = "dependency_failed"      // a dependency answered with an error
	CodePublishFailed         = "publish_failed"         // the event bus did not accept an event; retry
	CodeDatabaseUnavailable   = "database_unavailable"   // the service's database is down or busy; nothing was changed, retry
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

// WriteErr writes err: a *RequestError with its status, code and field;
// an error of the service's database that a retry may clear
// (sqldb.IsRetriable: down, restarting, full, busy) as 503
// database_unavailable with Retry-After, since the request changed
// nothing and may be repeated; anything else as a 500 internal_error.
func WriteErr(w http.ResponseWriter, err error) {
	if re, ok := errors.AsType[*RequestError](err); ok {
		WriteError(w, re.Status, re.Code, re.Message, re.Field)
		return
	}
	if sqldb.IsRetriable(err) {
		WriteUnavailable(w, err)
		return
	}
	WriteError(w, http.StatusInternalServerError, CodeInternal, err.Error(), "")
}

// WriteUnavailable answers a request that failed because the service's
// database is unavailable: 503 database_unavailable, Retry-After 1. The
// message says nothing was changed (a transaction that did not commit
// left no trace, its events included) and keeps err, which names the
// database, out of the answer: log it.
func WriteUnavailable(w http.ResponseWriter, _ error) {
	w.Header().Set("Retry-After", "1")
	WriteError(w, http.StatusServiceUnavailable, CodeDatabaseUnavailable,
		"the service's database is unavailable; nothing was changed, retry later", "")
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
// Content-Type application/json (or none), at most maxBytes of body (see
// LimitBody), no unknown fields and no trailing data. Its errors are
// *RequestError values that name the problem (and the field, where there
// is one).
func Decode(w http.ResponseWriter, r *http.Request, dst any, maxBytes int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &RequestError{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia,
				Message: fmt.Sprintf("Content-Type must be application/json, got %q", ct)}
		}
	}
	if err := LimitBody(w, r, maxBytes); err != nil {
		return err
	}
	dec := json.NewDecoder(r.Body)
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

// LimitBody bounds r's body to maxBytes before the handler reads it. A
// request whose Content-Length is larger is refused at once with a 413
// *RequestError, before a byte of the body is read: a client that sent
// "Expect: 100-continue" is then never told to send it and reads the 413,
// instead of sending a body the server stops reading and having its
// connection reset. A body of unknown length (chunked) is wrapped in
// http.MaxBytesReader, whose error past maxBytes TooLarge recognises.
func LimitBody(w http.ResponseWriter, r *http.Request, maxBytes int64) error {
	if r.ContentLength > maxBytes {
		return &RequestError{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
			Message: fmt.Sprintf("body exceeds %d bytes (Content-Length %d)", maxBytes, r.ContentLength)}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBytes)
	return nil
}

// TooLarge returns the 413 *RequestError for err, an error reading a body
// that LimitBody bounds, when err says the body went past the limit.
func TooLarge(err error) (*RequestError, bool) {
	tooLarge, ok := errors.AsType[*http.MaxBytesError](err)
	if !ok {
		return nil, false
	}
	return &RequestError{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
		Message: fmt.Sprintf("body exceeds %d bytes", tooLarge.Limit)}, true
}

func decodeError(err error) *RequestError {
	bad := func(field, msg string) *RequestError {
		code := CodeInvalidRequest
		if field != "" {
			code = CodeInvalidField
		}
		return &RequestError{Status: http.StatusBadRequest, Code: code, Message: msg, Field: field}
	}
	if re, ok := TooLarge(err); ok {
		return re
	}
	if syntax, ok := errors.AsType[*json.SyntaxError](err); ok {
		return bad("", fmt.Sprintf("body is not valid JSON at byte %d: %v", syntax.Offset, err))
	}
	if typ, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		what := "body"
		if typ.Field != "" {
			what = typ.Field
		}
		return bad(typ.Field, fmt.Sprintf("%s must be %s, got JSON %s", what, jsonKind(typ.Type, typ.Value), typ.Value))
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

// textUnmarshaler is the interface of types that decode from a JSON
// string whatever their Go kind (uuid.UUID is an array of bytes).
var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// jsonKind names, in JSON's terms, what a value of Go type t is decoded
// from, for a client who never saw the Go type: "an object", "an integer
// between 0 and 255". got is the JSON value the client sent ("number
// 300", "string").
func jsonKind(t reflect.Type, got string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "a string"
	}
	outOfRange := strings.HasPrefix(got, "number")
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if outOfRange {
			shift := 64 - t.Bits()
			return fmt.Sprintf("an integer between %d and %d", int64(math.MinInt64)>>shift, int64(math.MaxInt64)>>shift)
		}
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if outOfRange {
			return fmt.Sprintf("an integer between 0 and %d", uint64(math.MaxUint64)>>(64-t.Bits()))
		}
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a different JSON value"
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
