package batchorchestrator_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/batchorchestrator"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
	"github.com/huleedu/huleedu/services/contracts/httpjson"
)

func TestRegisterResolvesPipelineAndPublishesRegistration(t *testing.T) {
	f := newFixture(t)
	rec := f.post(`{"essay_count":3,"course_code":"ENG5","essay_instructions":"Write about trees."}`)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	resp := decode[batchorchestrator.RegisterBatchResponse](t, rec)
	if resp.BatchID == "" || !slices.Equal(resp.Phases, []string{"spellcheck", "cj_assessment"}) || len(resp.EssayIDs) != 3 {
		t.Fatalf("response = %+v", resp)
	}
	if loc := rec.Header().Get("Location"); loc != "/v1/batches/"+resp.BatchID {
		t.Errorf("Location %q", loc)
	}
	regs := contractstest.Payloads[contracts.BatchEssaysRegistered](t, f.bus, event.TypeBatchEssaysRegistered)
	if len(regs) != 1 {
		t.Fatalf("%d registrations published", len(regs))
	}
	r := regs[0]
	if r.BatchID != resp.BatchID || r.ExpectedEssayCount != 3 || !slices.Equal(r.EssayIDs, resp.EssayIDs) ||
		r.CourseCode != "ENG5" || r.RequestedPipeline != "full" || r.EssayInstructions != "Write about trees." {
		t.Errorf("registration = %+v", r)
	}
	if resp.EssayIDs[0] != contracts.EssaySlotID(resp.BatchID, 0) {
		t.Errorf("essay id %s is not the deterministic slot id", resp.EssayIDs[0])
	}
	if b := f.batch(resp.BatchID); b.Status != batchorchestrator.StatusAwaitingContent {
		t.Errorf("status %s", b.Status)
	}
}

func TestRegisterRejectsInvalidRequests(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		field      string
	}{
		{"no course", `{"essay_count":2}`, 400, "course_code"},
		{"no essays", `{"course_code":"ENG5"}`, 400, "essay_count"},
		{"too many essays", `{"essay_count":51,"course_code":"ENG5"}`, 400, "essay_count"},
		{"count and ids disagree", `{"essay_count":3,"essay_ids":["a","b"],"course_code":"ENG5"}`, 400, "essay_ids"},
		{"duplicate essay id", `{"essay_ids":["a","a"],"course_code":"ENG5"}`, 400, "essay_ids"},
		{"slash in batch id", `{"batch_id":"a/b","essay_count":1,"course_code":"ENG5"}`, 400, "batch_id"},
		{"unknown field", `{"essays":3,"course_code":"ENG5"}`, 400, "essays"},
		{"not JSON", `essay_count=3`, 400, ""},
		{"unknown pipeline", `{"essay_count":1,"course_code":"ENG5","requested_pipeline":"everything"}`, 400, "requested_pipeline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			rec := f.post(tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if e := decode[httpjson.ErrorBody](t, rec).Error; e.Field != tt.field || e.Message == "" {
				t.Errorf("error %+v, want field %q", e, tt.field)
			}
			if len(f.bus.All()) != 0 {
				t.Error("a rejected registration published an event")
			}
		})
	}
}

func TestRegisterSameBatchIDTwiceIsConflict(t *testing.T) {
	f := newFixture(t)
	f.register("b-1", 1, "full")
	if rec := f.post(`{"batch_id":"b-1","essay_count":1,"course_code":"ENG5"}`); rec.Code != http.StatusConflict {
		t.Errorf("status %d, want 409", rec.Code)
	}
	if n := f.bus.Count(event.TypeBatchEssaysRegistered); n != 1 {
		t.Errorf("%d registrations published", n)
	}
}

func TestOpenConductorBreakerGives503WithRetryAfter(t *testing.T) {
	f := newFixture(t)
	f.conductor.failing.Store(true)
	body := `{"essay_count":1,"course_code":"ENG5"}`
	for i := range 2 {
		if rec := f.post(body); rec.Code != http.StatusBadGateway {
			t.Fatalf("attempt %d with a failing conductor: %d, want 502", i, rec.Code)
		}
	}
	rec := f.post(body)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d with the breaker open, want 503: %s", rec.Code, rec.Body)
	}
	if ra := rec.Header().Get("Retry-After"); ra != "30" {
		t.Errorf("Retry-After %q, want 30 (the breaker's recovery timeout)", ra)
	}
	if e := decode[httpjson.ErrorBody](t, rec).Error; e.Code != httpjson.CodeDependencyUnavailable {
		t.Errorf("error code %q", e.Code)
	}
	if n := f.conductor.calls.Load(); n != 2 {
		t.Errorf("conductor called %d times, want 2: the open breaker must not call it", n)
	}

	// Later, the breaker lets a probe through and the conductor is back.
	f.conductor.failing.Store(false)
	f.clock.Advance(30 * time.Second)
	if rec := f.post(body); rec.Code != http.StatusAccepted {
		t.Errorf("after recovery: %d %s", rec.Code, rec.Body)
	}
}

func TestRegisterNotAcceptedByBusIs503AndKeepsNothing(t *testing.T) {
	f := newFixture(t)
	f.bus.FailNext(1, errors.New("kafka down"))
	rec := f.post(`{"batch_id":"b-1","essay_count":1,"course_code":"ENG5"}`)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, want 503 with Retry-After", rec.Code)
	}
	if _, err := f.svc.Batch(t.Context(), "b-1"); !errors.Is(err, batchorchestrator.ErrBatchNotFound) {
		t.Errorf("batch kept after a failed publish: %v", err)
	}
	if rec := f.post(`{"batch_id":"b-1","essay_count":1,"course_code":"ENG5"}`); rec.Code != http.StatusAccepted {
		t.Errorf("retry: %d %s", rec.Code, rec.Body)
	}
}

func TestGetBatchShowsStatus(t *testing.T) {
	f := newFixture(t)
	f.register("b-1", 2, "spellcheck")
	for path, want := range map[string]int{"/v1/batches/b-1": 200, "/v1/batches/nope": 404} {
		rec := f.get(path)
		if rec.Code != want {
			t.Errorf("GET %s = %d, want %d", path, rec.Code, want)
		}
	}
	b := decode[batchorchestrator.Batch](t, f.get("/v1/batches/b-1"))
	if b.Status != batchorchestrator.StatusAwaitingContent || !slices.Equal(b.Phases, []string{"spellcheck"}) {
		t.Errorf("batch = %+v", b)
	}
}

func TestConfigValidateNamesField(t *testing.T) {
	err := batchorchestrator.Config{MaxEssaysPerBatch: -1}.Validate()
	if err == nil || !strings.Contains(err.Error(), "MaxEssaysPerBatch = -1") {
		t.Errorf("Validate = %v", err)
	}
}
