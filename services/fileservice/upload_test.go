package fileservice_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
	"github.com/huleedu/huleedu/services/fileservice"
)

func TestUploadPublishesOneOutcomePerFile(t *testing.T) {
	f := newFixture(t, fileservice.Config{MaxFileBytes: 64})
	rec := f.upload(t,
		field("batch_id", "batch-1"),
		file("good.txt", "A short essay about trees."),
		file("empty.txt", ""),
		file("huge.txt", strings.Repeat("word ", 20)),
		file("image.png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
	)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	resp := decodeBody[fileservice.UploadResponse](t, rec)
	if resp.BatchID != "batch-1" || resp.ProvisionedCount != 1 || resp.RejectedCount != 3 || len(resp.Files) != 4 {
		t.Fatalf("summary = %+v", resp)
	}

	wantTypes := []string{
		event.TypeBatchFileAddedV1, event.TypeEssayContentProvisionedV1,
		event.TypeBatchFileAddedV1, event.TypeEssayValidationFailedV1,
		event.TypeBatchFileAddedV1, event.TypeEssayValidationFailedV1,
		event.TypeBatchFileAddedV1, event.TypeEssayValidationFailedV1,
	}
	if got := f.bus.Types(); !slices.Equal(got, wantTypes) {
		t.Fatalf("published %v, want %v", got, wantTypes)
	}
	for _, p := range f.bus.All() {
		if p.Key != "batch-1" {
			t.Errorf("%s key = %q, want the batch id", p.Envelope.EventType, p.Key)
		}
		if want := contracts.MustTopic(p.Envelope.EventType); p.Topic != want {
			t.Errorf("%s topic = %q, want %q", p.Envelope.EventType, p.Topic, want)
		}
	}

	provisioned := contractstest.Payloads[contracts.EssayContentProvisionedV1](t, f.bus, event.TypeEssayContentProvisionedV1)
	if p := provisioned[0]; p.FileName != "good.txt" || p.BatchID != "batch-1" || p.Size != 26 || p.ContentID != resp.Files[0].ContentID {
		t.Errorf("provisioned = %+v", p)
	}
	stored, err := f.store.Get(context.Background(), provisioned[0].ContentID)
	if err != nil || string(stored) != "A short essay about trees." {
		t.Errorf("stored content = %q, %v", stored, err)
	}
	if f.store.Len() != 1 {
		t.Errorf("store holds %d contents, want only the valid file", f.store.Len())
	}

	failed := contractstest.Payloads[contracts.EssayValidationFailedV1](t, f.bus, event.TypeEssayValidationFailedV1)
	wantCodes := map[string]string{
		"empty.txt": contracts.ValidationEmptyContent,
		"huge.txt":  contracts.ValidationContentTooLong,
		"image.png": contracts.ValidationTextExtractionFailed,
	}
	for _, v := range failed {
		if v.ValidationErrorCode != wantCodes[v.FileName] || v.Reason == "" {
			t.Errorf("%s: code %q reason %q, want code %q", v.FileName, v.ValidationErrorCode, v.Reason, wantCodes[v.FileName])
		}
	}
	if failed[1].Size != 100 {
		t.Errorf("oversized file size = %d, want its full size 100", failed[1].Size)
	}
	added := contractstest.Payloads[contracts.BatchFileAddedV1](t, f.bus, event.TypeBatchFileAddedV1)
	if !added[0].Accepted || added[1].Accepted || added[2].Accepted || added[3].Accepted {
		t.Errorf("BatchFileAddedV1.Accepted = %v %v %v %v, want true false false false",
			added[0].Accepted, added[1].Accepted, added[2].Accepted, added[3].Accepted)
	}
}

func TestUploadRejectsBadRequestsWithNamedProblem(t *testing.T) {
	tests := []struct {
		name      string
		parts     []part
		status    int
		field     string
		msgSubstr string
	}{
		{"missing batch_id", []part{file("a.txt", "text")}, http.StatusBadRequest, "batch_id", "batch_id is required"},
		{"blank batch_id", []part{field("batch_id", "  "), file("a.txt", "text")}, http.StatusBadRequest, "batch_id", "empty"},
		{"batch_id too long", []part{field("batch_id", strings.Repeat("b", 129)), file("a.txt", "text")}, http.StatusBadRequest, "batch_id", "longer than 128"},
		{"no files", []part{field("batch_id", "b-1")}, http.StatusBadRequest, "files", "no files"},
		{"unknown field", []part{field("batchId", "b-1"), file("a.txt", "text")}, http.StatusBadRequest, "batchId", "unknown form field"},
		{"batch_id as a file", []part{{field: "batch_id", fileName: "id.txt", content: []byte("b-1")}}, http.StatusBadRequest, "batch_id", "plain form field"},
		{"too many files", []part{field("batch_id", "b-1"), file("1.txt", "a"), file("2.txt", "b"), file("3.txt", "c")}, http.StatusBadRequest, "files", "at most 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fileservice.Config{MaxFiles: 2})
			rec := f.upload(t, tt.parts...)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			e := errorOf(t, rec)
			if e.Field != tt.field || !strings.Contains(e.Message, tt.msgSubstr) {
				t.Errorf("error = %+v, want field %q and message containing %q", e, tt.field, tt.msgSubstr)
			}
			if n := len(f.bus.All()); n != 0 {
				t.Errorf("%d events published for a rejected request", n)
			}
		})
	}
}

func TestUploadWithoutMultipartIsUnsupportedMediaType(t *testing.T) {
	f := newFixture(t, fileservice.Config{})
	req := httptest.NewRequest(http.MethodPost, "/v1/files/batch", strings.NewReader(`{"batch_id":"b"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnsupportedMediaType || errorOf(t, rec).Code != httpjson.CodeUnsupportedMedia {
		t.Fatalf("status %d body %s, want 415", rec.Code, rec.Body)
	}
}

func TestUploadOverRequestLimitIsTooLarge(t *testing.T) {
	f := newFixture(t, fileservice.Config{MaxFileBytes: 10, MaxRequestBytes: 1024})
	rec := f.upload(t, field("batch_id", "b-1"), file("big.txt", strings.Repeat("x", 4096)))
	if rec.Code != http.StatusRequestEntityTooLarge || errorOf(t, rec).Code != httpjson.CodeTooLarge {
		t.Fatalf("status %d body %s, want 413", rec.Code, rec.Body)
	}
}

func TestRepeatedUploadPublishesSameEventIDs(t *testing.T) {
	f := newFixture(t, fileservice.Config{})
	parts := []part{field("batch_id", "b-1"), file("a.txt", "An essay."), file("b.txt", "")}
	f.upload(t, parts...)
	first := f.bus.All()
	f.upload(t, parts...)
	all := f.bus.All()
	if len(all) != 2*len(first) {
		t.Fatalf("second upload published %d events, want %d", len(all)-len(first), len(first))
	}
	for i, p := range first {
		if again := all[len(first)+i]; again.Envelope.EventID != p.Envelope.EventID {
			t.Errorf("event %d (%s): id %s then %s", i, p.Envelope.EventType, p.Envelope.EventID, again.Envelope.EventID)
		}
	}
	if f.store.Len() != 1 {
		t.Errorf("store holds %d contents after a repeated upload, want 1", f.store.Len())
	}
}

func TestUploadNotAcceptedByBusIs503AndRetrySucceeds(t *testing.T) {
	f := newFixture(t, fileservice.Config{})
	parts := []part{field("batch_id", "b-1"), file("a.txt", "An essay."), file("b.txt", "Another essay.")}
	f.bus.FailNext(1, errors.New("kafka unavailable"))
	rec := f.upload(t, parts...)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d (Retry-After %q), want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if e := errorOf(t, rec); e.Code != httpjson.CodePublishFailed {
		t.Errorf("error code %q, want %q", e.Code, httpjson.CodePublishFailed)
	}
	rec = f.upload(t, parts...)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("retry status %d, body %s", rec.Code, rec.Body)
	}
	if n := f.bus.Count(event.TypeEssayContentProvisionedV1); n != 2 {
		t.Errorf("%d EssayContentProvisionedV1 after the retry, want 2", n)
	}
}

func TestUploadAcceptsBatchIDAfterFiles(t *testing.T) {
	f := newFixture(t, fileservice.Config{})
	rec := f.upload(t, file("a.txt", "An essay."), field("batch_id", "b-late"))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
	if p := contractstest.Payloads[contracts.EssayContentProvisionedV1](t, f.bus, event.TypeEssayContentProvisionedV1); p[0].BatchID != "b-late" {
		t.Errorf("batch id %q", p[0].BatchID)
	}
}

func TestUploadEchoesCorrelationIDIntoEvents(t *testing.T) {
	f := newFixture(t, fileservice.Config{})
	body, ct := multipartBody(t, field("batch_id", "b-1"), file("a.txt", "An essay."))
	req := httptest.NewRequest(http.MethodPost, "/v1/files/batch", body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set(httpjson.HeaderCorrelationID, "corr-42")
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	if rec.Header().Get(httpjson.HeaderCorrelationID) != "corr-42" {
		t.Errorf("response correlation id %q", rec.Header().Get(httpjson.HeaderCorrelationID))
	}
	for _, p := range f.bus.All() {
		if p.Envelope.CorrelationID != "corr-42" {
			t.Errorf("%s correlation id %q, want corr-42", p.Envelope.EventType, p.Envelope.CorrelationID)
		}
	}
}
