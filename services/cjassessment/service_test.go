package cjassessment_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/resilience/resiliencetest"
	"github.com/huleedu/huleedu/services/cjassessment"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
	"github.com/huleedu/huleedu/services/fileservice/contentclient"
)

// texts is a ContentFetcher over a map; content ids missing from it are
// not found, and down makes every fetch fail as a transport error would.
type texts struct {
	m    map[string]string
	down atomic.Bool
}

func (f *texts) Fetch(_ context.Context, id string) (string, error) {
	if f.down.Load() {
		return "", errors.New("connection refused")
	}
	t, ok := f.m[id]
	if !ok {
		return "", fmt.Errorf("%w: %s", contentclient.ErrNotFound, id)
	}
	return t, nil
}

// countingJudge is LocalJudge that counts its calls, and fails while
// failing is set or once it has answered failAfter times (0 = never).
type countingJudge struct {
	calls     atomic.Int32
	failing   atomic.Bool
	failAfter atomic.Int32
	verdict   func(a, b cjassessment.Essay) string // nil = LocalJudge
}

func (j *countingJudge) Compare(ctx context.Context, a, b cjassessment.Essay) (string, error) {
	n := j.calls.Add(1)
	if limit := j.failAfter.Load(); j.failing.Load() || (limit > 0 && n > limit) {
		return "", errors.New("judge: model overloaded")
	}
	if j.verdict != nil {
		return j.verdict(a, b), nil
	}
	return cjassessment.LocalJudge{}.Compare(ctx, a, b)
}

type fixture struct {
	svc     *cjassessment.Service
	bus     *contractstest.Bus
	judge   *countingJudge
	breaker *resilience.CircuitBreaker
	clock   *resiliencetest.Clock
	content *texts
}

// essayText returns an essay whose LocalScore grows with quality.
func essayText(quality int) string {
	words := []string{"forests", "regulate", "climate", "shelter", "wildlife", "inspire", "poets",
		"rivers", "carve", "valleys", "mountains", "gather", "clouds", "oceans", "feed", "storms"}
	return strings.Join(words[:4+quality], " ")
}

func newFixture(t *testing.T, n int) *fixture { return newFixtureK(t, n, 4) }

// newFixtureK compares each essay with perEssay others.
func newFixtureK(t *testing.T, n, perEssay int) *fixture {
	t.Helper()
	f := &fixture{bus: contractstest.NewBus(), judge: &countingJudge{}, content: &texts{m: map[string]string{}},
		clock: resiliencetest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))}
	for i := range n {
		f.content.m[fmt.Sprintf("c-%d", i)] = essayText(i)
	}
	var err error
	f.breaker, err = resilience.NewCircuitBreaker(resilience.Settings{Name: "cj_assessment_service.judge",
		FailureThreshold: 3, RecoveryTimeout: 30 * time.Second, SuccessThreshold: 1, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	f.svc, err = cjassessment.New(cjassessment.Config{ComparisonsPerEssay: perEssay},
		cjassessment.Deps{Bus: f.bus, Content: f.content, Judge: f.judge, JudgeBreaker: f.breaker})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func cjRequest(t *testing.T, n int, extra ...contracts.EssayProcessingInputRefV1) *event.Envelope {
	t.Helper()
	req := contracts.BatchCJAssessmentRequested{BatchID: "b-1", CourseCode: "ENG5", Language: "en"}
	for i := range n {
		req.Essays = append(req.Essays, contracts.EssayProcessingInputRefV1{EssayID: fmt.Sprintf("e-%d", i), ContentID: fmt.Sprintf("c-%d", i)})
	}
	req.Essays = append(req.Essays, extra...)
	env, err := event.NewEnvelope(event.TypeBatchCJAssessmentRequested, "batch_orchestrator_service", req, event.WithCorrelationID("corr-1"))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func completed(t *testing.T, bus *contractstest.Bus) []contracts.CJAssessmentCompletedV1 {
	return contractstest.Payloads[contracts.CJAssessmentCompletedV1](t, bus, event.TypeCJAssessmentCompletedV1)
}

func TestHandlerRanksEssaysAndPublishesResult(t *testing.T) {
	// Six essays, each compared with all five others: with a consistent
	// judge the ranking must follow its verdicts exactly.
	f := newFixtureK(t, 6, 5)
	if err := f.svc.HandleBatchCJAssessmentRequested(context.Background(), cjRequest(t, 6)); err != nil {
		t.Fatal(err)
	}
	res := completed(t, f.bus)
	if len(res) != 1 {
		t.Fatalf("%d results", len(res))
	}
	r := res[0]
	if r.Status != contracts.StatusCompletedSuccessfully || len(r.Rankings) != 6 || r.Judge != "custom" || r.ComparisonCount != 15 {
		t.Fatalf("result = %+v", r)
	}
	// essayText(i) gets better with i, and LocalJudge sees it.
	for i, rk := range r.Rankings {
		if want := fmt.Sprintf("e-%d", 5-i); rk.EssayID != want || rk.Rank != i+1 {
			t.Errorf("ranking %d = %+v, want %s at rank %d", i, rk, want, i+1)
		}
		if i > 0 && rk.Score >= r.Rankings[i-1].Score {
			t.Errorf("ranking %d has score %v >= the one above", i, rk.Score)
		}
	}
	env := f.bus.Envelopes(event.TypeCJAssessmentCompletedV1)[0]
	if env.CorrelationID != "corr-1" || env.EventID.String() != contracts.EventID(event.TypeCJAssessmentCompletedV1, "b-1") {
		t.Errorf("envelope correlation %q id %s", env.CorrelationID, env.EventID)
	}
}

func TestJudgeFailuresTripTheBreaker(t *testing.T) {
	f := newFixture(t, 6)
	f.judge.failing.Store(true)
	for range 3 {
		if err := f.svc.HandleBatchCJAssessmentRequested(context.Background(), cjRequest(t, 6)); err == nil {
			t.Fatal("handler succeeded with a failing judge")
		}
	}
	if f.breaker.State() != resilience.StateOpen {
		t.Fatalf("breaker %v after 3 judge failures, want open", f.breaker.State())
	}
	err := f.svc.HandleBatchCJAssessmentRequested(context.Background(), cjRequest(t, 6))
	if !errors.Is(err, resilience.ErrCircuitOpen) {
		t.Fatalf("err = %v, want ErrCircuitOpen", err)
	}
	if n := f.judge.calls.Load(); n != 3 {
		t.Errorf("judge called %d times, want 3: the open breaker must not call it", n)
	}
	if n := len(f.bus.All()); n != 0 {
		t.Errorf("%d events published while the judge was down", n)
	}
}

func TestRetryAfterJudgeRecoveryKeepsEarlierVerdicts(t *testing.T) {
	f := newFixture(t, 6)
	pairs := int32(len(cjassessment.Pairs("b-1", []string{"e-0", "e-1", "e-2", "e-3", "e-4", "e-5"}, 4)))
	f.judge.failAfter.Store(5) // the judge falls over after five verdicts
	if err := f.svc.HandleBatchCJAssessmentRequested(context.Background(), cjRequest(t, 6)); err == nil {
		t.Fatal("handler succeeded although the judge failed")
	}
	before := f.judge.calls.Load()
	f.judge.failAfter.Store(0)
	if err := f.svc.HandleBatchCJAssessmentRequested(context.Background(), cjRequest(t, 6)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	retried := f.judge.calls.Load() - before
	if retried != pairs-5 {
		t.Errorf("retry asked the judge %d times, want %d (the %d pairs minus the 5 judged before)", retried, pairs-5, pairs)
	}
}

func TestRedeliveredRequestRepublishesStoredResultWithoutJudging(t *testing.T) {
	f := newFixture(t, 5)
	env := cjRequest(t, 5)
	if err := f.svc.HandleBatchCJAssessmentRequested(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	calls := f.judge.calls.Load()
	if err := f.svc.HandleBatchCJAssessmentRequested(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if f.judge.calls.Load() != calls {
		t.Error("redelivery asked the judge again")
	}
	envs := f.bus.Envelopes(event.TypeCJAssessmentCompletedV1)
	if len(envs) != 2 || envs[0].EventID != envs[1].EventID || string(envs[0].Data) != string(envs[1].Data) {
		t.Errorf("redelivery published %d results; want the same event (id and data) again", len(envs))
	}
}

func TestEssayWithoutTextIsReportedFailed(t *testing.T) {
	f := newFixture(t, 3)
	env := cjRequest(t, 3, contracts.EssayProcessingInputRefV1{EssayID: "e-gone", ContentID: "c-gone"})
	if err := f.svc.HandleBatchCJAssessmentRequested(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	r := completed(t, f.bus)[0]
	if r.Status != contracts.StatusCompletedWithFailures || len(r.Rankings) != 3 || len(r.FailedEssayIDs) != 1 || r.FailedEssayIDs[0] != "e-gone" {
		t.Errorf("result = %+v", r)
	}
}

func TestContentOutageReturnsErrorForRetry(t *testing.T) {
	f := newFixture(t, 3)
	f.content.down.Store(true)
	if err := f.svc.HandleBatchCJAssessmentRequested(context.Background(), cjRequest(t, 3)); err == nil {
		t.Fatal("handler succeeded without content")
	}
	if len(f.bus.All()) != 0 {
		t.Error("published without content")
	}
}

func TestInvalidVerdictCountsAsJudgeFailure(t *testing.T) {
	f := newFixture(t, 3)
	f.judge.verdict = func(a, b cjassessment.Essay) string { return "someone-else" }
	err := f.svc.HandleBatchCJAssessmentRequested(context.Background(), cjRequest(t, 3))
	if !errors.Is(err, cjassessment.ErrInvalidVerdict) {
		t.Fatalf("err = %v, want ErrInvalidVerdict", err)
	}
	if got := f.breaker.Snapshot().Totals.Failures; got != 1 {
		t.Errorf("breaker counted %d failures, want 1", got)
	}
}

func TestSingleEssayIsRankedFirstWithoutComparisons(t *testing.T) {
	f := newFixture(t, 1)
	if err := f.svc.HandleBatchCJAssessmentRequested(context.Background(), cjRequest(t, 1)); err != nil {
		t.Fatal(err)
	}
	r := completed(t, f.bus)[0]
	if len(r.Rankings) != 1 || r.Rankings[0].Rank != 1 || r.ComparisonCount != 0 || f.judge.calls.Load() != 0 {
		t.Errorf("result = %+v, judge calls %d", r, f.judge.calls.Load())
	}
}

func TestGetAssessmentServesStoredResult(t *testing.T) {
	f := newFixture(t, 3)
	mux := http.NewServeMux()
	f.svc.Routes(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/assessments/b-1", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("before assessment: status %d", rec.Code)
	}
	if err := f.svc.HandleBatchCJAssessmentRequested(context.Background(), cjRequest(t, 3)); err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/assessments/b-1", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"comparisons"`) {
		t.Errorf("status %d body %s", rec.Code, rec.Body)
	}
}

func TestNewRequiresBreakerAndDependencies(t *testing.T) {
	cb, _ := resilience.NewCircuitBreaker(resilience.Settings{Name: "j"})
	bus := contractstest.NewBus()
	tests := map[string]cjassessment.Deps{
		"no bus":     {Content: &texts{}, JudgeBreaker: cb},
		"no content": {Bus: bus, JudgeBreaker: cb},
		"no breaker": {Bus: bus, Content: &texts{}},
	}
	for name, deps := range tests {
		if _, err := cjassessment.New(cjassessment.Config{}, deps); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := cjassessment.New(cjassessment.Config{ComparisonsPerEssay: -1}, cjassessment.Deps{Bus: bus, Content: &texts{}, JudgeBreaker: cb}); err == nil ||
		!strings.Contains(err.Error(), "ComparisonsPerEssay = -1") {
		t.Errorf("bad config: %v", err)
	}
}
