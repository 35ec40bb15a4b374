// Package essaylifecycle is HuleEdu's Essay Lifecycle Service (ELS): it
// tracks every essay of every batch through the pipeline and tells the
// Batch Orchestrator when a batch, or a phase of it, is done.
//
// A registration (BatchEssaysRegistered) creates one slot per expected
// essay. Each uploaded file fills the first empty slot: provisioned
// content makes the essay content_ready, a file that failed validation
// makes it failed, so the registration's count is the number of files
// uploaded, valid or not, and a broken file never leaves the batch
// waiting. Files beyond the count are kept aside as excess and not
// processed. Uploads that arrive before their batch's registration wait
// in the batch's pending list and fill the slots when it arrives. When
// every slot is settled, BatchEssaysReady is published, once.
//
// Essay states move forward only:
//
//	awaiting_content -> content_ready -> spellchecking -> spellchecked -> cj_assessing -> ranked
//
// and any state but ranked may end in failed.
//
// Phases: BatchSpellcheckRequested makes ELS send one
// EssaySpellcheckRequestedV1 per essay; SpellcheckCompletedV1 results are
// recorded, and when every essay of the phase has one, an
// ELSBatchPhaseOutcomeV1 for spellcheck is published (processed essays
// carry their spelling error counts). CJ Assessment consumes
// BatchCJAssessmentRequested itself; ELS marks the essays cj_assessing,
// records CJAssessmentCompletedV1 (ranks and scores) and publishes the
// cj_assessment outcome. A CJ result that overtakes ELS's copy of the
// request is fine: nothing moves backwards.
//
// Guarantees: BatchEssaysReady and each phase outcome are published at
// most once per batch, whatever the order or number of deliveries; a
// handler changes the batch only if the events it publishes are accepted
// (BatchRepository runs the change and the publish together), so a retry
// starts from the same state and publishes the same event ids.
//
// Persistence: BatchRepository, in the service's database
// (SQLBatchRepository, PostgreSQL or SQLite; one row per batch with its
// BatchState as JSON, see migrations/), or in memory for tests
// (MemoryBatchRepository). Every handler runs in the consumer's
// transaction, which also marks its event processed and holds the events
// it publishes in the outbox: a redelivered event changes nothing, a
// failed handler leaves nothing behind, and the events of a change are
// published exactly when it commits.
//
// Usage:
//
//	svc, err := essaylifecycle.New(essaylifecycle.Deps{Bus: bus, Logger: logger})
//	if err != nil {
//		return err
//	}
//	svc.Routes(mux) // GET /v1/batches/{id}/essays
//	for topic, handle := range svc.Handlers() {
//		consumer.Handle(topic, handle)
//	}
package essaylifecycle
