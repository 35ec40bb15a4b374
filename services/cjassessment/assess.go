package cjassessment

import (
	"context"
	"errors"
	"fmt"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/fileservice/contentclient"
)

// HandleBatchCJAssessmentRequested ranks a batch's essays and publishes
// CJAssessmentCompletedV1.
//
// It fetches every essay's text (an essay whose text will never be
// available is reported as failed), forms the comparison pairs (Pairs),
// has the judge compare each pair through the judge's circuit breaker,
// fits a Bradley–Terry model and ranks the essays by their scores.
//
// Retries are cheap and safe: verdicts are stored as they come, so a
// retry after the judge failed half-way only asks for the missing ones;
// the judge is deterministic or its verdicts are stored, so a retry
// computes the same ranking; and the result carries a deterministic
// event id. A batch already assessed is published again from the stored
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
		return s.publish(ctx, env, a)
	} else if !errors.Is(err, ErrAssessmentNotFound) {
		return err
	}

	essays, failed, err := s.fetchEssays(ctx, req)
	if err != nil {
		return err
	}
	ids := make([]string, len(essays))
	byID := make(map[string]Essay, len(essays))
	for i, e := range essays {
		ids[i], byID[e.ID] = e.ID, e
	}
	comps := make([]Comparison, 0)
	for _, p := range Pairs(req.BatchID, ids, s.cfg.ComparisonsPerEssay) {
		winner, err := s.judgePair(ctx, req.BatchID, p, byID)
		if err != nil {
			return fmt.Errorf("cjassessment: batch %s: judge %s vs %s (%d of the pairs judged so far are kept): %w",
				req.BatchID, p.A, p.B, len(comps), err)
		}
		comps = append(comps, Comparison{A: p.A, B: p.B, Winner: winner})
	}
	fit, err := FitBradleyTerry(ids, comps, BTOptions{Prior: s.cfg.BTPrior, Tolerance: s.cfg.BTTolerance, MaxIterations: s.cfg.BTMaxIterations})
	if err != nil {
		return fmt.Errorf("cjassessment: batch %s: %w", req.BatchID, err)
	}
	if !fit.Converged {
		s.log.WarnContext(ctx, "Bradley–Terry fit did not converge; ranking by the last estimate",
			"batch_id", req.BatchID, "iterations", fit.Iterations)
	}
	a := Assessment{BatchID: req.BatchID, Rankings: []contracts.CJRanking{}, FailedEssayIDs: failed,
		Comparisons: comps, Judge: judgeName(s.judge), Iterations: fit.Iterations, Converged: fit.Converged,
		CompletedAt: s.now().UTC()}
	for i, id := range rank(fit.Scores) {
		a.Rankings = append(a.Rankings, contracts.CJRanking{EssayID: id, Rank: i + 1, Score: fit.Scores[id]})
	}
	a.Status = contracts.OutcomeStatus(len(a.Rankings), len(a.FailedEssayIDs))
	if err := s.repo.SaveAssessment(ctx, a); err != nil {
		return fmt.Errorf("cjassessment: batch %s: save result: %w", req.BatchID, err)
	}
	return s.publish(ctx, env, a)
}

// fetchEssays fetches the texts of the requested essays. Texts that will
// never be available make their essay failed; any other fetch error is
// returned so the event is retried.
func (s *Service) fetchEssays(ctx context.Context, req contracts.BatchCJAssessmentRequested) ([]Essay, []string, error) {
	essays := make([]Essay, 0, len(req.Essays))
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
		essays = append(essays, Essay{ID: ref.EssayID, Text: text, SpellingErrors: ref.SpellcheckErrorCount})
	}
	return essays, failed, nil
}

// judgePair returns the stored verdict of p, or asks the judge through the
// breaker and stores the answer. A verdict that names neither essay is a
// failure of the judge (it counts against the breaker).
func (s *Service) judgePair(ctx context.Context, batchID string, p Pair, byID map[string]Essay) (string, error) {
	if w, ok, err := s.repo.Judgement(ctx, batchID, p); err != nil {
		return "", err
	} else if ok {
		return w, nil
	}
	winner, err := resilience.Execute(ctx, s.breaker, func(ctx context.Context) (string, error) {
		w, err := s.judge.Compare(ctx, byID[p.A], byID[p.B])
		if err != nil {
			return "", err
		}
		if w != p.A && w != p.B && w != "" {
			return "", fmt.Errorf("%w: judge answered %q for %s vs %s", ErrInvalidVerdict, w, p.A, p.B)
		}
		return w, nil
	})
	if err != nil {
		return "", err
	}
	return winner, s.repo.SaveJudgement(ctx, batchID, p, winner)
}

func (s *Service) publish(ctx context.Context, env *event.Envelope, a Assessment) error {
	err := s.pub.Publish(ctx, contracts.Message{EventType: event.TypeCJAssessmentCompletedV1, Key: a.BatchID,
		Identity: []string{a.BatchID}, CorrelationID: env.CorrelationID,
		Data: contracts.CJAssessmentCompletedV1{BatchID: a.BatchID, Status: a.Status, Rankings: a.Rankings,
			FailedEssayIDs: a.FailedEssayIDs, ComparisonCount: len(a.Comparisons), Judge: a.Judge}})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "batch ranked", "batch_id", a.BatchID, "essays", len(a.Rankings),
		"failed", len(a.FailedEssayIDs), "comparisons", len(a.Comparisons))
	return nil
}
