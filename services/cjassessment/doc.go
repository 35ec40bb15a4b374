// Package cjassessment is HuleEdu's CJ (comparative judgement) Assessment
// Service: it ranks a batch's essays by comparing them in pairs and
// fitting a Bradley–Terry model to the verdicts.
//
// For every BatchCJAssessmentRequested it fetches the essays' texts from
// the File Service, forms the comparison pairs (Pairs: each essay against
// about Config.ComparisonsPerEssay others, deterministic, connected,
// positions balanced) and sends each pair to the LLM Provider Service
// (POST /v1/comparison through the breaker
// "cj_assessment_service.llm_provider_service"). The verdicts come back
// over Kafka (LLMComparisonResultV1 on TopicLLMComparisonResultV1); each
// is matched to its pending pair by batch, pair and attempt and stored,
// the first one only, so every pair is judged once. The last verdict fits
// the model (FitBradleyTerry: Hunter's MM iteration with a small prior,
// so unbeaten essays and ties are handled) and publishes
// CJAssessmentCompletedV1 with the essays ranked best first.
//
// Who judges is the LLM Provider's business: with no API key configured it
// runs the deterministic local judge (package llmprovider/localjudge), so
// batches complete anywhere and reproducibly; with keys, Anthropic, OpenAI
// or OpenRouter, with fallback between them.
//
// Failure handling: an LLM Provider that cannot be reached (or whose
// breaker is open) fails the request handler, so the consumer retries the
// event later; pairs decided meanwhile are not sent again, and pairs sent
// before are recognised by their request id and queued once. A comparison
// that expired in the LLM Provider's queue, or came back with a verdict
// naming neither essay, is sent again as its next attempt, up to
// COMPARISON_MAX_ATTEMPTS; a comparison the provider rejected is given up
// at once. Given-up pairs are left out of the fit and listed in the
// stored assessment. A batch that made no progress for
// COMPARISON_RESEND_AFTER has its undecided pairs sent again under the
// same request ids (ResendStalled, run in the background), so a verdict
// the LLM Provider lost in a restart of its in-memory queue is asked for
// again; a pair whose attempt the LLM Provider already ended (its failure
// event lost) goes on to its next attempt. A full LLM Provider queue does
// not fail the request handler: the batch is left to ResendStalled, due
// when the queue expects room again. An essay whose text will never be available is
// reported in FailedEssayIDs. The result carries the deterministic event
// id of the batch; a redelivered request republishes the stored result.
//
// Persistence (batches, pair outcomes, results) is in memory
// (MemoryRepository) behind the Repository interface.
//
// Usage:
//
//	files, _ := contentclient.New(clients.For("file_service"), "http://127.0.0.1:7001")
//	llm, _ := llmclient.New(clients.For("llm_provider_service"), "http://127.0.0.1:7008")
//	svc, err := cjassessment.New(cjassessment.Config{},
//		cjassessment.Deps{Bus: bus, Content: files, Comparisons: llm})
//	if err != nil {
//		return err
//	}
//	svc.Routes(mux) // GET /v1/assessments/{batch_id}
//	for topic, handle := range svc.Handlers() {
//		consumer.Handle(topic, handle)
//	}
package cjassessment
