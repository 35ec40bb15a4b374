package httpjson_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/huleedu/huleedu/services/contracts/httpjson"
)

type body struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
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
		{"wrong type", "application/json", `{"count":"x"}`, 400, "count", "count must be int"},
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
			if !ok || re.Status != tt.status || re.Field != tt.field || !strings.Contains(re.Message, tt.msg) {
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
