package cjassessment

import (
	"context"
	"errors"
	"sync"
	"time"
)

// resender runs ResendStalled in the background (Start, Stop).
type resender struct {
	mu     sync.Mutex // guards cancel
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// ResendStalled sends again the undecided pairs of every batch that has
// made no progress (no comparison sent or decided) for
// ComparisonResendAfter, with the same request ids. The LLM Provider
// queues a request it still holds once; one it no longer has (its
// in-memory queue was lost in a restart) is queued again, so no batch
// waits forever for a verdict that will not come. It returns the pairs
// sent; a batch whose pairs could not be sent is tried at the next round.
func (s *Service) ResendStalled(ctx context.Context) (int, error) {
	stalled, err := s.repo.Stalled(ctx, s.now().Add(-s.cfg.ComparisonResendAfter))
	if err != nil {
		return 0, err
	}
	total := 0
	var errs []error
	for _, b := range stalled {
		outcomes, err := s.repo.Outcomes(ctx, b.BatchID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n, err := s.sendUndecided(ctx, b, outcomes)
		total += n
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if n > 0 {
			s.log.InfoContext(ctx, "batch stalled; its undecided comparisons sent again", "batch_id", b.BatchID,
				"pairs", n, "stalled_since", b.ProgressAt)
		}
	}
	return total, errors.Join(errs...)
}

// Start runs ResendStalled every quarter of ComparisonResendAfter until
// Stop.
func (s *Service) Start(context.Context) error {
	s.resend.mu.Lock()
	defer s.resend.mu.Unlock()
	if s.resend.cancel != nil {
		return errors.New("cjassessment: Start: already started")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.resend.cancel = cancel
	every := max(s.cfg.ComparisonResendAfter/4, 10*time.Millisecond)
	s.resend.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := s.ResendStalled(ctx); err != nil && ctx.Err() == nil {
					s.log.WarnContext(ctx, "resending stalled comparisons failed; trying again later", "error", err)
				}
			}
		}
	})
	return nil
}

// Stop stops the background resending and waits for it until ctx ends.
func (s *Service) Stop(ctx context.Context) error {
	s.resend.mu.Lock()
	cancel := s.resend.cancel
	s.resend.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() { s.resend.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
