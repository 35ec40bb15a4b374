package cjassessment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/fileservice/contentclient"
	"github.com/huleedu/huleedu/services/llmprovider/llmclient"
)

// Metadata keys CJ puts on its comparison requests; the LLM Provider
// echoes them in the outcome events, which is how they find their batch.
const (
	metaBatchID = "cj_batch_id"
	metaAttempt = "cj_attempt"
)

// HandleBatchCJAssessmentRequested starts ranking a batch's essays.
//
// It fetches every essay's text (an essay whose text will never be
// available is reported as failed), forms the comparison pairs (Pairs),
// stores the batch and sends every pair without an outcome to the LLM
// Provider Service (POST /v1/comparison, through the service's breaker).
// The verdicts come back as events (HandleComparisonOutcome); the last
// one fits the Bradley–Terry model and publishes CJAssessmentCompletedV1.
//
// Retries are cheap and safe: each pair's request id is derived from the
// batch, the pair and its attempt, so a pair sent again is queued and
// judged once by the LLM Provider; pairs with an outcome are not sent
// again. A batch already assessed is published again from the stored
// result, which covers a publish that failed after the result was saved.
func (s *Service) HandleBatchCJAssessmentRequested(ctx context.Context, env *event.Envelope) error {
	req, err := event.Decode[contracts.BatchCJAssessmentRequested](env)
	if err != nil {
		return err
	}
	if req.BatchID == "" {
		return contracts.InvalidEvent(env, "batch_id is empty")
	}
	if a, err := s.repo.Assessment(ctx, req.BatchID); err == nil {
		s.log.InfoContext(ctx, "batch assessed before; publishing the stored result", "batch_id", req.BatchID)
		return s.publish(ctx, env.CorrelationID, a)
	} else if !errors.Is(err, ErrAssessmentNotFound) {
		return err
	}

	b, ok, err := s.repo.Batch(ctx, req.BatchID)
	if err != nil {
		return err
	}
	if !ok {
		essays, failed, err := s.fetchEssays(ctx, req)
		if err != nil {
			return err
		}
		ids := make([]string, len(essays))
		refs := make([]contracts.EssayProcessingInputRefV1, len(essays))
		for i, e := range essays {
			ids[i], refs[i] = e.ID, contracts.EssayProcessingInputRefV1{EssayID: e.ID, ContentID: e.contentID, SpellcheckErrorCount: e.SpellingErrors}
		}
		b, err = s.repo.SaveBatch(ctx, Batch{BatchID: req.BatchID, CorrelationID: env.CorrelationID, CourseCode: req.CourseCode,
			Language: req.Language, Essays: refs, FailedEssayIDs: failed, Pairs: Pairs(req.BatchID, ids, s.cfg.ComparisonsPerEssay),
			ProgressAt: s.now()})
		if err != nil {
			return fmt.Errorf("cjassessment: batch %s: save: %w", req.BatchID, err)
		}
	}
	outcomes, err := s.repo.Outcomes(ctx, b.BatchID)
	if err != nil {
		return err
	}
	sent, err := s.sendUndecided(ctx, b, outcomes)
	if errors.Is(err, llmclient.ErrQueueFull) {
		// The batch is saved; ResendStalled sends the rest when the LLM
		// Provider expects room again. Failing the handler instead would
		// spend the consumer's attempts on a queue that is only busy.
		s.log.WarnContext(ctx, "LLM Provider queue full; the remaining comparisons are sent later", "batch_id", b.BatchID,
			"sent", sent, "error", err)
		return nil
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "batch comparisons sent to the LLM Provider", "batch_id", b.BatchID, "pairs", len(b.Pairs),
		"sent", sent, "decided", len(outcomes))
	return s.finishIfDecided(ctx, b)
}

// sendUndecided sends every pair of b without an outcome at its current
// attempt, and returns how many it sent.
func (s *Service) sendUndecided(ctx context.Context, b Batch, outcomes map[Pair]Outcome) (int, error) {
	var pending []Pair
	for _, p := range b.Pairs {
		if _, done := outcomes[p]; !done {
			pending = append(pending, p)
		}
	}
	if len(pending) == 0 {
		return 0, nil
	}
	texts, err := s.texts(ctx, b)
	if err != nil {
		return 0, err
	}
	for i, p := range pending {
		attempt, err := s.repo.Attempt(ctx, b.BatchID, p)
		if err != nil {
			return i, err
		}
		if err := s.submit(ctx, b, p, attempt, texts); err != nil {
			if full, ok := errors.AsType[*llmclient.QueueFullError](err); ok {
				// Due for ResendStalled once the queue is expected to
				// have room.
				_ = s.repo.Progress(ctx, b.BatchID, s.now().Add(full.RetryAfter-s.cfg.ComparisonResendAfter))
			}
			return i, fmt.Errorf("cjassessment: batch %s: compare %s vs %s (%d of %d pending pairs sent): %w",
				b.BatchID, p.A, p.B, i, len(pending), err)
		}
	}
	return len(pending), s.repo.Progress(ctx, b.BatchID, s.now())
}

// essayText is an essay with its text, as the judge sees it.
type essayText struct {
	contracts.LLMEssay
	contentID string
}

// fetchEssays fetches the texts of the requested essays. Texts that will
// never be available make their essay failed; any other fetch error is
// returned so the event is retried.
func (s *Service) fetchEssays(ctx context.Context, req contracts.BatchCJAssessmentRequested) ([]essayText, []string, error) {
	essays := make([]essayText, 0, len(req.Essays))
	failed := []string{}
	seen := map[string]bool{}
	for _, ref := range req.Essays {
		if ref.EssayID == "" || seen[ref.EssayID] {
			continue
		}
		seen[ref.EssayID] = true
		text, err := s.content.Fetch(ctx, ref.ContentID)
		switch {
		case errors.Is(err, contentclient.ErrNotFound), errors.Is(err, contentclient.ErrInvalidContent):
			s.log.WarnContext(ctx, "essay text unavailable; the essay is not ranked", "batch_id", req.BatchID,
				"essay_id", ref.EssayID, "error", err)
			failed = append(failed, ref.EssayID)
			continue
		case err != nil:
			return nil, nil, fmt.Errorf("cjassessment: batch %s: fetch essay %s: %w", req.BatchID, ref.EssayID, err)
		}
		essays = append(essays, essayText{LLMEssay: contracts.LLMEssay{ID: ref.EssayID, Text: text,
			SpellingErrors: ref.SpellcheckErrorCount}, contentID: ref.ContentID})
	}
	return essays, failed, nil
}

// texts fetches the texts of a stored batch's essays, by essay id.
func (s *Service) texts(ctx context.Context, b Batch) (map[string]contracts.LLMEssay, error) {
	out := make(map[string]contracts.LLMEssay, len(b.Essays))
	for _, ref := range b.Essays {
		text, err := s.content.Fetch(ctx, ref.ContentID)
		if err != nil {
			return nil, fmt.Errorf("cjassessment: batch %s: fetch essay %s: %w", b.BatchID, ref.EssayID, err)
		}
		out[ref.EssayID] = contracts.LLMEssay{ID: ref.EssayID, Text: text, SpellingErrors: ref.SpellcheckErrorCount}
	}
	return out, nil
}

// RequestID is the LLM Provider request id of a batch's pair at an
// attempt: the same for every retry of that attempt, so the LLM Provider
// queues and judges it once.
func RequestID(batchID string, p Pair, attempt int) string {
	return event.DeterministicID(event.Namespace, "cj_comparison", batchID, p.A, p.B, strconv.Itoa(attempt)).String()
}

// submit sends one pair at attempt. A request the LLM Provider refuses as
// invalid will never be judged: the pair is decided as failed. A request
// it already ended with a failure (expired, rejected: its failure event
// is on its way, or was lost) is taken on as that event would be: the
// next attempt is sent, or the pair given up.
func (s *Service) submit(ctx context.Context, b Batch, p Pair, attempt int, texts map[string]contracts.LLMEssay) error {
	a, err := s.compare.Submit(ctx, contracts.LLMComparisonRequestV1{
		RequestID: RequestID(b.BatchID, p, attempt), EssayA: texts[p.A], EssayB: texts[p.B],
		Prompt:   fmt.Sprintf("Essays of course %s, written in %s.", orUnknown(b.CourseCode), orUnknown(b.Language)),
		Provider: s.cfg.ComparisonProvider, CallbackTopic: contracts.TopicLLMComparisonResultV1, CorrelationID: b.CorrelationID,
		Metadata: map[string]string{metaBatchID: b.BatchID, metaAttempt: strconv.Itoa(attempt)},
	})
	switch {
	case errors.Is(err, llmclient.ErrRejected):
		s.log.WarnContext(ctx, "comparison rejected by the LLM Provider; the pair is left out", "batch_id", b.BatchID,
			"a", p.A, "b", p.B, "error", err)
		_, err = s.repo.SaveOutcome(ctx, b.BatchID, p, Outcome{Failed: true, Reason: err.Error()})
		return err
	case err != nil || a.Status != contracts.LLMStatusFailed:
		return err
	case a.FailureReason == contracts.LLMFailureRejected || attempt >= s.cfg.ComparisonMaxAttempts:
		_, err = s.repo.SaveOutcome(ctx, b.BatchID, p, Outcome{Failed: true, Reason: a.FailureReason + ": " + a.LastError})
		return err
	}
	if err := s.submit(ctx, b, p, attempt+1, texts); err != nil {
		return err
	}
	_, err = s.repo.AdvanceAttempt(ctx, b.BatchID, p, attempt)
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// finishIfDecided ranks the batch and publishes the result once every
// pair has an outcome.
func (s *Service) finishIfDecided(ctx context.Context, b Batch) error {
	outcomes, err := s.repo.Outcomes(ctx, b.BatchID)
	if err != nil {
		return err
	}
	if len(outcomes) < len(b.Pairs) {
		return nil
	}
	ids := make([]string, len(b.Essays))
	for i, e := range b.Essays {
		ids[i] = e.EssayID
	}
	comps := []Comparison{}
	failedPairs := []Pair{}
	providers := []string{}
	for _, p := range b.Pairs {
		o := outcomes[p]
		if o.Failed {
			failedPairs = append(failedPairs, p)
			continue
		}
		comps = append(comps, Comparison{A: p.A, B: p.B, Winner: o.Winner})
		if o.Provider != "" && !slices.Contains(providers, o.Provider) {
			providers = append(providers, o.Provider)
		}
	}
	fit, err := FitBradleyTerry(ids, comps, BTOptions{Prior: s.cfg.BTPrior, Tolerance: s.cfg.BTTolerance, MaxIterations: s.cfg.BTMaxIterations})
	if err != nil {
		return fmt.Errorf("cjassessment: batch %s: %w", b.BatchID, err)
	}
	if !fit.Converged {
		s.log.WarnContext(ctx, "Bradley–Terry fit did not converge; ranking by the last estimate",
			"batch_id", b.BatchID, "iterations", fit.Iterations)
	}
	slices.Sort(providers)
	judge := strings.Join(providers, "+")
	if judge == "" {
		judge = "none"
	}
	a := Assessment{BatchID: b.BatchID, Rankings: []contracts.CJRanking{}, FailedEssayIDs: slices.Clone(b.FailedEssayIDs),
		Comparisons: comps, FailedComparisons: failedPairs, Judge: judge, Iterations: fit.Iterations, Converged: fit.Converged,
		CompletedAt: s.now().UTC()}
	if a.FailedEssayIDs == nil {
		a.FailedEssayIDs = []string{}
	}
	for i, id := range rank(fit.Scores) {
		a.Rankings = append(a.Rankings, contracts.CJRanking{EssayID: id, Rank: i + 1, Score: fit.Scores[id]})
	}
	a.Status = contracts.OutcomeStatus(len(a.Rankings), len(a.FailedEssayIDs))
	if err := s.repo.SaveAssessment(ctx, a); err != nil {
		return fmt.Errorf("cjassessment: batch %s: save result: %w", b.BatchID, err)
	}
	return s.publish(ctx, b.CorrelationID, a)
}

func (s *Service) publish(ctx context.Context, correlationID string, a Assessment) error {
	err := s.pub.Publish(ctx, contracts.Message{EventType: event.TypeCJAssessmentCompletedV1, Key: a.BatchID,
		Identity: []string{a.BatchID}, CorrelationID: correlationID,
		Data: contracts.CJAssessmentCompletedV1{BatchID: a.BatchID, Status: a.Status, Rankings: a.Rankings,
			FailedEssayIDs: a.FailedEssayIDs, ComparisonCount: len(a.Comparisons), Judge: a.Judge}})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "batch ranked", "batch_id", a.BatchID, "essays", len(a.Rankings),
		"failed", len(a.FailedEssayIDs), "comparisons", len(a.Comparisons), "failed_comparisons", len(a.FailedComparisons),
		"judge", a.Judge)
	return nil
}
