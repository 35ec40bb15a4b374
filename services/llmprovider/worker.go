package llmprovider

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/services/contracts"
)

// publishRetry is the wait before a decided outcome whose publish was not
// accepted is published again.
const publishRetry = time.Second

// Start starts the workers. They run until Stop.
func (s *Service) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return errors.New("llmprovider: Start: already started")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for range s.cfg.Workers {
		s.wg.Go(func() { s.work(ctx) })
	}
	return nil
}

// Stop stops the workers and waits for them until ctx ends. A request a
// worker was judging goes back to the queue.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// work claims due requests and handles them until ctx ends.
func (s *Service) work(ctx context.Context) {
	lease := s.cfg.RequestDeadline + time.Minute
	for ctx.Err() == nil {
		e, ok, err := s.queue.Claim(ctx, s.now(), lease)
		if err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "queue claim failed; retrying", "error", err)
		}
		if err != nil || !ok {
			s.idle(ctx)
			continue
		}
		if !s.handle(ctx, e) {
			return
		}
	}
}

// idle waits for a new request, the next due time or the poll interval.
func (s *Service) idle(ctx context.Context) {
	wait := s.cfg.PollInterval
	if next, err := s.queue.NextDue(ctx); err == nil && !next.IsZero() {
		wait = min(wait, max(next.Sub(s.now()), time.Millisecond))
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-s.wake:
	case <-t.C:
	case <-ctx.Done():
	}
}

// handle takes a claimed request to its end (or back to the queue). It
// returns false when the bus is closed: the service is stopping.
func (s *Service) handle(ctx context.Context, e Entry) bool {
	if len(e.Trace) > 0 {
		ctx = traceContext.Extract(ctx, propagation.MapCarrier(e.Trace))
	}
	now := s.now()
	if e.Decided != nil {
		return s.deliver(ctx, e, *e.Decided)
	}
	if !now.Before(e.ExpiresAt) {
		return s.deliver(ctx, e, s.expired(e))
	}
	jctx, cancel := context.WithTimeout(ctx, min(s.cfg.RequestDeadline, e.ExpiresAt.Sub(now)))
	v, err := s.judge.Judge(jctx, comparisonOf(e.Request), e.Request.Provider)
	cancel()
	var rejected *RejectedError
	var unavailable *UnavailableError
	switch {
	case err == nil:
		r := resultOf(e, v)
		return s.deliver(ctx, e, Decision{Result: &r})
	case errors.As(err, &rejected):
		f := failureOf(e, contracts.LLMFailureRejected, rejected.Error())
		f.Provider, f.StatusCode = rejected.Provider, rejected.StatusCode
		return s.deliver(ctx, e, Decision{Failure: &f})
	case ctx.Err() != nil:
		// Stopping: back to the queue for the next worker or process.
		s.release(context.WithoutCancel(ctx), e, Release{At: s.now(), NotBefore: s.now(), LastError: "service stopping"})
		return false
	case errors.As(err, &unavailable):
		now = s.now()
		if !now.Before(e.ExpiresAt) {
			return s.deliver(ctx, e, s.expired(e))
		}
		next := now.Add(s.cfg.RetryDelay)
		if unavailable.RetryAt.After(next) {
			next = unavailable.RetryAt
		}
		s.log.InfoContext(ctx, "no provider available; the comparison stays queued", "queue_id", e.QueueID,
			"request_id", e.Request.RequestID, "attempts", e.Attempts, "next_attempt_at", next, "error", unavailable.Err)
		s.release(ctx, e, Release{At: now, NotBefore: next, LastError: errText(unavailable.Err)})
		return true
	default:
		s.log.ErrorContext(ctx, "unexpected judge error; the comparison stays queued", "queue_id", e.QueueID, "error", err)
		s.release(ctx, e, Release{At: s.now(), NotBefore: s.now().Add(s.cfg.RetryDelay), LastError: err.Error()})
		return true
	}
}

// deliver publishes the decision to the request's callback topic and
// finishes the entry. A publish the bus did not accept keeps the decision
// in the queue for a later try; one Kafka can never accept (an invalid or
// unknown callback topic) finishes the entry as undeliverable, with the
// decision in the log.
func (s *Service) deliver(ctx context.Context, e Entry, d Decision) bool {
	msg := contracts.Message{Topic: e.Request.CallbackTopic, Key: e.Request.RequestID, Identity: []string{e.Request.RequestID},
		CorrelationID: e.Request.CorrelationID}
	fin := Finish{Status: contracts.LLMStatusCompleted}
	if d.Result != nil {
		msg.EventType, msg.Data, fin.Provider = contracts.TypeLLMComparisonResultV1, *d.Result, d.Result.Provider
	} else {
		msg.EventType, msg.Data = contracts.TypeLLMComparisonFailedV1, *d.Failure
		fin.Status, fin.FailureReason, fin.Provider = contracts.LLMStatusFailed, d.Failure.Reason, d.Failure.Provider
	}
	err := s.pub.Publish(ctx, msg)
	switch {
	case err == nil:
	case undeliverable(err):
		s.log.ErrorContext(ctx, "comparison outcome undeliverable to its callback topic", "queue_id", e.QueueID,
			"request_id", e.Request.RequestID, "callback_topic", e.Request.CallbackTopic, "outcome", d, "error", err)
		fin.Status, fin.FailureReason = contracts.LLMStatusFailed, "undeliverable"
	default:
		s.release(context.WithoutCancel(ctx), e, Release{At: s.now(), NotBefore: s.now().Add(publishRetry),
			LastError: "publish not accepted: " + err.Error(), Decided: &d})
		return !errors.Is(err, kafkabus.ErrBusClosed) && ctx.Err() == nil
	}
	fin.At = s.now()
	if ferr := s.queue.Finish(context.WithoutCancel(ctx), e.QueueID, e.Claim, fin); ferr != nil {
		// The lease ran out and another worker has it: it publishes the
		// same event id again, which consumers drop.
		s.log.WarnContext(ctx, "queue finish failed", "queue_id", e.QueueID, "error", ferr)
		return true
	}
	switch {
	case fin.Status == contracts.LLMStatusCompleted:
		s.metrics.completed.Inc()
	default:
		s.metrics.failed.WithLabelValues(fin.FailureReason).Inc()
	}
	return true
}

func (s *Service) release(ctx context.Context, e Entry, r Release) {
	if err := s.queue.Release(ctx, e.QueueID, e.Claim, r); err != nil {
		s.log.WarnContext(ctx, "queue release failed", "queue_id", e.QueueID, "error", err)
	}
}

// undeliverable reports whether no later publish can succeed.
func undeliverable(err error) bool {
	for _, target := range []error{contracts.ErrInvalidMessage, kafkabus.ErrInvalidTopic, kafkabus.ErrUnknownTopic,
		kafkabus.ErrMessageTooLarge, kafkabus.ErrAuthorization, kafkabus.ErrInvalidRecord} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

func (s *Service) expired(e Entry) Decision {
	f := failureOf(e, contracts.LLMFailureExpired, "the request waited longer than its TTL (expired at "+
		e.ExpiresAt.UTC().Format(time.RFC3339)+"); last problem: "+orNone(e.LastError))
	f.Provider = e.Provider
	return Decision{Failure: &f}
}

func comparisonOf(r contracts.LLMComparisonRequestV1) Comparison {
	return Comparison{EssayA: r.EssayA, EssayB: r.EssayB, Prompt: r.Prompt, Rubric: r.Rubric, Model: r.Model}
}

func resultOf(e Entry, v Verdict) contracts.LLMComparisonResultV1 {
	return contracts.LLMComparisonResultV1{RequestID: e.Request.RequestID, QueueID: e.QueueID,
		EssayAID: e.Request.EssayA.ID, EssayBID: e.Request.EssayB.ID, WinnerID: v.Winner, Confidence: v.Confidence,
		Justification: v.Justification, Provider: v.Provider, Model: v.Model, InputTokens: v.InputTokens,
		OutputTokens: v.OutputTokens, CostUSD: v.CostUSD, Attempts: v.Attempts, Metadata: e.Request.Metadata}
}

func failureOf(e Entry, reason, msg string) contracts.LLMComparisonFailedV1 {
	return contracts.LLMComparisonFailedV1{RequestID: e.Request.RequestID, QueueID: e.QueueID,
		EssayAID: e.Request.EssayA.ID, EssayBID: e.Request.EssayB.ID, Reason: reason, Message: msg,
		Metadata: e.Request.Metadata}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
