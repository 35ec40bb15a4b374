// Package contracts holds what HuleEdu's services agree on: the payloads of
// the events they exchange (the data field of an event.Envelope), the
// topics of the events that package event does not name, the phase and
// status vocabulary, the signature of an event handler, and Publisher, the
// one way a service publishes.
//
// The JSON field names are snake_case and follow the original Python
// platform's common_core models where this Go port keeps the field; where it
// renames one (the original's entity_id is batch_id here, text_storage_id is
// content_id) the field's comment says so.
//
// Guarantees:
//
//   - Every event a service publishes goes through Publisher, which gives it
//     a deterministic event_id built from the event type and the business
//     facts that identify it (event.DeterministicID). A handler that is
//     retried, or an HTTP request that is repeated, publishes the same ids,
//     so consumers drop the duplicates.
//   - TopicFor knows every event type the services publish: the ones in
//     package event and the ones added here (EssaySpellcheckRequestedV1,
//     ELSBatchPhaseOutcomeV1, LLMComparisonResultV1, LLMComparisonFailedV1).
//     Message.Topic sends an event to a topic its requester named (the LLM
//     Provider's callback topic) instead. Topics lists them all, for creating topics
//     up front.
//   - Payload types are plain data: no methods with side effects, safe to
//     copy.
//
// The pipeline the events implement:
//
//	BOS  --BatchEssaysRegistered------------> ELS
//	File --EssayContentProvisionedV1 / EssayValidationFailedV1--> ELS
//	ELS  --BatchEssaysReady------------------> BOS
//	BOS  --BatchSpellcheckRequested----------> ELS
//	ELS  --EssaySpellcheckRequestedV1 (each)-> Spellchecker
//	Spellchecker --SpellcheckCompletedV1-----> ELS
//	ELS  --ELSBatchPhaseOutcomeV1 (spellcheck)--> BOS
//	BOS  --BatchCJAssessmentRequested--------> CJ Assessment (and ELS)
//	CJ   --POST /v1/comparison (HTTP, each pair)--> LLM Provider
//	LLM Provider --LLMComparisonResultV1 / LLMComparisonFailedV1--> CJ
//	CJ   --CJAssessmentCompletedV1-----------> ELS
//	ELS  --ELSBatchPhaseOutcomeV1 (cj_assessment)--> BOS
//	BOS  --BatchPipelineCompletedV1
//
// Usage:
//
//	pub, err := contracts.NewPublisher(bus, "file_service", nil)
//	if err != nil {
//		return err
//	}
//	err = pub.Publish(ctx, contracts.Message{
//		EventType:     event.TypeEssayContentProvisionedV1,
//		Key:           batchID,
//		Data:          contracts.EssayContentProvisionedV1{BatchID: batchID /* ... */},
//		Identity:      []string{batchID, fileUploadID},
//		CorrelationID: correlationID,
//	})
package contracts
