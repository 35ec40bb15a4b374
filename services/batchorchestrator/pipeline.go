package batchorchestrator

import (
	"context"
	"fmt"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts"
)

// phaseCommands builds the command that starts each phase this
// orchestrator can run. A pipeline with another phase is refused at
// registration.
var phaseCommands = map[string]func(cfg Config, b *Batch) (eventType string, data any){
	contracts.PhaseSpellcheck: func(cfg Config, b *Batch) (string, any) {
		return event.TypeBatchSpellcheckRequested, contracts.BatchSpellcheckRequested{
			BatchID: b.BatchID, Essays: b.Essays, Language: cfg.Language}
	},
	contracts.PhaseCJAssessment: func(cfg Config, b *Batch) (string, any) {
		return event.TypeBatchCJAssessmentRequested, contracts.BatchCJAssessmentRequested{
			BatchID: b.BatchID, Essays: b.Essays, CourseCode: b.CourseCode, Language: cfg.Language}
	},
}

// HandleBatchEssaysReady starts the first phase of a batch whose essays all
// have content (or completes the pipeline at once when none has). A
// batch that already started ignores it, so redelivery never requests a
// phase twice.
func (s *Service) HandleBatchEssaysReady(ctx context.Context, env *event.Envelope) error {
	ready, err := event.Decode[contracts.BatchEssaysReady](env)
	if err != nil {
		return err
	}
	if ready.BatchID == "" {
		return contracts.InvalidEvent(env, "batch_id is empty")
	}
	return s.repo.Update(ctx, ready.BatchID, func(ctx context.Context, b *Batch) (bool, error) {
		if b.Status != StatusAwaitingContent {
			s.log.InfoContext(ctx, "BatchEssaysReady for a batch that already started; ignored",
				"batch_id", b.BatchID, "status", b.Status, "event_id", env.EventID)
			return false, nil
		}
		b.ReadyAt = s.now().UTC()
		b.Essays = ready.Essays
		b.addFailed(ready.FailedEssayIDs)
		b.Status = StatusProcessingPipelines
		return true, s.advance(ctx, b, 0)
	})
}

// HandlePhaseOutcome records the outcome of the phase in progress and
// starts the next one with the essays it processed, or completes the
// pipeline. An outcome for any other phase (a redelivery, a stale event)
// is ignored.
func (s *Service) HandlePhaseOutcome(ctx context.Context, env *event.Envelope) error {
	out, err := event.Decode[contracts.ELSBatchPhaseOutcomeV1](env)
	if err != nil {
		return err
	}
	if out.BatchID == "" || out.PhaseName == "" {
		return contracts.InvalidEvent(env, "batch_id and phase_name are required")
	}
	return s.repo.Update(ctx, out.BatchID, func(ctx context.Context, b *Batch) (bool, error) {
		if b.Status != StatusProcessingPipelines || b.CurrentPhase != out.PhaseName {
			s.log.InfoContext(ctx, "phase outcome for a phase not in progress; ignored", "batch_id", b.BatchID,
				"phase", out.PhaseName, "current_phase", b.CurrentPhase, "status", b.Status, "event_id", env.EventID)
			return false, nil
		}
		last := &b.PhaseResults[len(b.PhaseResults)-1]
		last.Status = out.PhaseStatus
		last.ProcessedCount, last.FailedCount = len(out.ProcessedEssays), len(out.FailedEssayIDs)
		last.CompletedAt = s.now().UTC()
		b.Essays = out.ProcessedEssays
		b.addFailed(out.FailedEssayIDs)
		b.CurrentPhase = ""
		return true, s.advance(ctx, b, len(b.PhaseResults))
	})
}

// advance starts phase number next of b, or completes the pipeline when
// there is no next phase or no essay left to process. It runs inside
// repo.Update: if a publish fails the batch is not stored and the retried
// event advances again, publishing the same event ids.
func (s *Service) advance(ctx context.Context, b *Batch, next int) error {
	if next >= len(b.Phases) || len(b.Essays) == 0 {
		return s.complete(ctx, b)
	}
	phase := b.Phases[next]
	build, ok := phaseCommands[phase]
	if !ok {
		// Registration checks the phases; reaching this is a bug.
		return fmt.Errorf("batchorchestrator: batch %s: no command for phase %q", b.BatchID, phase)
	}
	eventType, data := build(s.cfg, b)
	err := s.pub.Publish(ctx, contracts.Message{
		EventType: eventType, Key: b.BatchID, Data: data,
		Identity: []string{b.BatchID, phase}, CorrelationID: b.CorrelationID,
	})
	if err != nil {
		return err
	}
	b.CurrentPhase = phase
	b.PhaseResults = append(b.PhaseResults, PhaseResult{
		Phase: phase, Status: phaseRequested, EssayCount: len(b.Essays), RequestedAt: s.now().UTC()})
	s.log.InfoContext(ctx, "phase requested", "batch_id", b.BatchID, "phase", phase, "essays", len(b.Essays))
	return nil
}

// complete ends the pipeline of b and publishes BatchPipelineCompletedV1.
func (s *Service) complete(ctx context.Context, b *Batch) error {
	now := s.now().UTC()
	status := contracts.OutcomeStatus(len(b.Essays), len(b.FailedEssayIDs))
	done := contracts.BatchPipelineCompletedV1{
		BatchID:                   b.BatchID,
		CompletedPhases:           b.completedPhases(),
		FinalStatus:               status,
		CompletedAt:               now,
		ProcessingDurationSeconds: now.Sub(b.CreatedAt).Seconds(),
		SuccessfulEssayCount:      len(b.Essays),
		FailedEssayCount:          len(b.FailedEssayIDs),
	}
	err := s.pub.Publish(ctx, contracts.Message{
		EventType: event.TypeBatchPipelineCompletedV1, Key: b.BatchID, Data: done,
		Identity: []string{b.BatchID}, CorrelationID: b.CorrelationID,
	})
	if err != nil {
		return err
	}
	b.Status = batchStatus(status)
	b.CompletedAt = now
	s.log.InfoContext(ctx, "pipeline completed", "batch_id", b.BatchID, "final_status", status,
		"successful", done.SuccessfulEssayCount, "failed", done.FailedEssayCount)
	return nil
}

// batchStatus maps an outcome status to the batch status.
func batchStatus(outcome string) string {
	switch outcome {
	case contracts.StatusCompletedSuccessfully:
		return StatusCompletedSuccessfully
	case contracts.StatusCompletedWithFailures:
		return StatusCompletedWithFailures
	default:
		return StatusFailedCritically
	}
}
