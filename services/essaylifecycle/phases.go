package essaylifecycle

import (
	"context"
	"slices"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts"
)

// HandleBatchSpellcheckRequested starts the spellcheck phase: it sends one
// EssaySpellcheckRequestedV1 per essay that has content and marks the
// essay spellchecking. Essays past that point are not asked again, so a
// redelivered command sends nothing new; a retry after a failed publish
// sends the same event ids, which the Spellchecker's consumer drops.
func (s *Service) HandleBatchSpellcheckRequested(ctx context.Context, env *event.Envelope) error {
	req, err := event.Decode[contracts.BatchSpellcheckRequested](env)
	if err != nil {
		return err
	}
	if req.BatchID == "" {
		return contracts.InvalidEvent(env, "batch_id is empty")
	}
	return s.repo.Update(ctx, req.BatchID, func(ctx context.Context, st *BatchState) (bool, error) {
		tr := st.trackPhase(contracts.PhaseSpellcheck)
		changed := false
		for _, ref := range req.Essays {
			e := st.essay(ref.EssayID)
			if e == nil {
				s.log.WarnContext(ctx, "spellcheck requested for an essay the batch does not have; ignored",
					"batch_id", st.BatchID, "essay_id", ref.EssayID)
				continue
			}
			if !slices.Contains(tr.EssayIDs, e.EssayID) {
				tr.EssayIDs = append(tr.EssayIDs, e.EssayID)
				changed = true
			}
			if e.State != StateContentReady {
				continue
			}
			err := s.pub.Publish(ctx, contracts.Message{
				EventType: contracts.TypeEssaySpellcheckRequestedV1, Key: st.BatchID,
				Identity: []string{st.BatchID, e.EssayID}, CorrelationID: env.CorrelationID,
				Data: contracts.EssaySpellcheckRequestedV1{BatchID: st.BatchID, EssayID: e.EssayID,
					ContentID: e.ContentID, Language: req.Language},
			})
			if err != nil {
				return false, err
			}
			e.State, e.UpdatedAt = StateSpellchecking, s.now().UTC()
			changed = true
		}
		published, err := s.maybeSpellcheckOutcome(ctx, st, env.CorrelationID)
		return changed || published, err
	})
}

// HandleSpellcheckCompleted records one essay's spellcheck result and, when
// every essay of the phase has one, publishes the phase outcome. A result
// for an essay that already has one changes nothing.
func (s *Service) HandleSpellcheckCompleted(ctx context.Context, env *event.Envelope) error {
	res, err := event.Decode[contracts.SpellcheckCompletedV1](env)
	if err != nil {
		return err
	}
	if res.BatchID == "" || res.EssayID == "" {
		return contracts.InvalidEvent(env, "batch_id and essay_id are required")
	}
	return s.repo.Update(ctx, res.BatchID, func(ctx context.Context, st *BatchState) (bool, error) {
		e := st.essay(res.EssayID)
		if e == nil {
			s.log.WarnContext(ctx, "spellcheck result for an essay the batch does not have; ignored",
				"batch_id", st.BatchID, "essay_id", res.EssayID)
			return false, nil
		}
		changed := false
		if e.State == StateContentReady || e.State == StateSpellchecking {
			now := s.now().UTC()
			if res.Status == contracts.ResultFailed {
				e.State, e.FailedPhase, e.FailureReason = StateFailed, contracts.PhaseSpellcheck, res.Reason
			} else {
				e.State = StateSpellchecked
				e.Spellcheck = &SpellcheckResult{ErrorCount: res.ErrorCount, WordCount: res.WordCount,
					Corrections: slices.Clone(res.Corrections)}
			}
			e.UpdatedAt = now
			changed = true
		}
		published, err := s.maybeSpellcheckOutcome(ctx, st, env.CorrelationID)
		return changed || published, err
	})
}

// spellcheckDone reports whether e has a spellcheck result: it is
// spellchecked (or beyond), or it failed at or after spellchecking.
func spellcheckDone(e *Essay) bool {
	if e.State == StateFailed {
		return e.FailedPhase != FailedAtUpload
	}
	return stateOrder[e.State] >= stateOrder[StateSpellchecked]
}

// maybeSpellcheckOutcome publishes the spellcheck phase outcome once, when
// the phase was requested and every essay in it has a result.
func (s *Service) maybeSpellcheckOutcome(ctx context.Context, st *BatchState, correlationID string) (bool, error) {
	tr := st.phase(contracts.PhaseSpellcheck)
	if tr == nil || tr.OutcomePublished {
		return false, nil
	}
	out := contracts.ELSBatchPhaseOutcomeV1{BatchID: st.BatchID, PhaseName: contracts.PhaseSpellcheck,
		ProcessedEssays: []contracts.EssayProcessingInputRefV1{}, FailedEssayIDs: []string{}}
	for i := range st.Essays {
		e := &st.Essays[i]
		if !slices.Contains(tr.EssayIDs, e.EssayID) {
			continue
		}
		if !spellcheckDone(e) {
			return false, nil
		}
		if e.State == StateFailed && e.FailedPhase == contracts.PhaseSpellcheck {
			out.FailedEssayIDs = append(out.FailedEssayIDs, e.EssayID)
			continue
		}
		out.ProcessedEssays = append(out.ProcessedEssays, e.inputRef())
	}
	return true, s.publishOutcome(ctx, st, tr, out, correlationID)
}

// HandleBatchCJAssessmentRequested marks the essays of a CJ request as
// being assessed. CJ Assessment consumes the same command; its result may
// even arrive first, in which case nothing moves back.
func (s *Service) HandleBatchCJAssessmentRequested(ctx context.Context, env *event.Envelope) error {
	req, err := event.Decode[contracts.BatchCJAssessmentRequested](env)
	if err != nil {
		return err
	}
	if req.BatchID == "" {
		return contracts.InvalidEvent(env, "batch_id is empty")
	}
	return s.repo.Update(ctx, req.BatchID, func(ctx context.Context, st *BatchState) (bool, error) {
		tr := st.trackPhase(contracts.PhaseCJAssessment)
		changed := false
		for _, ref := range req.Essays {
			e := st.essay(ref.EssayID)
			if e == nil {
				continue
			}
			if !slices.Contains(tr.EssayIDs, e.EssayID) {
				tr.EssayIDs = append(tr.EssayIDs, e.EssayID)
				changed = true
			}
			if !tr.OutcomePublished && canMove(e.State, StateCJAssessing) {
				e.State, e.UpdatedAt = StateCJAssessing, s.now().UTC()
				changed = true
			}
		}
		return changed, nil
	})
}

// HandleCJAssessmentCompleted records the ranking of a batch and publishes
// the CJ phase outcome, once.
func (s *Service) HandleCJAssessmentCompleted(ctx context.Context, env *event.Envelope) error {
	res, err := event.Decode[contracts.CJAssessmentCompletedV1](env)
	if err != nil {
		return err
	}
	if res.BatchID == "" {
		return contracts.InvalidEvent(env, "batch_id is empty")
	}
	return s.repo.Update(ctx, res.BatchID, func(ctx context.Context, st *BatchState) (bool, error) {
		tr := st.trackPhase(contracts.PhaseCJAssessment)
		if tr.OutcomePublished {
			s.log.InfoContext(ctx, "CJ result for a batch already ranked; ignored", "batch_id", st.BatchID, "event_id", env.EventID)
			return false, nil
		}
		now := s.now().UTC()
		ranked := map[string]contracts.CJRanking{}
		for _, r := range res.Rankings {
			ranked[r.EssayID] = r
		}
		out := contracts.ELSBatchPhaseOutcomeV1{BatchID: st.BatchID, PhaseName: contracts.PhaseCJAssessment,
			ProcessedEssays: []contracts.EssayProcessingInputRefV1{}, FailedEssayIDs: []string{}}
		for i := range st.Essays {
			e := &st.Essays[i]
			r, isRanked := ranked[e.EssayID]
			failed := slices.Contains(res.FailedEssayIDs, e.EssayID)
			if !isRanked && !failed {
				continue
			}
			if !slices.Contains(tr.EssayIDs, e.EssayID) {
				tr.EssayIDs = append(tr.EssayIDs, e.EssayID)
			}
			if isRanked {
				if canMove(e.State, StateRanked) {
					e.State, e.Rank, e.Score, e.UpdatedAt = StateRanked, r.Rank, r.Score, now
				}
				out.ProcessedEssays = append(out.ProcessedEssays, e.inputRef())
				continue
			}
			if canMove(e.State, StateFailed) {
				e.State, e.FailedPhase, e.FailureReason, e.UpdatedAt = StateFailed, contracts.PhaseCJAssessment, "could not be ranked", now
			}
			out.FailedEssayIDs = append(out.FailedEssayIDs, e.EssayID)
		}
		return true, s.publishOutcome(ctx, st, tr, out, env.CorrelationID)
	})
}

// publishOutcome publishes a phase outcome and marks it published.
func (s *Service) publishOutcome(ctx context.Context, st *BatchState, tr *PhaseTracking, out contracts.ELSBatchPhaseOutcomeV1, correlationID string) error {
	out.PhaseStatus = contracts.OutcomeStatus(len(out.ProcessedEssays), len(out.FailedEssayIDs))
	if correlationID == "" {
		correlationID = st.CorrelationID
	}
	err := s.pub.Publish(ctx, contracts.Message{EventType: contracts.TypeELSBatchPhaseOutcomeV1, Key: st.BatchID, Data: out,
		Identity: []string{st.BatchID, out.PhaseName}, CorrelationID: correlationID})
	if err != nil {
		return err
	}
	tr.OutcomePublished, tr.OutcomeStatus = true, out.PhaseStatus
	s.log.InfoContext(ctx, "phase outcome", "batch_id", st.BatchID, "phase", out.PhaseName, "status", out.PhaseStatus,
		"processed", len(out.ProcessedEssays), "failed", len(out.FailedEssayIDs))
	return nil
}
