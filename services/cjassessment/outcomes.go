package cjassessment

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/llmprovider/llmclient"
)

// ErrInvalidVerdict is wrapped by the reason of a comparison whose verdict
// names neither essay; the pair is sent again.
var ErrInvalidVerdict = errors.New("cjassessment: invalid verdict")

// HandleComparisonOutcome takes an LLM Provider outcome event (on
// TopicLLMComparisonResultV1) to its pair: the first verdict of a pair is
// stored and any later one dropped, so each pair is judged once. When
// the batch's last pair is decided, the batch is ranked and
// CJAssessmentCompletedV1 published.
//
// A failure with reason expired (no provider could judge the pair in its
// TTL), and a verdict naming neither essay, send the pair again as the
// next attempt, up to COMPARISON_MAX_ATTEMPTS; then the pair is given up.
// A rejected comparison is given up at once. A queue_full failure is
// ignored: nothing was queued, and the handler that sent it got a 503 and
// is retried. Events of batches this service does not know (another
// requester's) are ignored.
func (s *Service) HandleComparisonOutcome(ctx context.Context, env *event.Envelope) error {
	var (
		requestID, a, b, reason, provider, winner string
		meta                                      map[string]string
		failed                                    bool
	)
	switch env.EventType {
	case contracts.TypeLLMComparisonResultV1:
		r, err := event.Decode[contracts.LLMComparisonResultV1](env)
		if err != nil {
			return err
		}
		requestID, a, b, meta, provider, winner = r.RequestID, r.EssayAID, r.EssayBID, r.Metadata, r.Provider, r.WinnerID
	case contracts.TypeLLMComparisonFailedV1:
		f, err := event.Decode[contracts.LLMComparisonFailedV1](env)
		if err != nil {
			return err
		}
		if f.Reason == contracts.LLMFailureQueueFull {
			return nil
		}
		requestID, a, b, meta, reason, failed = f.RequestID, f.EssayAID, f.EssayBID, f.Metadata, f.Reason+": "+f.Message, true
	default:
		return nil
	}
	batch, ok, err := s.repo.Batch(ctx, meta[metaBatchID])
	if err != nil || !ok {
		return err
	}
	p := Pair{A: a, B: b}
	attempt, _ := strconv.Atoi(meta[metaAttempt])
	if !containsPair(batch.Pairs, p) || requestID != RequestID(batch.BatchID, p, attempt) {
		s.log.WarnContext(ctx, "comparison outcome for no pair of its batch; ignored", "batch_id", batch.BatchID,
			"request_id", requestID, "a", a, "b", b)
		return nil
	}
	if !failed && winner != a && winner != b && winner != "" {
		failed, reason = true, fmt.Sprintf("%v: the judge answered %q for %s vs %s", ErrInvalidVerdict, winner, a, b)
	}
	var o Outcome
	switch {
	case !failed:
		o = Outcome{Winner: winner, Provider: provider}
	case env.EventType == contracts.TypeLLMComparisonFailedV1 && reasonIs(reason, contracts.LLMFailureRejected),
		attempt >= s.cfg.ComparisonMaxAttempts:
		s.log.WarnContext(ctx, "comparison given up; the batch is ranked without it", "batch_id", batch.BatchID,
			"a", a, "b", b, "attempt", attempt, "reason", reason)
		o = Outcome{Failed: true, Reason: reason}
	default:
		return s.retry(ctx, batch, p, attempt, reason)
	}
	saved, err := s.repo.SaveOutcome(ctx, batch.BatchID, p, o)
	if err != nil || !saved {
		return err
	}
	if err := s.repo.Progress(ctx, batch.BatchID, s.now()); err != nil {
		return err
	}
	return s.finishIfDecided(ctx, batch)
}

// retry sends the pair again as attempt+1, unless another handler
// already did. The request goes out before the attempt is advanced, so a
// handler that fails in between sends the same request again (the LLM
// Provider queues it once).
func (s *Service) retry(ctx context.Context, b Batch, p Pair, attempt int, reason string) error {
	if cur, err := s.repo.Attempt(ctx, b.BatchID, p); err != nil || cur != attempt {
		return err
	}
	outcomes, err := s.repo.Outcomes(ctx, b.BatchID)
	if err != nil {
		return err
	}
	if _, done := outcomes[p]; done {
		return nil
	}
	texts, err := s.texts(ctx, b)
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "comparison failed; sending it again", "batch_id", b.BatchID, "a", p.A, "b", p.B,
		"attempt", attempt+1, "reason", reason)
	if err := s.submit(ctx, b, p, attempt+1, texts); err != nil {
		if full, ok := errors.AsType[*llmclient.QueueFullError](err); ok {
			// Not sent: the pair stays at this attempt, and
			// ResendStalled sends it when the queue has room.
			return s.repo.Progress(ctx, b.BatchID, s.now().Add(full.RetryAfter-s.cfg.ComparisonResendAfter))
		}
		return err
	}
	_, err = s.repo.AdvanceAttempt(ctx, b.BatchID, p, attempt)
	if err != nil {
		return err
	}
	// submit may have decided the pair (rejected at once).
	return s.finishIfDecided(ctx, b)
}

func containsPair(ps []Pair, p Pair) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func reasonIs(reason, code string) bool {
	return len(reason) >= len(code) && reason[:len(code)] == code
}
