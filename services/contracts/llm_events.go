package contracts

import "time"

// The LLM Provider Service's contract: the body of POST /v1/comparison,
// its 202 answer, and the two events that end every accepted comparison
// on the caller's callback topic (the original platform's
// LLMComparisonRequest and LLMComparisonResultV1).
const (
	// TypeLLMComparisonResultV1 carries a judged comparison.
	TypeLLMComparisonResultV1 = "LLMComparisonResultV1"
	// TypeLLMComparisonFailedV1 says a comparison will not be judged, and
	// why.
	TypeLLMComparisonFailedV1 = "LLMComparisonFailedV1"

	// TopicLLMComparisonResultV1 is the default callback topic: LLM
	// Provider → the requester (CJ Assessment), results and failures
	// alike. A request may name another topic; the events go there.
	TopicLLMComparisonResultV1 = "huleedu.llm_provider.comparison_result.v1"
)

// LLMEssay is one essay of a comparison.
type LLMEssay struct {
	// ID identifies the essay; the result names the winner by it.
	ID string `json:"id"`
	// Text is the essay's text.
	Text string `json:"text"`
	// SpellingErrors is what the spellcheck phase found (0 when it did
	// not run). The local provider weighs it; LLM providers ignore it.
	SpellingErrors int `json:"spelling_errors,omitempty"`
}

// LLMComparisonRequestV1 is the body of POST /v1/comparison: which of two
// essays is better, judged by the rubric.
type LLMComparisonRequestV1 struct {
	// RequestID is the caller's idempotency key, echoed in the events: a
	// request repeated with the same id is queued once and answered with
	// the same queue id. Optional (a new id is made); at most 200 bytes.
	RequestID string `json:"request_id,omitempty"`
	// EssayA and EssayB are the essays, A shown first.
	EssayA LLMEssay `json:"essay_a"`
	EssayB LLMEssay `json:"essay_b"`
	// Prompt is the assignment the essays answer (the essay instructions).
	Prompt string `json:"prompt,omitempty"`
	// Rubric says what makes one essay better than another. Optional: the
	// service has a default.
	Rubric string `json:"rubric,omitempty"`
	// Provider is the preferred provider ("anthropic", "openai",
	// "openrouter", "local"); when it is unavailable the service falls
	// back to the next in its configured order. Optional.
	Provider string `json:"provider,omitempty"`
	// Model overrides the provider's configured model. Optional.
	Model string `json:"model,omitempty"`
	// CallbackTopic is the Kafka topic the result or failure goes to.
	// Optional: TopicLLMComparisonResultV1.
	CallbackTopic string `json:"callback_topic,omitempty"`
	// CorrelationID ties the events to the caller's work. Optional: the
	// request's X-Correlation-ID.
	CorrelationID string `json:"correlation_id,omitempty"`
	// TTLSeconds bounds how long the request may wait in the queue before
	// it fails with reason "expired". Optional: the service's default.
	TTLSeconds int `json:"ttl_seconds,omitempty"`
	// Metadata is echoed in the events, for the caller's bookkeeping.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// LLMComparisonAccepted is the 202 answer of POST /v1/comparison, and the
// body of GET /v1/status/{queue_id}.
type LLMComparisonAccepted struct {
	QueueID   string `json:"queue_id"`
	RequestID string `json:"request_id"`
	// Status is one of the LLMStatus* values.
	Status string `json:"status"`
	// Attempts counts the times a worker took the request up.
	Attempts int `json:"attempts"`
	// Provider is the provider that judged (or failed) it, once known.
	Provider string `json:"provider,omitempty"`
	// LastError is the most recent retriable problem, while queued again.
	LastError string `json:"last_error,omitempty"`
	// FailureReason is one of the LLMFailure* codes, when failed.
	FailureReason string    `json:"failure_reason,omitempty"`
	EnqueuedAt    time.Time `json:"enqueued_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	// NextAttemptAt is when a request queued again is taken up next.
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
}

// Queue statuses of a comparison request.
const (
	LLMStatusQueued     = "queued"     // waiting for a worker (or for a provider to recover)
	LLMStatusProcessing = "processing" // a worker is asking a provider
	LLMStatusCompleted  = "completed"  // judged; LLMComparisonResultV1 published
	LLMStatusFailed     = "failed"     // LLMComparisonFailedV1 published
)

// Reasons of LLMComparisonFailedV1.
const (
	// LLMFailureQueueFull: the queue had no room; nothing was queued.
	// RetryAfterSeconds says when to try again.
	LLMFailureQueueFull = "queue_full"
	// LLMFailureExpired: the request waited longer than its TTL (every
	// provider stayed unavailable or failing).
	LLMFailureExpired = "expired"
	// LLMFailureRejected: a provider refused the request as the caller's
	// problem (HTTP 400, 401, 403, 404: invalid input, a bad key, an
	// unknown model). Retrying the same request will not help.
	LLMFailureRejected = "rejected"
)

// LLMComparisonResultV1 is a judged comparison, published to the
// request's callback topic with the event id of (type, request id).
type LLMComparisonResultV1 struct {
	RequestID string `json:"request_id"`
	QueueID   string `json:"queue_id"`
	EssayAID  string `json:"essay_a_id"`
	EssayBID  string `json:"essay_b_id"`
	// WinnerID is EssayAID or EssayBID, or "" for a tie (only the local
	// provider ties).
	WinnerID string `json:"winner_id"`
	// Confidence is the judge's confidence in [0, 1], when it gives one.
	Confidence float64 `json:"confidence"`
	// Justification is the judge's short reason.
	Justification string `json:"justification,omitempty"`
	Provider      string `json:"provider"`
	Model         string `json:"model"`
	InputTokens   int64  `json:"input_tokens"`
	OutputTokens  int64  `json:"output_tokens"`
	// CostUSD is the estimate from the service's price table.
	CostUSD float64 `json:"cost_usd"`
	// Attempts counts the provider calls made, retries included.
	Attempts int               `json:"attempts"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// LLMComparisonFailedV1 says a comparison will not be judged, published
// to the request's callback topic with the event id of (type, request
// id).
type LLMComparisonFailedV1 struct {
	RequestID string `json:"request_id"`
	QueueID   string `json:"queue_id,omitempty"`
	EssayAID  string `json:"essay_a_id"`
	EssayBID  string `json:"essay_b_id"`
	// Reason is one of the LLMFailure* codes.
	Reason string `json:"reason"`
	// Message says what happened, for people.
	Message string `json:"message"`
	// Provider and StatusCode name the provider's refusal, for
	// LLMFailureRejected.
	Provider   string `json:"provider,omitempty"`
	StatusCode int    `json:"status_code,omitempty"`
	// RetryAfterSeconds is, for LLMFailureQueueFull, when the queue is
	// expected to have room again.
	RetryAfterSeconds int               `json:"retry_after_seconds,omitempty"`
	Metadata          map[string]string `json:"metadata,omitempty"`
}
