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

	"go.uber.org/goleak"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/testwait"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/services/cjassessment"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
	"github.com/huleedu/huleedu/services/fileservice/contentclient"
	"github.com/huleedu/huleedu/services/llmprovider/llmclient"
	"github.com/huleedu/huleedu/services/llmprovider/llmtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 10*time.Second, what, cond)
}

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

type fixture struct {
	svc     *cjassessment.Service
	bus     *contractstest.Bus
	router  *contractstest.Router
	llm     *llmtest.Comparer
	content *texts
}

// essayText returns an essay whose local score grows with quality.
func essayText(quality int) string {
	words := []string{"forests", "regulate", "climate", "shelter", "wildlife", "inspire", "poets",
		"rivers", "carve", "valleys", "mountains", "gather", "clouds", "oceans", "feed", "storms"}
	return strings.Join(words[:4+quality], " ")
}

func newFixture(t *testing.T, n int) *fixture {
	return newFixtureWith(t, n, cjassessment.Config{ComparisonsPerEssay: 4})
}

// newFixtureWith runs CJ Assessment on a router, with an in-process LLM
// Provider that judges with the local judge.
func newFixtureWith(t *testing.T, n int, cfg cjassessment.Config) *fixture {
	t.Helper()
	f := &fixture{bus: contractstest.NewBus(), content: &texts{m: map[string]string{}}}
	f.router = contractstest.NewRouter(f.bus)
	f.llm = llmtest.NewComparer(f.bus)
	for i := range n {
		f.content.m[fmt.Sprintf("c-%d", i)] = essayText(i)
	}
	var err error
	f.svc, err = cjassessment.New(cfg, cjassessment.Deps{Bus: f.bus, Content: f.content, Comparisons: f.llm})
	if err != nil {
		t.Fatal(err)
	}
	f.router.Subscribe(cjassessment.ServiceName, f.svc.Handlers())
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

// request publishes the assessment request and runs the router until
// nothing is left to deliver.
func (f *fixture) request(t *testing.T, env *event.Envelope) error {
	t.Helper()
	if err := f.bus.Publish(context.Background(), event.TopicBatchCJAssessmentRequested, "b-1", env); err != nil {
		t.Fatal(err)
	}
	_, err := f.router.Run(context.Background())
	return err
}

func (f *fixture) run(t *testing.T) {
	t.Helper()
	if _, err := f.router.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func completed(t *testing.T, bus *contractstest.Bus) []contracts.CJAssessmentCompletedV1 {
	return contractstest.Payloads[contracts.CJAssessmentCompletedV1](t, bus, event.TypeCJAssessmentCompletedV1)
}

func TestBatchIsRankedFromTheLLMProvidersVerdicts(t *testing.T) {
	// Six essays, each compared with all five others: with a consistent
	// judge the ranking must follow its verdicts exactly.
	f := newFixtureWith(t, 6, cjassessment.Config{ComparisonsPerEssay: 5})
	if err := f.request(t, cjRequest(t, 6)); err != nil {
		t.Fatal(err)
	}
	res := completed(t, f.bus)
	if len(res) != 1 {
		t.Fatalf("%d results", len(res))
	}
	r := res[0]
	if r.Status != contracts.StatusCompletedSuccessfully || len(r.Rankings) != 6 || r.Judge != "local" || r.ComparisonCount != 15 {
		t.Fatalf("result = %+v", r)
	}
	for i, rk := range r.Rankings {
		if want := fmt.Sprintf("e-%d", 5-i); rk.EssayID != want || rk.Rank != i+1 {
			t.Errorf("ranking %d = %+v, want %s at rank %d", i, rk, want, i+1)
		}
	}
	env := f.bus.Envelopes(event.TypeCJAssessmentCompletedV1)[0]
	if env.CorrelationID != "corr-1" || env.EventID.String() != contracts.EventID(event.TypeCJAssessmentCompletedV1, "b-1") {
		t.Errorf("envelope correlation %q id %s", env.CorrelationID, env.EventID)
	}
	reqs := f.llm.Requests()
	if len(reqs) != 15 {
		t.Fatalf("%d comparisons sent, want 15", len(reqs))
	}
	q := reqs[0]
	if q.CallbackTopic != contracts.TopicLLMComparisonResultV1 || q.CorrelationID != "corr-1" || q.EssayA.Text == "" ||
		q.RequestID != cjassessment.RequestID("b-1", cjassessment.Pair{A: q.EssayA.ID, B: q.EssayB.ID}, 1) {
		t.Errorf("request %+v", q)
	}
}

func TestLLMProviderOutageTripsTheBreakerAndFailsTheHandlerFast(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "upstream down", http.StatusBadGateway)
	}))
	defer srv.Close()
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "cj_assessment_service.llm_provider_service",
		FailureThreshold: 3, RecoveryTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	client, _ := llmclient.New(&http.Client{Transport: resilience.NewTransport(cb, srv.Client().Transport)}, srv.URL)
	f := newFixture(t, 6)
	svc, err := cjassessment.New(cjassessment.Config{}, cjassessment.Deps{Bus: f.bus, Content: f.content, Comparisons: client})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := svc.HandleBatchCJAssessmentRequested(context.Background(), cjRequest(t, 6)); err == nil {
			t.Fatal("handler succeeded with the LLM Provider down")
		}
	}
	err = svc.HandleBatchCJAssessmentRequested(context.Background(), cjRequest(t, 6))
	if !errors.Is(err, resilience.ErrCircuitOpen) || cb.State() != resilience.StateOpen {
		t.Fatalf("err = %v, breaker %v; want ErrCircuitOpen from the open breaker", err, cb.State())
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("the LLM Provider was called %d times, want 3: the open breaker must not call it", n)
	}
	if n := len(f.bus.All()); n != 0 {
		t.Errorf("%d events published while the LLM Provider was down", n)
	}
}

func TestRetriedRequestSendsOnlyTheUndecidedPairs(t *testing.T) {
	f := newFixture(t, 6)
	f.llm.Hold(true)
	env := cjRequest(t, 6)
	if err := f.request(t, env); err != nil {
		t.Fatal(err)
	}
	pairs := len(f.llm.Requests())
	// Five verdicts arrive, then the request is delivered again (the
	// consumer retried it, or a crash made it come back).
	if err := f.llm.DeliverN(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	before := f.llm.Submits()
	if err := f.svc.HandleBatchCJAssessmentRequested(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if n := f.llm.Submits() - before; n != pairs-5 || len(f.llm.Requests()) != pairs {
		t.Errorf("the retry sent %d comparisons (%d distinct in all); want the %d undecided ones, with the same request ids",
			n, len(f.llm.Requests()), pairs-5)
	}
	if err := f.llm.Deliver(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	if res := completed(t, f.bus); len(res) != 1 || res[0].ComparisonCount != pairs {
		t.Errorf("results %+v, want one with all %d comparisons", res, pairs)
	}
}

func TestRedeliveredRequestRepublishesStoredResultWithoutComparing(t *testing.T) {
	f := newFixture(t, 5)
	env := cjRequest(t, 5)
	if err := f.request(t, env); err != nil {
		t.Fatal(err)
	}
	submits := f.llm.Submits()
	if err := f.svc.HandleBatchCJAssessmentRequested(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if f.llm.Submits() != submits {
		t.Error("redelivery sent comparisons again")
	}
	envs := f.bus.Envelopes(event.TypeCJAssessmentCompletedV1)
	if len(envs) != 2 || envs[0].EventID != envs[1].EventID || string(envs[0].Data) != string(envs[1].Data) {
		t.Errorf("redelivery published %d results; want the same event (id and data) again", len(envs))
	}
}

func TestEachPairIsJudgedOnceWhateverTheDuplicates(t *testing.T) {
	f := newFixture(t, 6)
	f.router.Duplicates = 2
	if err := f.request(t, cjRequest(t, 6)); err != nil {
		t.Fatal(err)
	}
	res := completed(t, f.bus)
	ids := map[string]bool{}
	for _, e := range f.bus.Envelopes(event.TypeCJAssessmentCompletedV1) {
		ids[e.EventID.String()] = true
	}
	if len(ids) != 1 || res[0].ComparisonCount != len(f.llm.Requests()) {
		t.Errorf("%d distinct completions with %d comparisons; want 1 with one per pair (%d)", len(ids), res[0].ComparisonCount, len(f.llm.Requests()))
	}
	// A verdict of a second attempt at a decided pair changes nothing.
	first := res[0]
	r := f.llm.Requests()[0]
	late := contracts.LLMComparisonResultV1{RequestID: r.RequestID, EssayAID: r.EssayA.ID, EssayBID: r.EssayB.ID,
		WinnerID: r.EssayB.ID, Provider: "anthropic", Metadata: r.Metadata}
	env, _ := event.NewEnvelope(contracts.TypeLLMComparisonResultV1, "llm_provider_service", late)
	if err := f.svc.HandleComparisonOutcome(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if got := completed(t, f.bus); len(got) != len(res) || fmt.Sprint(got[len(got)-1].Rankings) != fmt.Sprint(first.Rankings) {
		t.Errorf("a late second verdict changed the result")
	}
}

func TestExpiredComparisonsAreSentAgainThenGivenUp(t *testing.T) {
	f := newFixtureWith(t, 3, cjassessment.Config{ComparisonsPerEssay: 2, ComparisonMaxAttempts: 2})
	f.llm.Hold(true)
	if err := f.request(t, cjRequest(t, 3)); err != nil {
		t.Fatal(err)
	}
	first := len(f.llm.Requests())
	if err := f.llm.Fail(context.Background(), contracts.LLMFailureExpired, "no provider in the TTL"); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	if got := len(f.llm.Requests()); got != 2*first {
		t.Fatalf("%d distinct requests after one round of expiries, want %d (each pair as attempt 2)", got, 2*first)
	}
	if len(completed(t, f.bus)) != 0 {
		t.Fatal("completed while attempts were left")
	}
	if err := f.llm.Fail(context.Background(), contracts.LLMFailureExpired, "still nothing"); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	res := completed(t, f.bus)
	if len(res) != 1 || res[0].ComparisonCount != 0 || len(res[0].Rankings) != 3 || len(f.llm.Requests()) != 2*first {
		t.Fatalf("results %+v after %d requests: want the batch ranked without the given-up pairs, and no third attempt", res, len(f.llm.Requests()))
	}
}

func TestRejectedComparisonIsGivenUpAtOnce(t *testing.T) {
	f := newFixture(t, 3)
	f.llm.Hold(true)
	if err := f.request(t, cjRequest(t, 3)); err != nil {
		t.Fatal(err)
	}
	n := len(f.llm.Requests())
	if err := f.llm.Fail(context.Background(), contracts.LLMFailureRejected, "anthropic answered 400"); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	if res := completed(t, f.bus); len(res) != 1 || res[0].ComparisonCount != 0 || len(f.llm.Requests()) != n {
		t.Errorf("results %+v, %d requests: want the batch completed without resending", res, len(f.llm.Requests()))
	}
}

func TestInvalidVerdictIsSentAgain(t *testing.T) {
	f := newFixture(t, 3)
	var bad atomic.Bool
	bad.Store(true)
	f.llm.JudgeWith(func(a, b contracts.LLMEssay) string {
		if bad.Swap(false) {
			return "someone-else"
		}
		return a.ID
	})
	if err := f.request(t, cjRequest(t, 3)); err != nil {
		t.Fatal(err)
	}
	res := completed(t, f.bus)
	if len(res) != 1 || res[0].ComparisonCount != 3 || len(f.llm.Requests()) != 4 {
		t.Errorf("results %+v after %d requests: want every pair judged, one of them twice asked", res, len(f.llm.Requests()))
	}
}

func TestQueueFullFailureAndOtherRequestersOutcomesAreIgnored(t *testing.T) {
	f := newFixture(t, 3)
	f.llm.Hold(true)
	if err := f.request(t, cjRequest(t, 3)); err != nil {
		t.Fatal(err)
	}
	r := f.llm.Requests()[0]
	for _, env := range []*event.Envelope{
		mustEnvelope(t, contracts.TypeLLMComparisonFailedV1, contracts.LLMComparisonFailedV1{RequestID: r.RequestID,
			EssayAID: r.EssayA.ID, EssayBID: r.EssayB.ID, Reason: contracts.LLMFailureQueueFull, Metadata: r.Metadata}),
		mustEnvelope(t, contracts.TypeLLMComparisonResultV1, contracts.LLMComparisonResultV1{RequestID: "someone-elses",
			EssayAID: "x", EssayBID: "y", WinnerID: "x", Metadata: map[string]string{"cj_batch_id": "unknown"}}),
		mustEnvelope(t, contracts.TypeLLMComparisonResultV1, contracts.LLMComparisonResultV1{RequestID: "forged",
			EssayAID: r.EssayA.ID, EssayBID: r.EssayB.ID, WinnerID: r.EssayA.ID, Metadata: r.Metadata}),
	} {
		if err := f.svc.HandleComparisonOutcome(context.Background(), env); err != nil {
			t.Fatal(err)
		}
	}
	f.llm.Hold(false)
	if err := f.llm.Deliver(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.run(t)
	if res := completed(t, f.bus); len(res) != 1 || res[0].ComparisonCount != 3 || len(f.llm.Requests()) != 3 {
		t.Errorf("results %+v: the ignored events must not decide or resend a pair", res)
	}
}

func mustEnvelope(t *testing.T, typ string, data any) *event.Envelope {
	t.Helper()
	env, err := event.NewEnvelope(typ, "llm_provider_service", data)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestEssayWithoutTextIsReportedFailed(t *testing.T) {
	f := newFixture(t, 3)
	if err := f.request(t, cjRequest(t, 3, contracts.EssayProcessingInputRefV1{EssayID: "e-gone", ContentID: "c-gone"})); err != nil {
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
	if len(f.bus.All()) != 0 || f.llm.Submits() != 0 {
		t.Error("published or compared without content")
	}
}

func TestSingleEssayIsRankedFirstWithoutComparisons(t *testing.T) {
	f := newFixture(t, 1)
	if err := f.request(t, cjRequest(t, 1)); err != nil {
		t.Fatal(err)
	}
	r := completed(t, f.bus)[0]
	if len(r.Rankings) != 1 || r.Rankings[0].Rank != 1 || r.ComparisonCount != 0 || f.llm.Submits() != 0 {
		t.Errorf("result = %+v, comparisons sent %d", r, f.llm.Submits())
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
	if err := f.request(t, cjRequest(t, 3)); err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/assessments/b-1", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"comparisons"`) {
		t.Errorf("status %d body %s", rec.Code, rec.Body)
	}
}

func TestNewRequiresDependenciesAndValidConfig(t *testing.T) {
	bus := contractstest.NewBus()
	llm := llmtest.NewComparer(bus)
	tests := map[string]cjassessment.Deps{
		"no bus":         {Content: &texts{}, Comparisons: llm},
		"no content":     {Bus: bus, Comparisons: llm},
		"no comparisons": {Bus: bus, Content: &texts{}},
	}
	for name, deps := range tests {
		if _, err := cjassessment.New(cjassessment.Config{}, deps); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	for cfg, want := range map[cjassessment.Config]string{
		{ComparisonsPerEssay: -1}:      "ComparisonsPerEssay = -1",
		{ComparisonProvider: "gemini"}: `ComparisonProvider = "gemini"`,
		{ComparisonMaxAttempts: 101}:   "ComparisonMaxAttempts = 101",
	} {
		if _, err := cjassessment.New(cfg, cjassessment.Deps{Bus: bus, Content: &texts{}, Comparisons: llm}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad config %+v: %v", cfg, err)
		}
	}
}
