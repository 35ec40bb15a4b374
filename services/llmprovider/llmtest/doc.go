// Package llmtest plays the LLM Provider Service in process, for the tests
// of the services that send it comparisons (CJ Assessment, the in-process
// pipeline). Comparer has the service's contract without its queue,
// workers or network: a request id is queued once, and its outcome is
// published to the request's callback topic as LLMComparisonResultV1 or
// LLMComparisonFailedV1 with the service's event ids.
//
// Usage:
//
//	llm := llmtest.NewComparer(bus)          // judges at once with the local judge
//	svc, _ := cjassessment.New(cfg, cjassessment.Deps{Bus: bus, Content: files, Comparisons: llm})
//	llm.Hold(true)                           // keep what is submitted ...
//	_ = llm.Deliver(ctx)                     // ... and answer it later
package llmtest
