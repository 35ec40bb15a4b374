// Package e2e holds the end-to-end tests of the HuleEdu pipeline: all
// services, each its own servicekit.App with its own settings, breakers,
// metrics and ports, run in the test process on an embedded Kafka-protocol
// cluster (embeddedkafka), and a batch of essays goes through
//
//	POST /v1/batches (Batch Orchestrator, which asks the Batch Conductor)
//	POST /v1/files/batch (File Service)
//	→ Essay Lifecycle → spellcheck phase (Spellchecker) → CJ assessment
//	phase (CJ Assessment) → BatchPipelineCompletedV1
//
// while Kafka is cut in the middle of the pipeline. The tests prove the
// platform's guarantees end to end:
//
//   - the batch completes, every essay spellchecked and ranked;
//   - every event a service's bus accepted is in Kafka afterwards (read
//     back topic by topic), nothing dead-lettered;
//   - no duplicate side effects: each phase requested once and one
//     completion per batch, counted by distinct event_id (a timed-out
//     produce may land twice; consumers drop the copy);
//   - with the disk spool, a service halted mid-outage (no drain, as if it
//     crashed) and started again on the same spool directory delivers what
//     the first process accepted, and the batch still completes.
//
// The package has only tests; run them with
//
//	go test -race ./services/e2e/
package e2e
