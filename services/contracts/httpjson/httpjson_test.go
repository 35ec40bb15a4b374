package httpjson_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/huleedu/huleedu/errctx"
	"github.com/huleedu/huleedu/servicekit"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
)

type body struct {
	Name  string    `json:"name"`
	Count int       `json:"count"`
	Level uint8     `json:"level"`
	ID    uuid.UUID `json:"id"`
}

func TestDecodeNamesTheProblem(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		status                  int
		field, msg              string
	}{
		{"ok", "application/json", `{"name":"a","count":1}`, 0, "", ""},
		{"no content type is fine", "", `{"name":"a"}`, 0, "", ""},
		{"unknown field", "application/json", `{"nam":"a"}`, 400, "nam", `unknown field "nam"`},
		{"wrong type", "application/json", `{"count":"x"}`, 400, "count", "count must be an integer, got JSON string"},
		{"array for the object", "application/json", `[{"name":"a"}]`, 400, "", "body must be a JSON object, got JSON array"},
		{"number out of range", "application/json", `{"level":300}`, 400, "level", "level must be an integer between 0 and 255, got JSON number 300"},
		{"number for a text type", "application/json", `{"id":5}`, 400, "id", "id must be a string, got JSON number"},
		{"syntax", "application/json", `{"name":`, 400, "", "truncated"},
		{"empty", "application/json", ``, 400, "", "empty"},
		{"two objects", "application/json", `{} {}`, 400, "", "single JSON object"},
		{"too large", "application/json", `{"name":"` + strings.Repeat("x", 100) + `"}`, 413, "", "exceeds 64 bytes"},
		{"wrong media type", "text/plain", `{}`, 415, "", "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			var v body
			err := httpjson.Decode(httptest.NewRecorder(), req, &v, 64)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			re, ok := errors.AsType[*httpjson.RequestError](err)
			if !ok || re.Status != tt.status || re.Field != tt.field || !strings.Contains(re.Message, tt.msg) || strings.TrimSpace(re.Message) != re.Message {
				t.Errorf("err = %+v, want status %d field %q message containing %q", err, tt.status, tt.field, tt.msg)
			}
		})
	}
}

func TestWriteErrUsesRequestErrorOr500(t *testing.T) {
	rec := httptest.NewRecorder()
	httpjson.WriteErr(rec, httpjson.BadField("name", "name is required"))
	var b httpjson.ErrorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &b)
	if rec.Code != 400 || b.Error.Code != httpjson.CodeInvalidField || b.Error.Field != "name" || b.Error.Message != "name is required" {
		t.Errorf("%d %+v", rec.Code, b)
	}
	rec = httptest.NewRecorder()
	httpjson.WriteErr(rec, errors.New("boom"))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("%d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

func TestCorrelationIDIsEchoedOrCreated(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(httpjson.HeaderCorrelationID, "abc")
	rec := httptest.NewRecorder()
	if id := httpjson.CorrelationID(rec, req); id != "abc" || rec.Header().Get(httpjson.HeaderCorrelationID) != "abc" {
		t.Errorf("id %q", id)
	}
	rec = httptest.NewRecorder()
	if id := httpjson.CorrelationID(rec, httptest.NewRequest(http.MethodGet, "/", nil)); len(id) != 36 {
		t.Errorf("generated id %q", id)
	}
}

// A middleware (servicekit's API handler) that already chose the request's
// correlation id puts it in the context and on the response; a handler
// must publish its events with that id, not make another one.
func TestCorrelationIDKeepsTheOneInTheRequestContext(t *testing.T) {
	for name, header := range map[string]string{"no header": "", "header": "from-header"} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if header != "" {
				req.Header.Set(httpjson.HeaderCorrelationID, header)
			}
			req = req.WithContext(errctx.WithCorrelation(context.Background(), "from-middleware"))
			rec := httptest.NewRecorder()
			if id := httpjson.CorrelationID(rec, req); id != "from-middleware" || rec.Header().Get(httpjson.HeaderCorrelationID) != id {
				t.Errorf("id %q, response header %q; want the context's from-middleware", id, rec.Header().Get(httpjson.HeaderCorrelationID))
			}
		})
	}
}

func TestGetByIDAnswersFoundNotFoundAndFailure(t *testing.T) {
	errMissing := errors.New("missing")
	get := func(_ context.Context, id string) (body, error) {
		switch id {
		case "b-1":
			return body{Name: "b-1", Count: 3}, nil
		case "broken":
			return body{}, errors.New("store down")
		}
		return body{}, fmt.Errorf("%w: %s", errMissing, id)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/batches/{batch_id}", httpjson.GetByID("batch_id", "batch", errMissing, get))
	tests := []struct {
		path    string
		status  int
		code    string
		message string
	}{
		{"/v1/batches/b-1", http.StatusOK, "", ""},
		{"/v1/batches/nope", http.StatusNotFound, httpjson.CodeNotFound, `no batch with batch_id "nope"`},
		{"/v1/batches/broken", http.StatusInternalServerError, httpjson.CodeInternal, "store down"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if rec.Code != tt.status {
			t.Errorf("GET %s: %d, want %d (%s)", tt.path, rec.Code, tt.status, rec.Body)
			continue
		}
		if tt.status == http.StatusOK {
			var got body
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got != (body{Name: "b-1", Count: 3}) {
				t.Errorf("GET %s: body %s (%v)", tt.path, rec.Body, err)
			}
			continue
		}
		var b httpjson.ErrorBody
		_ = json.Unmarshal(rec.Body.Bytes(), &b)
		if b.Error.Code != tt.code || b.Error.Message != tt.message {
			t.Errorf("GET %s: error %+v, want code %s message %q", tt.path, b.Error, tt.code, tt.message)
		}
		if tt.status == http.StatusNotFound && b.Error.Field != "batch_id" {
			t.Errorf("GET %s: field %q, want the path wildcard batch_id", tt.path, b.Error.Field)
		}
	}
}

// servicekit's API middleware chooses the correlation id from the same
// header that CorrelationID reads and echoes.
func TestCorrelationHeaderIsServicekits(t *testing.T) {
	if httpjson.HeaderCorrelationID != servicekit.HeaderCorrelationID {
		t.Errorf("httpjson reads %q, servicekit %q", httpjson.HeaderCorrelationID, servicekit.HeaderCorrelationID)
	}
}

// servicekit turns net/http's plain-text errors (the mux's 404 and 405)
// into JSON itself, since it cannot import this package: its body must be
// this package's ErrorBody, with this package's codes.
func TestServicekitErrorsAreHttpjsonErrors(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/batches", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("POST /v1/too-large", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	})
	h := servicekit.JSONErrors(mux)
	for _, tt := range []struct {
		method, path string
		code         string
	}{
		{http.MethodGet, "/v1/nothing", httpjson.CodeNotFound},
		{http.MethodPost, "/v1/batches", httpjson.CodeMethodNotAllowed},
		{http.MethodPost, "/v1/too-large", httpjson.CodeTooLarge},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		var b httpjson.ErrorBody
		dec := json.NewDecoder(rec.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil || b.Error.Code != tt.code || b.Error.Message == "" {
			t.Errorf("%s %s: %+v (%v), want an httpjson.ErrorBody with code %s", tt.method, tt.path, b, err, tt.code)
		}
	}
}
