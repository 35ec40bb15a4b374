package llmprovider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/huleedu/huleedu/services/contracts"
)

// MemoryQueueOptions bound a MemoryQueue.
type MemoryQueueOptions struct {
	// MaxRequests bounds the entries waiting or being processed. Required.
	MaxRequests int
	// MaxBytes bounds their Bytes. Required.
	MaxBytes int64
	// RetainFinished is how many finished entries are kept for Get (the
	// oldest go first). Default max(MaxRequests, 1000).
	RetainFinished int
}

// MemoryQueue is the in-memory Queue: bounded, safe for concurrent use,
// and lost with the process (a restarted service has an empty queue; its
// callers resubmit by request id). It is the queue until the SQL one
// exists; see the package documentation.
type MemoryQueue struct {
	opts MemoryQueueOptions

	mu       sync.Mutex // guards everything below
	entries  map[string]*Entry
	active   []string // queue ids waiting or processing, in enqueue order
	finished []string // finished queue ids, oldest first
	bytes    int64
	claims   uint64
}

var _ Queue = (*MemoryQueue)(nil)

// NewMemoryQueue returns an empty queue.
func NewMemoryQueue(o MemoryQueueOptions) (*MemoryQueue, error) {
	if o.MaxRequests < 1 || o.MaxBytes < 1 {
		return nil, fmt.Errorf("llmprovider: NewMemoryQueue: MaxRequests = %d and MaxBytes = %d must be at least 1", o.MaxRequests, o.MaxBytes)
	}
	if o.RetainFinished == 0 {
		o.RetainFinished = max(o.MaxRequests, 1000)
	}
	return &MemoryQueue{opts: o, entries: map[string]*Entry{}}, nil
}

// Enqueue implements Queue.
func (q *MemoryQueue) Enqueue(ctx context.Context, e Entry) (Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if old, ok := q.entries[e.QueueID]; ok {
		return cloneEntry(old), false, nil
	}
	if n := len(q.active); n+1 > q.opts.MaxRequests {
		return Entry{}, false, fmt.Errorf("%w: %d of %d requests queued", ErrQueueFull, n, q.opts.MaxRequests)
	}
	if q.bytes+e.Bytes > q.opts.MaxBytes {
		return Entry{}, false, fmt.Errorf("%w: %d of %d bytes queued, the request has %d", ErrQueueFull, q.bytes, q.opts.MaxBytes, e.Bytes)
	}
	stored := cloneEntry(&e)
	stored.Status, stored.Attempts, stored.Claim, stored.UpdatedAt = contracts.LLMStatusQueued, 0, 0, e.EnqueuedAt
	stored.NotBefore, stored.LeaseUntil, stored.Decided = time.Time{}, time.Time{}, nil
	q.entries[e.QueueID] = &stored
	q.active = append(q.active, e.QueueID)
	q.bytes += e.Bytes
	return cloneEntry(&stored), true, nil
}

// due reports whether e can be claimed at now.
func due(e *Entry, now time.Time) bool {
	switch e.Status {
	case contracts.LLMStatusQueued:
		return !now.Before(e.NotBefore) || !now.Before(e.ExpiresAt)
	case contracts.LLMStatusProcessing:
		return !now.Before(e.LeaseUntil)
	}
	return false
}

// Claim implements Queue.
func (q *MemoryQueue) Claim(ctx context.Context, now time.Time, lease time.Duration) (Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, id := range q.active {
		e := q.entries[id]
		if !due(e, now) {
			continue
		}
		q.claims++
		e.Status, e.Claim, e.LeaseUntil, e.UpdatedAt = contracts.LLMStatusProcessing, q.claims, now.Add(lease), now
		e.Attempts++
		return cloneEntry(e), true, nil
	}
	return Entry{}, false, nil
}

// claimed returns the entry of id if claim is its current claim (mu held).
func (q *MemoryQueue) claimed(id string, claim uint64) (*Entry, error) {
	e, ok := q.entries[id]
	if !ok || e.Status != contracts.LLMStatusProcessing || e.Claim != claim {
		return nil, fmt.Errorf("%w: entry %s, claim %d", ErrClaimLost, id, claim)
	}
	return e, nil
}

// Release implements Queue.
func (q *MemoryQueue) Release(ctx context.Context, queueID string, claim uint64, r Release) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, err := q.claimed(queueID, claim)
	if err != nil {
		return err
	}
	e.Status, e.Claim, e.LeaseUntil, e.UpdatedAt = contracts.LLMStatusQueued, 0, time.Time{}, r.At
	e.NotBefore, e.LastError = r.NotBefore, r.LastError
	if r.Provider != "" {
		e.Provider = r.Provider
	}
	if r.Decided != nil {
		e.Decided = cloneDecision(r.Decided)
	}
	return nil
}

// Finish implements Queue.
func (q *MemoryQueue) Finish(ctx context.Context, queueID string, claim uint64, f Finish) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, err := q.claimed(queueID, claim)
	if err != nil {
		return err
	}
	e.Status, e.Claim, e.LeaseUntil, e.NotBefore, e.UpdatedAt = f.Status, 0, time.Time{}, time.Time{}, f.At
	e.FailureReason, e.Decided = f.FailureReason, nil
	if f.Provider != "" {
		e.Provider = f.Provider
	}
	// A finished entry keeps only what Get reports: the essays go.
	e.Request.EssayA.Text, e.Request.EssayB.Text, e.Request.Prompt, e.Request.Rubric = "", "", "", ""
	q.bytes -= e.Bytes
	q.active = slices.DeleteFunc(q.active, func(id string) bool { return id == queueID })
	q.finished = append(q.finished, queueID)
	if over := len(q.finished) - q.opts.RetainFinished; over > 0 {
		for _, id := range q.finished[:over] {
			delete(q.entries, id)
		}
		q.finished = slices.Delete(q.finished, 0, over)
	}
	return nil
}

// Get implements Queue.
func (q *MemoryQueue) Get(ctx context.Context, queueID string) (Entry, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[queueID]
	if !ok {
		return Entry{}, fmt.Errorf("%w: %s", ErrNotFound, queueID)
	}
	return cloneEntry(e), nil
}

// NextDue implements Queue.
func (q *MemoryQueue) NextDue(ctx context.Context) (time.Time, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var next time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, id := range q.active {
		e := q.entries[id]
		if e.Status == contracts.LLMStatusProcessing {
			earliest(e.LeaseUntil)
			continue
		}
		earliest(e.NotBefore)
		earliest(e.ExpiresAt)
	}
	return next, nil
}

// Stats implements Queue.
func (q *MemoryQueue) Stats(ctx context.Context) (Stats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := Stats{Requests: len(q.active), Bytes: q.bytes, MaxRequests: q.opts.MaxRequests, MaxBytes: q.opts.MaxBytes,
		Finished: len(q.finished)}
	if len(q.active) > 0 {
		st.OldestAt = q.entries[q.active[0]].EnqueuedAt
	}
	return st, nil
}

func cloneEntry(e *Entry) Entry {
	c := *e
	c.Request.Metadata = maps.Clone(e.Request.Metadata)
	c.Trace = maps.Clone(e.Trace)
	c.Decided = cloneDecision(e.Decided)
	return c
}

func cloneDecision(d *Decision) *Decision {
	if d == nil {
		return nil
	}
	c := Decision{}
	if d.Result != nil {
		r := *d.Result
		r.Metadata = maps.Clone(r.Metadata)
		c.Result = &r
	}
	if d.Failure != nil {
		f := *d.Failure
		f.Metadata = maps.Clone(f.Metadata)
		c.Failure = &f
	}
	return &c
}
