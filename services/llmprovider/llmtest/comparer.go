package llmtest

import (
	"context"
	"slices"
	"sync"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/llmprovider/llmclient"
	"github.com/huleedu/huleedu/services/llmprovider/localjudge"
)

// Comparer is an in-process LLM Provider. It is safe for concurrent use.
type Comparer struct {
	pub *contracts.Publisher

	mu       sync.Mutex // guards everything below
	hold     bool
	failWith error
	judge    func(a, b contracts.LLMEssay) string
	order    []string // request ids, first submission order
	requests map[string]contracts.LLMComparisonRequestV1
	answered map[string]bool
	failed   map[string]string // request id -> failure reason
	submits  int
}

// NewComparer returns a Comparer that publishes through bus as
// llm_provider_service and judges with the local judge.
func NewComparer(bus kafkabus.Bus) *Comparer {
	pub, err := contracts.NewPublisher(bus, llmclient.ServiceName, nil)
	if err != nil {
		panic(err) // only a nil bus, a bug in the test
	}
	return &Comparer{pub: pub, judge: localjudge.Compare, requests: map[string]contracts.LLMComparisonRequestV1{},
		answered: map[string]bool{}, failed: map[string]string{}}
}

// Hold makes Submit keep requests without answering them (until Deliver),
// or, with false, answer at once again.
func (c *Comparer) Hold(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hold = on
}

// FailSubmits makes every Submit fail with err, as an unreachable service
// would; nil ends it.
func (c *Comparer) FailSubmits(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failWith = err
}

// JudgeWith replaces the local judge: fn returns the winner's id (or
// anything else, to play a misbehaving judge).
func (c *Comparer) JudgeWith(fn func(a, b contracts.LLMEssay) string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.judge = fn
}

// Submit implements cjassessment.Comparer: a known request id is not
// queued again; its answer says how it ended, as the service's does.
func (c *Comparer) Submit(ctx context.Context, req contracts.LLMComparisonRequestV1) (contracts.LLMComparisonAccepted, error) {
	c.mu.Lock()
	c.submits++
	if err := c.failWith; err != nil {
		c.mu.Unlock()
		return contracts.LLMComparisonAccepted{}, err
	}
	if req.CallbackTopic == "" {
		req.CallbackTopic = contracts.TopicLLMComparisonResultV1
	}
	if _, known := c.requests[req.RequestID]; !known {
		c.requests[req.RequestID] = req
		c.order = append(c.order, req.RequestID)
	}
	hold := c.hold
	a := contracts.LLMComparisonAccepted{QueueID: "q-" + req.RequestID, RequestID: req.RequestID, Status: contracts.LLMStatusQueued}
	if reason, ok := c.failed[req.RequestID]; ok {
		a.Status, a.FailureReason = contracts.LLMStatusFailed, reason
	} else if c.answered[req.RequestID] {
		a.Status = contracts.LLMStatusCompleted
	}
	c.mu.Unlock()
	if hold || a.Status != contracts.LLMStatusQueued {
		return a, nil
	}
	return a, c.answer(ctx, req.RequestID)
}

// answer publishes the verdict of one request, once.
func (c *Comparer) answer(ctx context.Context, id string) error {
	c.mu.Lock()
	req, judge := c.requests[id], c.judge
	done := c.answered[id]
	c.mu.Unlock()
	if done {
		return nil
	}
	err := c.pub.Publish(ctx, contracts.Message{EventType: contracts.TypeLLMComparisonResultV1, Topic: req.CallbackTopic,
		Key: id, Identity: []string{id}, CorrelationID: req.CorrelationID,
		Data: contracts.LLMComparisonResultV1{RequestID: id, QueueID: "q-" + id, EssayAID: req.EssayA.ID, EssayBID: req.EssayB.ID,
			WinnerID: judge(req.EssayA, req.EssayB), Confidence: 1, Provider: localjudge.Name, Model: "localjudge",
			Attempts: 1, Metadata: req.Metadata}})
	if err == nil {
		c.mu.Lock()
		c.answered[id] = true
		c.mu.Unlock()
	}
	return err
}

// Deliver answers every request not answered yet, in submission order.
func (c *Comparer) Deliver(ctx context.Context) error { return c.DeliverN(ctx, -1) }

// DeliverN answers the first n requests not answered yet (all for n < 0).
func (c *Comparer) DeliverN(ctx context.Context, n int) error {
	for i, id := range c.pending() {
		if i == n {
			break
		}
		if err := c.answer(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// Fail answers the pending requests with an LLMComparisonFailedV1 of
// reason (a contracts.LLMFailure* code) instead of a verdict.
func (c *Comparer) Fail(ctx context.Context, reason, message string) error {
	for _, id := range c.pending() {
		c.mu.Lock()
		req := c.requests[id]
		c.mu.Unlock()
		err := c.pub.Publish(ctx, contracts.Message{EventType: contracts.TypeLLMComparisonFailedV1, Topic: req.CallbackTopic,
			Key: id, Identity: []string{id}, CorrelationID: req.CorrelationID,
			Data: contracts.LLMComparisonFailedV1{RequestID: id, QueueID: "q-" + id, EssayAID: req.EssayA.ID, EssayBID: req.EssayB.ID,
				Reason: reason, Message: message, Metadata: req.Metadata}})
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.answered[id], c.failed[id] = true, reason
		c.mu.Unlock()
	}
	return nil
}

func (c *Comparer) pending() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for _, id := range c.order {
		if !c.answered[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// Requests returns the distinct requests submitted, in first submission
// order.
func (c *Comparer) Requests() []contracts.LLMComparisonRequestV1 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]contracts.LLMComparisonRequestV1, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.requests[id])
	}
	return out
}

// Submits counts the Submit calls, repeats and failures included.
func (c *Comparer) Submits() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.submits
}

// Pending returns the request ids not answered yet.
func (c *Comparer) Pending() []string { return slices.Clone(c.pending()) }
