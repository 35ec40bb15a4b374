// Package platformtest is the harness of the end-to-end tests
// (services/e2e and services/e2e/observability): it starts every HuleEdu
// service in the test process, as `huleedu serve all` runs them (each its
// own servicekit.App with its own settings, breakers, metrics, admin
// server and ports), on a one-broker Kafka-protocol cluster the test owns
// (embeddedkafka), and drives the platform's HTTP APIs.
//
// Guarantees:
//
//   - every platform topic and its dead-letter topic exist before the
//     services start;
//   - the services keep their state where Options.Database says: by
//     default a SQLite file each in a data directory of the test's
//     (Options.DataDir, Platform.DataDir), with HULEEDU_E2E_DATABASE=postgres
//     (or Options.Database) one PostgreSQL database of pgtest's, a schema
//     per service; the services with a database publish through their
//     outboxes unless Options.Env sets KAFKA_FALLBACK_MODE;
//   - the services run with timings short enough for a test (a publish
//     gives up on Kafka after 500ms and goes to the fallback queue, two
//     failures open the Kafka breaker, a vanished consumer is replaced
//     within 2s); Options.Env overrides any of them;
//   - when the test ends every service still running is stopped gracefully
//     (a service stopped with Restart's halt is not stopped twice), the
//     HTTP client's connections are closed, and the services' logs are
//     printed if the test failed or HULEEDU_E2E_LOGS is set;
//   - Do sends ctx's trace as a traceparent header, so a test's client
//     span is the parent of the platform's spans.
//
// Usage:
//
//	p := platformtest.Start(t, platformtest.Options{})
//	batchID, err := p.RegisterBatch(ctx, 10)
//	if err != nil {
//		t.Fatal(err)
//	}
//	if err := p.UploadEssays(ctx, batchID, 10); err != nil {
//		t.Fatal(err)
//	}
//	p.Cluster.Fault(embeddedkafka.FaultCut) // break Kafka mid-pipeline
//	...
//	p.RestartAll() // or crash every service and start them again on their state
//	b := p.WaitCompleted(batchID, time.Minute)
package platformtest
