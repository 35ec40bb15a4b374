package cjassessment_test

import (
	"context"
	"testing"
	"time"

	"github.com/huleedu/huleedu/resilience/resiliencetest"
	"github.com/huleedu/huleedu/services/cjassessment"
	"github.com/huleedu/huleedu/services/llmprovider/llmclient"
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

func newClockedService(t *testing.T, f *fixture, cfg cjassessment.Config) (*cjassessment.Service, *resiliencetest.Clock) {
	t.Helper()
	clock := resiliencetest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	svc, err := cjassessment.New(cfg, cjassessment.Deps{Bus: f.bus, Content: f.content, Comparisons: f.llm, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return svc, clock
}

func TestLostExpiryIsTakenOnWhenTheStalledBatchIsSentAgain(t *testing.T) {
	f := newFixture(t, 3)
	svc, clock := newClockedService(t, f, cjassessment.Config{ComparisonsPerEssay: 2})
	f.llm.Hold(true)
	if err := svc.HandleBatchCJAssessmentRequested(context.Background(), cjRequest(t, 3)); err != nil {
		t.Fatal(err)
	}
	pairs := len(f.llm.Requests())
	// The LLM Provider expires every comparison, but the failure events
	// never reach this service.
	if err := f.llm.Fail(context.Background(), "expired", "no provider in the TTL"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(11 * time.Minute)
	if _, err := svc.ResendStalled(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(f.llm.Requests()); got != 2*pairs {
		t.Errorf("%d distinct requests, want %d: each expired attempt answered by its next", got, 2*pairs)
	}
}

func TestFullLLMQueueLeavesTheBatchToTheResender(t *testing.T) {
	f := newFixture(t, 3)
	svc, clock := newClockedService(t, f, cjassessment.Config{ComparisonsPerEssay: 2})
	f.llm.FailSubmits(&llmclient.QueueFullError{RequestID: "r", RetryAfter: 30 * time.Second})
	if err := svc.HandleBatchCJAssessmentRequested(context.Background(), cjRequest(t, 3)); err != nil {
		t.Fatalf("handler = %v; a full queue must not fail it (the resender sends later)", err)
	}
	f.llm.FailSubmits(nil)
	clock.Advance(29 * time.Second)
	if n, _ := svc.ResendStalled(context.Background()); n != 0 {
		t.Errorf("resent %d pairs before the queue's retry-after", n)
	}
	clock.Advance(2 * time.Second)
	if n, err := svc.ResendStalled(context.Background()); err != nil || n != 3 {
		t.Errorf("ResendStalled after the retry-after = %d, %v; want the 3 pairs sent", n, err)
	}
}
