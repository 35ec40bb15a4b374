// Package llmprovider is HuleEdu's LLM Provider Service
// (llm_provider_service): it judges pairs of essays for comparative
// judgement with LLM APIs, behind one circuit breaker per provider, and
// returns the verdicts over Kafka.
//
// # Queue first
//
// POST /v1/comparison validates a contracts.LLMComparisonRequestV1,
// queues it and answers 202 with its queue id (contracts.LLMComparisonAccepted).
// Workers take the queue oldest first and publish exactly one of
// LLMComparisonResultV1 or LLMComparisonFailedV1 to the request's
// callback topic (event id from the request id, so a repeat is dropped by
// consumers). GET /v1/status/{queue_id} reports where a request is. A
// request repeated with the same request_id finds its entry: it is queued
// and judged once.
//
// The queue is bounded in requests and bytes (LLM_QUEUE_MAX_REQUESTS,
// LLM_QUEUE_MAX_BYTES): a request that does not fit gets 503 with
// Retry-After and retry_after_seconds, and the same as a failure event
// with reason queue_full. Every request has a TTL (its ttl_seconds, or
// LLM_QUEUE_REQUEST_TTL); one that could not be judged before it fails
// with reason expired: no accepted request vanishes.
//
// # Providers and breakers
//
// The providers are Anthropic (Messages API, anthropic-sdk-go), OpenAI
// and OpenRouter (chat completions, openai-go, OpenRouter at its base
// URL) and local (package localjudge, deterministic, no key: the default
// when no key is set). The SDKs' own retries are off and their calls are
// bounded by the request's deadline; the service retries, through the
// breaker. Each provider has a breaker named llm_<provider> with the
// LLM_CIRCUIT_BREAKER_* settings (3 failures, 120s, 2 successes).
// Classify maps outcomes:
//
//	429, 529 (overloaded)        failure; the breaker opens until at least Retry-After; next provider
//	5xx, 408, timeout, network,  failure; retried with exponential backoff and jitter
//	malformed body, bad verdict  (LLM_RETRY_*), then the next provider
//	400, 401, 403, 404, other 4xx  the caller's problem: not a failure, not retried; reason "rejected"
//
// A request tries its preferred provider, then LLM_PROVIDER_ORDER; a
// provider whose breaker is open is skipped. When none can judge, the
// request goes back to the queue until a breaker's open period ends (or
// its TTL does). Each provider has at most LLM_PROVIDER_MAX_CONCURRENCY
// calls in flight. Tokens and the estimated cost (LLM_PRICES) are counted
// per provider and model (Metrics).
//
// # Durability
//
// The queue is the Queue interface. MemoryQueue is bounded and lost with
// the process; package queuetest is the conformance suite any queue
// passes, including the durability tests a SQL queue will run. A SQL
// queue needs one table keyed by queue id (request, bytes, status,
// attempts, claim token, enqueued/updated/expires/not-before/lease times,
// last error, provider, failure reason, the decided event), claims by
// UPDATE ... WHERE the row is due ORDER BY enqueue sequence LIMIT 1 with
// SKIP LOCKED (PostgreSQL) or a single writer (SQLite), the limits
// checked in the inserting transaction, Finish and the outcome event in
// one transaction through the outbox, and a retention sweep of finished
// rows.
//
// Usage:
//
//	d, err := llmprovider.NewDispatcher(llmprovider.DispatcherConfig{
//		Providers: []llmprovider.Provider{llmprovider.LocalProvider{}},
//		Breakers:  breakers,
//	})
//	if err != nil {
//		return err
//	}
//	q, _ := llmprovider.NewMemoryQueue(llmprovider.MemoryQueueOptions{MaxRequests: 1000, MaxBytes: 64 << 20})
//	svc, err := llmprovider.New(llmprovider.Config{}, llmprovider.Deps{Bus: bus, Queue: q, Dispatcher: d})
//	if err != nil {
//		return err
//	}
//	svc.Routes(mux) // POST /v1/comparison, GET /v1/status/{queue_id}
//	err = svc.Start(ctx)
package llmprovider
