package llmprovider

import (
	"context"
	"errors"
	"time"

	"github.com/huleedu/huleedu/services/contracts"
)

// Queue errors callers branch on.
var (
	// ErrQueueFull is wrapped by Enqueue errors when adding the entry
	// would pass the queue's request or byte limit. Nothing was queued.
	ErrQueueFull = errors.New("llmprovider: queue full")
	// ErrNotFound is wrapped by Get errors for an unknown queue id (or a
	// finished entry no longer retained).
	ErrNotFound = errors.New("llmprovider: queue entry not found")
	// ErrClaimLost is wrapped by Release and Finish errors when the entry
	// is no longer claimed with that token: its lease ran out and another
	// worker took it, or it was finished already.
	ErrClaimLost = errors.New("llmprovider: queue claim lost")
)

// Entry is one comparison request in the queue.
type Entry struct {
	// QueueID identifies the entry. The service derives it from the
	// request id, so a repeated request finds its entry.
	QueueID string `json:"queue_id"`
	// Request is the validated request, defaults applied.
	Request contracts.LLMComparisonRequestV1 `json:"request"`
	// Bytes is what the entry counts against the byte limit.
	Bytes int64 `json:"bytes"`
	// Status is contracts.LLMStatusQueued, Processing, Completed or
	// Failed.
	Status string `json:"status"`
	// Attempts counts the claims.
	Attempts int `json:"attempts"`
	// Claim is the token of the current claim (0 when not claimed);
	// Release and Finish must present it.
	Claim uint64 `json:"claim"`
	// EnqueuedAt, UpdatedAt and ExpiresAt (the end of its TTL).
	EnqueuedAt time.Time `json:"enqueued_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	// NotBefore is when a released entry is due again.
	NotBefore time.Time `json:"not_before,omitzero"`
	// LeaseUntil is when a claim runs out and the entry is due again (its
	// worker died).
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	// LastError is the most recent retriable problem.
	LastError string `json:"last_error,omitempty"`
	// Provider is the provider last asked, or the one that decided.
	Provider string `json:"provider,omitempty"`
	// FailureReason is the contracts.LLMFailure* code of a failed entry.
	FailureReason string `json:"failure_reason,omitempty"`
	// Trace is the W3C trace context (traceparent, tracestate) of the
	// request that queued the entry: its outcome event continues that
	// trace, so one batch stays one trace across the queue.
	Trace map[string]string `json:"trace,omitempty"`
	// Decided is an outcome reached but not yet published (the publish
	// was not accepted): the next claim publishes it instead of asking a
	// provider again, so no comparison is paid for twice.
	Decided *Decision `json:"decided,omitempty"`
}

// Decision is the event that ends a comparison: exactly one of Result and
// Failure is set.
type Decision struct {
	Result  *contracts.LLMComparisonResultV1 `json:"result,omitempty"`
	Failure *contracts.LLMComparisonFailedV1 `json:"failure,omitempty"`
}

// Release says how a claimed entry goes back into the queue.
type Release struct {
	// At is the time of the release (UpdatedAt).
	At time.Time
	// NotBefore is when the entry is due again.
	NotBefore time.Time
	// LastError is why it goes back.
	LastError string
	// Provider is the provider last asked.
	Provider string
	// Decided, when set, is kept for the next claim to publish.
	Decided *Decision
}

// Finish says how a claimed entry ends.
type Finish struct {
	// At is the time of the end (UpdatedAt).
	At time.Time
	// Status is contracts.LLMStatusCompleted or LLMStatusFailed.
	Status string
	// Provider is the provider that decided, if any.
	Provider string
	// FailureReason is the contracts.LLMFailure* code of a failure.
	FailureReason string
}

// Stats describe the queue: the entries waiting or being processed.
type Stats struct {
	Requests    int       `json:"requests"`
	Bytes       int64     `json:"bytes"`
	MaxRequests int       `json:"max_requests"`
	MaxBytes    int64     `json:"max_bytes"`
	OldestAt    time.Time `json:"oldest_at,omitzero"`
	// Finished counts the finished entries retained for Get.
	Finished int `json:"finished"`
}

// Queue holds the comparison requests between POST /v1/comparison and the
// event that ends them. Entries are claimed by workers, oldest first, and
// either finished or released back; an entry whose worker died is due
// again when its lease runs out. Implementations are safe for concurrent
// use and pass the conformance suite in package queuetest (MemoryQueue
// here; a SQL table next, see the package documentation).
type Queue interface {
	// Enqueue adds e (QueueID, Request, Bytes, EnqueuedAt, ExpiresAt set;
	// the queue sets Status and the rest). If an entry with e's QueueID is
	// known (queued, processing, or finished and retained) it returns that
	// one and created false, changing nothing. Adding past MaxRequests or
	// MaxBytes is an error wrapping ErrQueueFull.
	Enqueue(ctx context.Context, e Entry) (got Entry, created bool, err error)
	// Claim takes the oldest entry that is due at now: queued with
	// NotBefore at or before now, or queued and expired (ExpiresAt at or
	// before now, whatever NotBefore says), or processing with a lease
	// that ran out. It marks it processing under a new claim token,
	// increments Attempts and sets LeaseUntil to now+lease. ok is false
	// when nothing is due.
	Claim(ctx context.Context, now time.Time, lease time.Duration) (e Entry, ok bool, err error)
	// Release puts a claimed entry back into the queue as r says.
	Release(ctx context.Context, queueID string, claim uint64, r Release) error
	// Finish ends a claimed entry: it leaves the queue, freeing its room,
	// and is kept (without its essays) for Get until the retention limit
	// pushes it out.
	Finish(ctx context.Context, queueID string, claim uint64, f Finish) error
	// Get returns the entry of queueID, or an error wrapping ErrNotFound.
	Get(ctx context.Context, queueID string) (Entry, error)
	// NextDue returns the earliest time an entry not yet due becomes due
	// (a NotBefore, an ExpiresAt or a LeaseUntil); zero when there is none.
	NextDue(ctx context.Context) (time.Time, error)
	// Stats returns the queue's size and limits.
	Stats(ctx context.Context) (Stats, error)
}

// entryBytes is what an entry counts against the byte limit: the texts
// and strings it keeps.
func entryBytes(r contracts.LLMComparisonRequestV1) int64 {
	n := len(r.RequestID) + len(r.EssayA.ID) + len(r.EssayA.Text) + len(r.EssayB.ID) + len(r.EssayB.Text) +
		len(r.Prompt) + len(r.Rubric) + len(r.Provider) + len(r.Model) + len(r.CallbackTopic) + len(r.CorrelationID)
	for k, v := range r.Metadata {
		n += len(k) + len(v)
	}
	return int64(n)
}
