package fileservice_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/huleedu/huleedu/services/contracts/contractstest"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
	"github.com/huleedu/huleedu/services/fileservice"
)

// part is one multipart part: a file when fileName is set, a field
// otherwise.
type part struct {
	field, fileName string
	content         []byte
}

func file(name, content string) part {
	return part{field: "files", fileName: name, content: []byte(content)}
}

func field(name, value string) part { return part{field: name, content: []byte(value)} }

func multipartBody(t *testing.T, parts ...part) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var err error
		if p.fileName != "" {
			w, e := mw.CreateFormFile(p.field, p.fileName)
			if e == nil {
				_, e = w.Write(p.content)
			}
			err = e
		} else {
			err = mw.WriteField(p.field, string(p.content))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

type fixture struct {
	bus   *contractstest.Bus
	svc   *fileservice.Service
	store *fileservice.MemoryContentStore
	mux   *http.ServeMux
}

func newFixture(t *testing.T, cfg fileservice.Config) *fixture {
	t.Helper()
	bus := contractstest.NewBus()
	store := fileservice.NewMemoryContentStore()
	svc, err := fileservice.New(cfg, fileservice.Deps{Bus: bus, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Routes(mux)
	return &fixture{bus: bus, svc: svc, store: store, mux: mux}
}

func (f *fixture) upload(t *testing.T, parts ...part) *httptest.ResponseRecorder {
	t.Helper()
	body, ct := multipartBody(t, parts...)
	req := httptest.NewRequest(http.MethodPost, "/v1/files/batch", body)
	req.Header.Set("Content-Type", ct)
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return rec
}

func decodeBody[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return v
}

func errorOf(t *testing.T, rec *httptest.ResponseRecorder) httpjson.ErrorDetail {
	t.Helper()
	return decodeBody[httpjson.ErrorBody](t, rec).Error
}
