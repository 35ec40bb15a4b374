package cjassessment_test

import (
	"context"
	"testing"
	"time"

	"github.com/huleedu/huleedu/resilience/resiliencetest"
	"github.com/huleedu/huleedu/services/cjassessment"
)

func TestStalledBatchHasItsUndecidedPairsSentAgainWithTheSameRequestIDs(t *testing.T) {
	f := newFixture(t, 4)
	clock := resiliencetest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	svc, err := cjassessment.New(cjassessment.Config{ComparisonsPerEssay: 3, ComparisonResendAfter: 10 * time.Minute},
		cjassessment.Deps{Bus: f.bus, Content: f.content, Comparisons: f.llm, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.llm.Hold(true)
	if err := svc.HandleBatchCJAssessmentRequested(context.Background(), cjRequest(t, 4)); err != nil {
		t.Fatal(err)
	}
	pairs := len(f.llm.Requests())
	if err := f.llm.DeliverN(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	for _, e := range f.bus.Envelopes("LLMComparisonResultV1") {
		if err := svc.HandleComparisonOutcome(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(9 * time.Minute)
	if n, err := svc.ResendStalled(context.Background()); err != nil || n != 0 {
		t.Fatalf("ResendStalled before the batch stalled = %d, %v; want nothing sent", n, err)
	}
	before := f.llm.Submits()
	clock.Advance(2 * time.Minute)
	n, err := svc.ResendStalled(context.Background())
	if err != nil || n != pairs-1 || f.llm.Submits()-before != pairs-1 || len(f.llm.Requests()) != pairs {
		t.Fatalf("ResendStalled = %d, %v (%d submits, %d distinct); want the %d undecided pairs sent again under their request ids",
			n, err, f.llm.Submits()-before, len(f.llm.Requests()), pairs-1)
	}
	// Sending again counts as progress: the next round waits again.
	if n, _ := svc.ResendStalled(context.Background()); n != 0 {
		t.Errorf("a second round right after sent %d pairs, want 0", n)
	}
}

func TestResendingRunsInTheBackgroundUntilStop(t *testing.T) {
	f := newFixture(t, 3)
	svc, err := cjassessment.New(cjassessment.Config{ComparisonsPerEssay: 2, ComparisonResendAfter: 20 * time.Millisecond},
		cjassessment.Deps{Bus: f.bus, Content: f.content, Comparisons: f.llm})
	if err != nil {
		t.Fatal(err)
	}
	f.llm.Hold(true)
	if err := svc.HandleBatchCJAssessmentRequested(context.Background(), cjRequest(t, 3)); err != nil {
		t.Fatal(err)
	}
	first := f.llm.Submits()
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stalled batch's pairs sent again", func() bool { return f.llm.Submits() > first })
	if err := svc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
