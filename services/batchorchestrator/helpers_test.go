package batchorchestrator_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/pgtest"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/resilience/resiliencetest"
	"github.com/huleedu/huleedu/services/batchconductor"
	"github.com/huleedu/huleedu/services/batchconductor/conductorclient"
	"github.com/huleedu/huleedu/services/batchorchestrator"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
)

// The repository suite shares one PostgreSQL server (pgtest), stopped,
// and goroutines checked for leaks, when the tests end.
func TestMain(m *testing.M) { pgtest.Main(m) }

var start = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

// conductor is a Batch Conductor on a test server that can be made to
// fail.
type conductor struct {
	*httptest.Server
	failing atomic.Bool
	calls   atomic.Int32
}

func newConductor(t *testing.T) *conductor {
	t.Helper()
	c := &conductor{}
	mux := http.NewServeMux()
	batchconductor.New(batchconductor.Deps{}).Routes(mux)
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.calls.Add(1)
		if c.failing.Load() {
			http.Error(w, "conductor broken", http.StatusInternalServerError)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(c.Close)
	return c
}

type fixture struct {
	t         *testing.T
	bus       *contractstest.Bus
	svc       *batchorchestrator.Service
	mux       *http.ServeMux
	conductor *conductor
	breaker   *resilience.CircuitBreaker
	clock     *resiliencetest.Clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, bus: contractstest.NewBus(), conductor: newConductor(t), clock: resiliencetest.NewClock(start)}
	var err error
	f.breaker, err = resilience.NewCircuitBreaker(resilience.Settings{Name: "batch_orchestrator_service.batch_conductor",
		FailureThreshold: 2, RecoveryTimeout: 30 * time.Second, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: resilience.NewTransport(f.breaker, f.conductor.Client().Transport)}
	client, err := conductorclient.New(hc, f.conductor.URL)
	if err != nil {
		t.Fatal(err)
	}
	f.svc, err = batchorchestrator.New(batchorchestrator.Config{MaxEssaysPerBatch: 50},
		batchorchestrator.Deps{Bus: f.bus, Conductor: client, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.mux = http.NewServeMux()
	f.svc.Routes(f.mux)
	return f
}

func (f *fixture) post(body string) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/batches", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return v
}

// register registers batch id with n essays on pipeline and returns the
// essay ids.
func (f *fixture) register(id string, n int, pipeline string) []string {
	f.t.Helper()
	rec := f.post(`{"batch_id":"` + id + `","essay_count":` + itoa(n) + `,"course_code":"ENG5","requested_pipeline":"` + pipeline + `"}`)
	if rec.Code != http.StatusAccepted {
		f.t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	return decode[batchorchestrator.RegisterBatchResponse](f.t, rec).EssayIDs
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func (f *fixture) deliver(e *event.Envelope) {
	f.t.Helper()
	if err := f.handle(e); err != nil {
		f.t.Fatalf("%s: %v", e.EventType, err)
	}
}

func (f *fixture) handle(e *event.Envelope) error {
	h, ok := f.svc.Handlers()[contracts.MustTopic(e.EventType)]
	if !ok {
		f.t.Fatalf("no handler for %s", e.EventType)
	}
	return h(context.Background(), e)
}

func env(t *testing.T, eventType string, data any, identity ...string) *event.Envelope {
	t.Helper()
	id := event.DeterministicID(event.Namespace, append([]string{eventType}, identity...)...)
	e, err := event.NewEnvelope(eventType, "test", data, event.WithEventID(id))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func refs(ids []string) []contracts.EssayProcessingInputRefV1 {
	out := make([]contracts.EssayProcessingInputRefV1, len(ids))
	for i, id := range ids {
		out[i] = contracts.EssayProcessingInputRefV1{EssayID: id, ContentID: "content-" + id}
	}
	return out
}

func ready(t *testing.T, batchID string, essays []contracts.EssayProcessingInputRefV1, failed ...string) *event.Envelope {
	return env(t, event.TypeBatchEssaysReady, contracts.BatchEssaysReady{BatchID: batchID, Essays: essays,
		FailedEssayIDs: append([]string{}, failed...), CourseCode: "ENG5"}, batchID)
}

func outcome(t *testing.T, batchID, phase string, processed []contracts.EssayProcessingInputRefV1, failed ...string) *event.Envelope {
	return env(t, contracts.TypeELSBatchPhaseOutcomeV1, contracts.ELSBatchPhaseOutcomeV1{BatchID: batchID, PhaseName: phase,
		PhaseStatus: contracts.OutcomeStatus(len(processed), len(failed)), ProcessedEssays: processed,
		FailedEssayIDs: append([]string{}, failed...)}, batchID, phase)
}

func (f *fixture) batch(id string) batchorchestrator.Batch {
	f.t.Helper()
	b, err := f.svc.Batch(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f *fixture) get(path string) *httptest.ResponseRecorder {
	f.t.Helper()
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}
