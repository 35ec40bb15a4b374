// Package cjassessment is HuleEdu's CJ (comparative judgement) Assessment
// Service: it ranks a batch's essays by comparing them in pairs and
// fitting a Bradley–Terry model to the verdicts.
//
// For every BatchCJAssessmentRequested it fetches the essays' texts from
// the File Service, forms the comparison pairs (Pairs: each essay against
// about Config.ComparisonsPerEssay others, deterministic, connected,
// positions balanced), asks the Judge for each verdict through a circuit
// breaker, fits the model (FitBradleyTerry: Hunter's MM iteration with a
// small prior, so unbeaten essays and ties are handled) and publishes
// CJAssessmentCompletedV1 with the essays ranked best first.
//
// The judge is pluggable. The original platform asked LLM providers;
// this port ships LocalJudge, a deterministic in-process judge that
// scores length, vocabulary richness and the spelling errors the
// spellcheck phase found. It is not a model of essay quality; it makes the
// pipeline runnable anywhere and its results reproducible.
//
// Failure handling: a judge failure fails the handler, so the consumer
// retries the event later; verdicts already given are stored and not asked
// for again. While the judge's breaker is open, the handler fails fast
// without calling the judge. An essay whose text will never be available
// is reported in FailedEssayIDs. The result carries the deterministic
// event id of the batch; a redelivered request republishes the stored
// result.
//
// Persistence (verdicts and results): Repository, in the service's
// database (SQLRepository, PostgreSQL or SQLite; see migrations/), or in
// memory for tests (MemoryRepository). The handler runs in the consumer's
// transaction, so a result, its event (in the outbox) and the request's
// processed mark commit together; see SQLRepository for the verdicts.
//
// Usage:
//
//	files, _ := contentclient.New(breakerClient, "http://127.0.0.1:8081")
//	svc, err := cjassessment.New(cjassessment.Config{},
//		cjassessment.Deps{Bus: bus, Content: files, Judge: cjassessment.LocalJudge{}, JudgeBreaker: judgeBreaker})
//	if err != nil {
//		return err
//	}
//	svc.Routes(mux) // GET /v1/assessments/{batch_id}
//	for topic, handle := range svc.Handlers() {
//		consumer.Handle(topic, handle)
//	}
package cjassessment
