package essaylifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
	"github.com/huleedu/huleedu/services/essaylifecycle"
)

func essayRefs(f *fixture) []contracts.EssayProcessingInputRefV1 {
	return f.ready()[0].Essays
}

func spellcheckRequest(t *testing.T, b string, essays []contracts.EssayProcessingInputRefV1) *event.Envelope {
	return env(t, event.TypeBatchSpellcheckRequested, contracts.BatchSpellcheckRequested{BatchID: b, Essays: essays, Language: "en"}, b, "spellcheck")
}

func spellchecked(t *testing.T, b, essayID string, errorCount int, status string) *event.Envelope {
	res := contracts.SpellcheckCompletedV1{BatchID: b, EssayID: essayID, Status: status, ErrorCount: errorCount, WordCount: 100,
		Corrections: []contracts.SpellcheckCorrection{}}
	for i := range errorCount {
		res.Corrections = append(res.Corrections, contracts.SpellcheckCorrection{Word: "teh", Suggestion: "the", Offset: i * 10})
	}
	if status == contracts.ResultFailed {
		res.Reason = "content not found"
	}
	return env(t, event.TypeSpellcheckCompletedV1, res, b, essayID)
}

func cjRequest(t *testing.T, b string, essays []contracts.EssayProcessingInputRefV1) *event.Envelope {
	return env(t, event.TypeBatchCJAssessmentRequested, contracts.BatchCJAssessmentRequested{BatchID: b, Essays: essays}, b, "cj")
}

func cjCompleted(t *testing.T, b string, ranked []string, failed []string) *event.Envelope {
	res := contracts.CJAssessmentCompletedV1{BatchID: b, FailedEssayIDs: failed, Status: contracts.OutcomeStatus(len(ranked), len(failed))}
	for i, id := range ranked {
		res.Rankings = append(res.Rankings, contracts.CJRanking{EssayID: id, Rank: i + 1, Score: float64(len(ranked) - i)})
	}
	return env(t, event.TypeCJAssessmentCompletedV1, res, b)
}

func TestSpellcheckPhaseDispatchesEachEssayOnceAndReportsOutcomeOnce(t *testing.T) {
	f := newFixture(t)
	f.readyBatch("b-1", 3)
	refs := essayRefs(f)
	req := spellcheckRequest(t, "b-1", refs)
	f.deliver(req)
	f.deliver(req) // redelivered
	requests := contractstest.Payloads[contracts.EssaySpellcheckRequestedV1](t, f.bus, contracts.TypeEssaySpellcheckRequestedV1)
	if len(requests) != 3 {
		t.Fatalf("%d per-essay requests, want 3", len(requests))
	}
	for i, r := range requests {
		if r.EssayID != refs[i].EssayID || r.ContentID != refs[i].ContentID || r.Language != "en" {
			t.Errorf("request %d = %+v", i, r)
		}
	}
	for _, e := range f.batch("b-1").Essays {
		if e.State != essaylifecycle.StateSpellchecking {
			t.Errorf("essay %s in %s, want spellchecking", e.EssayID, e.State)
		}
	}

	f.deliver(spellchecked(t, "b-1", refs[0].EssayID, 2, contracts.ResultSuccess))
	f.deliver(spellchecked(t, "b-1", refs[1].EssayID, 0, contracts.ResultSuccess))
	if n := len(f.outcomes()); n != 0 {
		t.Fatalf("outcome published with an essay still spellchecking")
	}
	last := spellchecked(t, "b-1", refs[2].EssayID, 0, contracts.ResultFailed)
	f.deliver(last)
	f.deliver(last)
	f.deliver(spellchecked(t, "b-1", refs[0].EssayID, 2, contracts.ResultSuccess))

	out := f.outcomes()
	if len(out) != 1 {
		t.Fatalf("%d phase outcomes, want 1", len(out))
	}
	o := out[0]
	if o.PhaseName != contracts.PhaseSpellcheck || o.PhaseStatus != contracts.StatusCompletedWithFailures ||
		len(o.ProcessedEssays) != 2 || !slices.Equal(o.FailedEssayIDs, []string{refs[2].EssayID}) {
		t.Fatalf("outcome = %+v", o)
	}
	if o.ProcessedEssays[0].SpellcheckErrorCount != 2 || o.ProcessedEssays[0].ContentID != refs[0].ContentID {
		t.Errorf("processed essay = %+v, want its error count and content id", o.ProcessedEssays[0])
	}
	st := f.batch("b-1")
	if st.Essays[0].State != essaylifecycle.StateSpellchecked || st.Essays[0].Spellcheck.ErrorCount != 2 ||
		len(st.Essays[0].Spellcheck.Corrections) != 2 {
		t.Errorf("essay 0 = %+v", st.Essays[0])
	}
	if st.Essays[2].State != essaylifecycle.StateFailed || st.Essays[2].FailedPhase != contracts.PhaseSpellcheck {
		t.Errorf("essay 2 = %+v", st.Essays[2])
	}
}

func TestSpellcheckDispatchRetriedAfterFailedPublishSendsSameIDs(t *testing.T) {
	f := newFixture(t)
	f.readyBatch("b-1", 3)
	req := spellcheckRequest(t, "b-1", essayRefs(f))
	calls := 0
	f.bus.FailWhen(func(topic string, e *event.Envelope) error {
		if e.EventType == contracts.TypeEssaySpellcheckRequestedV1 {
			if calls++; calls == 2 {
				return errors.New("kafka down")
			}
		}
		return nil
	})
	if err := f.handle(req); err == nil {
		t.Fatal("handler succeeded although a request was not accepted")
	}
	f.bus.FailWhen(nil)
	f.deliver(req)
	envs := f.bus.Envelopes(contracts.TypeEssaySpellcheckRequestedV1)
	ids := map[string]int{}
	for _, e := range envs {
		ids[e.EventID.String()]++
	}
	if len(envs) != 4 || len(ids) != 3 {
		t.Errorf("%d requests with %d distinct ids; want the first essay's request repeated with the same id (4 and 3)", len(envs), len(ids))
	}
}

func TestCJPhaseOutcomeIsPublishedOnceAndRecordsRanks(t *testing.T) {
	f := newFixture(t)
	f.readyBatch("b-1", 3)
	refs := essayRefs(f)
	f.deliver(cjRequest(t, "b-1", refs))
	for _, e := range f.batch("b-1").Essays {
		if e.State != essaylifecycle.StateCJAssessing {
			t.Errorf("essay %s in %s, want cj_assessing", e.EssayID, e.State)
		}
	}
	done := cjCompleted(t, "b-1", []string{refs[2].EssayID, refs[0].EssayID, refs[1].EssayID}, nil)
	f.deliver(done)
	f.deliver(done)
	out := f.outcomes()
	if len(out) != 1 || out[0].PhaseName != contracts.PhaseCJAssessment || out[0].PhaseStatus != contracts.StatusCompletedSuccessfully || len(out[0].ProcessedEssays) != 3 {
		t.Fatalf("outcomes = %+v", out)
	}
	st := f.batch("b-1")
	if st.Essays[2].State != essaylifecycle.StateRanked || st.Essays[2].Rank != 1 || st.Essays[1].Rank != 3 {
		t.Errorf("essays = %+v", st.Essays)
	}
}

func TestCJResultBeforeItsRequestIsRecordedAndNotUndone(t *testing.T) {
	f := newFixture(t)
	f.readyBatch("b-1", 2)
	refs := essayRefs(f)
	f.deliver(cjCompleted(t, "b-1", []string{refs[0].EssayID}, []string{refs[1].EssayID}))
	f.deliver(cjRequest(t, "b-1", refs)) // ELS's copy of the command arrives late
	st := f.batch("b-1")
	if st.Essays[0].State != essaylifecycle.StateRanked || st.Essays[1].State != essaylifecycle.StateFailed {
		t.Errorf("states %s, %s; want ranked, failed", st.Essays[0].State, st.Essays[1].State)
	}
	if out := f.outcomes(); len(out) != 1 || out[0].PhaseStatus != contracts.StatusCompletedWithFailures {
		t.Errorf("outcomes = %+v", out)
	}
}

func TestPhaseEventsForUnknownBatchAreErrors(t *testing.T) {
	f := newFixture(t)
	err := f.handle(spellchecked(t, "nope", "e", 0, contracts.ResultSuccess))
	if !errors.Is(err, essaylifecycle.ErrBatchNotFound) {
		t.Errorf("err = %v, want ErrBatchNotFound", err)
	}
}

func TestGetEssaysShowsStates(t *testing.T) {
	f := newFixture(t)
	f.readyBatch("b-1", 2)
	mux := http.NewServeMux()
	f.svc.Routes(mux)
	for path, want := range map[string]int{"/v1/batches/b-1/essays": 200, "/v1/batches/zz/essays": 404} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s = %d, want %d", path, rec.Code, want)
		}
	}
}

func ExampleService_HandleBatchEssaysRegistered() {
	bus := contractstest.NewBus()
	svc, _ := essaylifecycle.New(essaylifecycle.Deps{Bus: bus})
	ctx := context.Background()
	content, _ := event.NewEnvelope(event.TypeEssayContentProvisionedV1, "file_service",
		contracts.EssayContentProvisionedV1{BatchID: "b-1", FileUploadID: "u-1", FileName: "a.txt", ContentID: "c-1"})
	reg, _ := event.NewEnvelope(event.TypeBatchEssaysRegistered, "batch_orchestrator_service",
		contracts.BatchEssaysRegistered{BatchID: "b-1", ExpectedEssayCount: 1, EssayIDs: []string{"e-1"}, CourseCode: "ENG5"})

	// The content arrives first; ELS keeps it until the registration.
	_ = svc.HandleEssayContentProvisioned(ctx, content)
	fmt.Println(bus.Types())
	_ = svc.HandleBatchEssaysRegistered(ctx, reg)
	fmt.Println(bus.Types())
	st, _ := svc.Batch(ctx, "b-1")
	fmt.Println(st.Essays[0].EssayID, st.Essays[0].State, st.Essays[0].ContentID)
	// Output:
	// []
	// [BatchEssaysReady]
	// e-1 content_ready c-1
}
