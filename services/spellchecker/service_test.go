package spellchecker_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
	"github.com/huleedu/huleedu/services/fileservice/contentclient"
	"github.com/huleedu/huleedu/services/spellchecker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// contentServer is a File Service stand-in: texts by content id, and a
// switch that makes it answer 503.
type contentServer struct {
	*httptest.Server
	texts map[string]string
	down  atomic.Bool
	calls atomic.Int32
}

func newContentServer(t *testing.T, texts map[string]string) *contentServer {
	t.Helper()
	cs := &contentServer{texts: texts}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.calls.Add(1)
		if cs.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		text, ok := cs.texts[strings.TrimPrefix(r.URL.Path, "/v1/content/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(text))
	}))
	t.Cleanup(cs.Close)
	return cs
}

func newService(t *testing.T, hc *http.Client, baseURL string) (*spellchecker.Service, *contractstest.Bus) {
	t.Helper()
	client, err := contentclient.New(hc, baseURL)
	if err != nil {
		t.Fatal(err)
	}
	bus := contractstest.NewBus()
	svc, err := spellchecker.New(spellchecker.Deps{Bus: bus, Content: client})
	if err != nil {
		t.Fatal(err)
	}
	return svc, bus
}

func request(t *testing.T, essayID, contentID, lang string) *event.Envelope {
	t.Helper()
	env, err := event.NewEnvelope(contracts.TypeEssaySpellcheckRequestedV1, "essay_lifecycle_service",
		contracts.EssaySpellcheckRequestedV1{BatchID: "b-1", EssayID: essayID, ContentID: contentID, Language: lang},
		event.WithCorrelationID("corr-1"))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func results(t *testing.T, bus *contractstest.Bus) []contracts.SpellcheckCompletedV1 {
	return contractstest.Payloads[contracts.SpellcheckCompletedV1](t, bus, event.TypeSpellcheckCompletedV1)
}

func TestHandlerPublishesCorrectionsForKnownMisspellings(t *testing.T) {
	cs := newContentServer(t, map[string]string{"c-1": "I will recieve teh prize."})
	svc, bus := newService(t, cs.Client(), cs.URL)
	if err := svc.HandleEssaySpellcheckRequested(context.Background(), request(t, "e-1", "c-1", "en")); err != nil {
		t.Fatal(err)
	}
	res := results(t, bus)
	if len(res) != 1 {
		t.Fatalf("%d results, want 1", len(res))
	}
	r := res[0]
	if r.Status != contracts.ResultSuccess || r.ErrorCount != 2 || r.WordCount != 5 || r.EssayID != "e-1" || r.ContentID != "c-1" {
		t.Errorf("result = %+v", r)
	}
	want := map[string]string{"recieve": "receive", "teh": "the"}
	for _, c := range r.Corrections {
		if want[c.Word] != c.Suggestion {
			t.Errorf("correction %+v, want suggestion %q", c, want[c.Word])
		}
	}
	env := bus.Envelopes(event.TypeSpellcheckCompletedV1)[0]
	if env.CorrelationID != "corr-1" || env.EventID.String() != contracts.EventID(event.TypeSpellcheckCompletedV1, "b-1", "e-1") {
		t.Errorf("envelope correlation %q id %s", env.CorrelationID, env.EventID)
	}
}

func TestHandlerPublishesNoCorrectionsForCorrectText(t *testing.T) {
	cs := newContentServer(t, map[string]string{"c-1": "The quick brown fox jumps over the lazy dog."})
	svc, bus := newService(t, cs.Client(), cs.URL)
	if err := svc.HandleEssaySpellcheckRequested(context.Background(), request(t, "e-1", "c-1", "en")); err != nil {
		t.Fatal(err)
	}
	if r := results(t, bus)[0]; r.ErrorCount != 0 || len(r.Corrections) != 0 || r.Status != contracts.ResultSuccess {
		t.Errorf("result = %+v", r)
	}
}

func TestHandlerReturnsErrorWhenContentFetchFails(t *testing.T) {
	cs := newContentServer(t, map[string]string{"c-1": "Text."})
	cs.down.Store(true)
	svc, bus := newService(t, cs.Client(), cs.URL)
	err := svc.HandleEssaySpellcheckRequested(context.Background(), request(t, "e-1", "c-1", "en"))
	if _, ok := errors.AsType[*contentclient.StatusError](err); !ok {
		t.Fatalf("err = %v, want the File Service's 503 so the consumer retries", err)
	}
	if n := len(bus.All()); n != 0 {
		t.Fatalf("%d events published after a failed fetch", n)
	}
	cs.down.Store(false)
	if err := svc.HandleEssaySpellcheckRequested(context.Background(), request(t, "e-1", "c-1", "en")); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := bus.Count(event.TypeSpellcheckCompletedV1); n != 1 {
		t.Errorf("%d results after the retry, want 1", n)
	}
}

func TestHandlerFailsFastWhileFileServiceBreakerIsOpen(t *testing.T) {
	cs := newContentServer(t, map[string]string{"c-1": "Text."})
	cs.down.Store(true)
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "spellchecker_service.file_service", FailureThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := newService(t, &http.Client{Transport: resilience.NewTransport(cb, cs.Client().Transport)}, cs.URL)
	_ = svc.HandleEssaySpellcheckRequested(context.Background(), request(t, "e-1", "c-1", "en"))
	err = svc.HandleEssaySpellcheckRequested(context.Background(), request(t, "e-1", "c-1", "en"))
	if !errors.Is(err, resilience.ErrCircuitOpen) {
		t.Fatalf("err = %v, want ErrCircuitOpen", err)
	}
	if n := cs.calls.Load(); n != 1 {
		t.Errorf("File Service called %d times, want 1", n)
	}
}

func TestHandlerReportsPermanentFailuresAsFailedResults(t *testing.T) {
	tests := []struct {
		name, contentID, lang string
		wantReason            string
	}{
		{"unknown content", "gone", "en", "not found"},
		{"unsupported language", "c-1", "sv", `language "sv" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := newContentServer(t, map[string]string{"c-1": "Text."})
			svc, bus := newService(t, cs.Client(), cs.URL)
			if err := svc.HandleEssaySpellcheckRequested(context.Background(), request(t, "e-1", tt.contentID, tt.lang)); err != nil {
				t.Fatal(err)
			}
			r := results(t, bus)[0]
			if r.Status != contracts.ResultFailed || !strings.Contains(r.Reason, tt.wantReason) {
				t.Errorf("result = %+v, want FAILED with reason containing %q", r, tt.wantReason)
			}
		})
	}
}

func TestHandlerRejectsEventWithoutIDs(t *testing.T) {
	cs := newContentServer(t, nil)
	svc, _ := newService(t, cs.Client(), cs.URL)
	err := svc.HandleEssaySpellcheckRequested(context.Background(), request(t, "", "c-1", "en"))
	if !errors.Is(err, event.ErrInvalidEnvelope) {
		t.Errorf("err = %v, want ErrInvalidEnvelope", err)
	}
}

func TestCheckEndpointReturnsCorrections(t *testing.T) {
	cs := newContentServer(t, nil)
	svc, bus := newService(t, cs.Client(), cs.URL)
	mux := http.NewServeMux()
	svc.Routes(mux)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/v1/spellcheck", strings.NewReader(`{"text":"teh end"}`))
	mux.ServeHTTP(rec, req)
	var resp spellchecker.CheckResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
	if resp.ErrorCount != 1 || resp.Corrections[0].Suggestion != "the" {
		t.Errorf("response = %+v", resp)
	}
	if len(bus.All()) != 0 {
		t.Error("the check endpoint published events")
	}
}
