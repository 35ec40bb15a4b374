// Package llmclient is the client of the LLM Provider Service's
// queue-first API: Submit sends a comparison to POST /v1/comparison and
// returns its queue id; the verdict arrives later on the request's
// callback topic. CJ Assessment uses it with an http.Client from
// servicekit.HTTPClients, whose transport puts the breaker
// "<service>.llm_provider_service" in front of the service.
//
// Errors say what the caller can do: ErrQueueFull (*QueueFullError, with
// the service's retry_after_seconds) and any other failure are worth a
// later retry with the same request id; ErrRejected (the request itself
// is invalid) is not.
//
// Usage:
//
//	c, err := llmclient.New(clients.For("llm_provider_service"), "http://127.0.0.1:7008")
//	if err != nil {
//		return err
//	}
//	accepted, err := c.Submit(ctx, contracts.LLMComparisonRequestV1{RequestID: id, EssayA: a, EssayB: b})
package llmclient
