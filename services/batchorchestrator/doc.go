// Package batchorchestrator is HuleEdu's Batch Orchestrator Service (BOS):
// it registers batches and drives each batch through the phases of its
// pipeline.
//
// POST /v1/batches validates the registration, asks the Batch Conductor
// over HTTP (through a circuit breaker) which phases the requested
// pipeline runs, stores the batch and publishes BatchEssaysRegistered.
// From then on events drive the batch:
//
//	BatchEssaysReady (ELS)             -> request the first phase
//	ELSBatchPhaseOutcomeV1 (phase i)   -> request phase i+1 with the essays phase i processed
//	ELSBatchPhaseOutcomeV1 (last)      -> publish BatchPipelineCompletedV1
//
// A phase is requested with BatchSpellcheckRequested or
// BatchCJAssessmentRequested; essays that fail drop out and are counted in
// the completion. A batch with no essay left completes at once.
//
// Guarantees:
//
//   - Each phase is requested at most once per batch and the completion
//     published at most once, however often events are redelivered: a
//     transition happens only from the state it expects (awaiting content,
//     or the phase in progress), and an outcome for any other phase is
//     ignored.
//   - Transitions are atomic with their events: the batch changes inside
//     BatchRepository.Update, whose transaction holds the events in the
//     outbox, so a failed publish or commit leaves the batch as it was for
//     the retried event, which publishes the same deterministic event id.
//   - An open breaker in front of the conductor gives 503 with
//     Retry-After (seconds until the breaker admits a probe), never 500;
//     an unknown pipeline is a 400 naming the known ones.
//
// Persistence: BatchRepository, in the service's database
// (SQLBatchRepository, PostgreSQL or SQLite, one row per batch with the
// Batch as JSON; see migrations/), or in memory for tests
// (MemoryBatchRepository). A registration stores the batch and its event
// in one transaction; every event handler runs in the consumer's, which
// also marks the event processed.
//
// Usage:
//
//	conductor, _ := conductorclient.New(breakerClient, "http://127.0.0.1:8085")
//	svc, err := batchorchestrator.New(batchorchestrator.Config{},
//		batchorchestrator.Deps{Bus: bus, Conductor: conductor, Logger: logger})
//	if err != nil {
//		return err
//	}
//	svc.Routes(mux)
//	for topic, handle := range svc.Handlers() {
//		consumer.Handle(topic, handle) // servicekit's idempotent consumer
//	}
package batchorchestrator
