package fileservice_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/huleedu/huleedu/services/contracts/httpjson"
	"github.com/huleedu/huleedu/services/fileservice"
)

func TestGetContentServesStoredText(t *testing.T) {
	f := newFixture(t, fileservice.Config{})
	resp := decodeBody[fileservice.UploadResponse](t, f.upload(t, field("batch_id", "b-1"), file("a.txt", "Über essay.")))
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/content/"+resp.Files[0].ContentID, nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "Über essay." {
		t.Fatalf("status %d body %q", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestGetUnknownContentIsNotFound(t *testing.T) {
	f := newFixture(t, fileservice.Config{})
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/content/nope", nil))
	if rec.Code != http.StatusNotFound || errorOf(t, rec).Code != httpjson.CodeNotFound {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
}
