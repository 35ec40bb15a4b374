package batchorchestrator_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/batchorchestrator"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
)

// phaseRequests counts the phase commands and completions published.
func phaseRequests(bus *contractstest.Bus) (spellcheck, cj, completed int) {
	return bus.Count(event.TypeBatchSpellcheckRequested), bus.Count(event.TypeBatchCJAssessmentRequested),
		bus.Count(event.TypeBatchPipelineCompletedV1)
}

func TestFullPipelineRequestsEachPhaseOnceDespiteDuplicates(t *testing.T) {
	f := newFixture(t)
	ids := f.register("b-1", 3, "full")
	essays := refs(ids)

	r := ready(t, "b-1", essays)
	f.deliver(r)
	f.deliver(r)
	if s, c, d := phaseRequests(f.bus); s != 1 || c != 0 || d != 0 {
		t.Fatalf("after BatchEssaysReady x2: %d spellcheck, %d cj, %d completed requests; want 1 0 0", s, c, d)
	}
	sc := contractstest.Payloads[contracts.BatchSpellcheckRequested](t, f.bus, event.TypeBatchSpellcheckRequested)[0]
	if !slices.Equal(sc.Essays, essays) || sc.Language != "en" {
		t.Errorf("spellcheck request = %+v", sc)
	}

	// An outcome for a phase not in progress is stale.
	f.deliver(outcome(t, "b-1", contracts.PhaseCJAssessment, essays))
	if _, c, d := phaseRequests(f.bus); c != 0 || d != 0 {
		t.Fatal("a stale CJ outcome advanced the pipeline")
	}

	checked := slices.Clone(essays)
	checked[0].SpellcheckErrorCount = 4
	o := outcome(t, "b-1", contracts.PhaseSpellcheck, checked)
	f.deliver(o)
	f.deliver(o)
	f.deliver(r)
	if s, c, d := phaseRequests(f.bus); s != 1 || c != 1 || d != 0 {
		t.Fatalf("after spellcheck outcome x2: %d %d %d; want 1 1 0", s, c, d)
	}
	cj := contractstest.Payloads[contracts.BatchCJAssessmentRequested](t, f.bus, event.TypeBatchCJAssessmentRequested)[0]
	if !slices.Equal(cj.Essays, checked) || cj.CourseCode != "ENG5" {
		t.Errorf("CJ request = %+v, want the spellchecked essays with their error counts", cj)
	}

	done := outcome(t, "b-1", contracts.PhaseCJAssessment, checked)
	f.deliver(done)
	f.deliver(done)
	f.deliver(o)
	if s, c, d := phaseRequests(f.bus); s != 1 || c != 1 || d != 1 {
		t.Fatalf("after CJ outcome x2: %d %d %d; want 1 1 1", s, c, d)
	}
	completed := contractstest.Payloads[contracts.BatchPipelineCompletedV1](t, f.bus, event.TypeBatchPipelineCompletedV1)[0]
	if completed.BatchID != "b-1" || completed.FinalStatus != contracts.StatusCompletedSuccessfully ||
		!slices.Equal(completed.CompletedPhases, []string{"spellcheck", "cj_assessment"}) ||
		completed.SuccessfulEssayCount != 3 || completed.FailedEssayCount != 0 || completed.CompletedAt.IsZero() {
		t.Errorf("completion = %+v", completed)
	}
	b := f.batch("b-1")
	if b.Status != batchorchestrator.StatusCompletedSuccessfully || len(b.PhaseResults) != 2 || b.CurrentPhase != "" {
		t.Errorf("batch = %+v", b)
	}

	// Every command carries the deterministic id of (batch, phase).
	wantID := contracts.EventID(event.TypeBatchSpellcheckRequested, "b-1", contracts.PhaseSpellcheck)
	if got := f.bus.Envelopes(event.TypeBatchSpellcheckRequested)[0].EventID.String(); got != wantID {
		t.Errorf("spellcheck command id %s, want %s", got, wantID)
	}
}

func TestFailedEssaysDropOutAndAreCounted(t *testing.T) {
	f := newFixture(t)
	ids := f.register("b-1", 4, "full")
	f.deliver(ready(t, "b-1", refs(ids[:3]), ids[3]))                              // one upload failed
	f.deliver(outcome(t, "b-1", contracts.PhaseSpellcheck, refs(ids[:2]), ids[2])) // one spellcheck failed
	cj := contractstest.Payloads[contracts.BatchCJAssessmentRequested](t, f.bus, event.TypeBatchCJAssessmentRequested)[0]
	if len(cj.Essays) != 2 {
		t.Fatalf("CJ asked for %d essays, want the 2 that came through", len(cj.Essays))
	}
	f.deliver(outcome(t, "b-1", contracts.PhaseCJAssessment, refs(ids[:2])))
	c := contractstest.Payloads[contracts.BatchPipelineCompletedV1](t, f.bus, event.TypeBatchPipelineCompletedV1)[0]
	if c.FinalStatus != contracts.StatusCompletedWithFailures || c.SuccessfulEssayCount != 2 || c.FailedEssayCount != 2 {
		t.Errorf("completion = %+v", c)
	}
	if b := f.batch("b-1"); b.Status != batchorchestrator.StatusCompletedWithFailures || len(b.FailedEssayIDs) != 2 {
		t.Errorf("batch = %+v", b)
	}
}

func TestPipelineEndsWhenNoEssayIsLeft(t *testing.T) {
	tests := []struct {
		name     string
		drive    func(f *fixture, ids []string)
		phases   []string
		requests int // phase commands published
	}{
		{"every upload failed", func(f *fixture, ids []string) {
			f.deliver(ready(f.t, "b-1", nil, ids...))
		}, []string{}, 0},
		{"spellcheck failed every essay", func(f *fixture, ids []string) {
			f.deliver(ready(f.t, "b-1", refs(ids)))
			f.deliver(outcome(f.t, "b-1", contracts.PhaseSpellcheck, nil, ids...))
		}, []string{"spellcheck"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ids := f.register("b-1", 2, "full")
			tt.drive(f, ids)
			s, c, d := phaseRequests(f.bus)
			if s+c != tt.requests || d != 1 {
				t.Fatalf("%d phase commands and %d completions; want %d and 1", s+c, d, tt.requests)
			}
			comp := contractstest.Payloads[contracts.BatchPipelineCompletedV1](t, f.bus, event.TypeBatchPipelineCompletedV1)[0]
			if comp.FinalStatus != contracts.StatusFailedCritically || !slices.Equal(comp.CompletedPhases, tt.phases) {
				t.Errorf("completion = %+v", comp)
			}
		})
	}
}

func TestSpellcheckOnlyPipelineCompletesAfterOnePhase(t *testing.T) {
	f := newFixture(t)
	ids := f.register("b-1", 2, "spellcheck")
	f.deliver(ready(t, "b-1", refs(ids)))
	f.deliver(outcome(t, "b-1", contracts.PhaseSpellcheck, refs(ids)))
	if s, c, d := phaseRequests(f.bus); s != 1 || c != 0 || d != 1 {
		t.Errorf("%d %d %d; want 1 spellcheck, no CJ, 1 completion", s, c, d)
	}
}

func TestPhaseCommandNotAcceptedLeavesBatchForRetry(t *testing.T) {
	f := newFixture(t)
	ids := f.register("b-1", 2, "full")
	r := ready(t, "b-1", refs(ids))
	f.bus.FailNext(1, errors.New("kafka down"))
	if err := f.handle(r); err == nil {
		t.Fatal("handler succeeded although the command was not accepted")
	}
	if b := f.batch("b-1"); b.Status != batchorchestrator.StatusAwaitingContent {
		t.Fatalf("status %s after a failed publish; the batch must stay as it was", b.Status)
	}
	f.deliver(r)
	if s, _, _ := phaseRequests(f.bus); s != 1 {
		t.Errorf("%d spellcheck commands after the retry, want 1", s)
	}
}

func TestEventsForUnknownBatchAreErrors(t *testing.T) {
	f := newFixture(t)
	if err := f.handle(ready(t, "nope", nil)); !errors.Is(err, batchorchestrator.ErrBatchNotFound) {
		t.Errorf("err = %v, want ErrBatchNotFound", err)
	}
	bad := env(t, contracts.TypeELSBatchPhaseOutcomeV1, map[string]string{"batch_id": "b"}, "x")
	if err := f.handle(bad); !errors.Is(err, event.ErrInvalidEnvelope) {
		t.Errorf("outcome without phase: %v, want ErrInvalidEnvelope", err)
	}
}
