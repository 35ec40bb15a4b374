// Package observability holds the end-to-end tests of what operators see
// of the HuleEdu platform: metrics scraped by a real Prometheus running the
// project's alert rules, and traces that follow one batch across services.
//
// Every service runs in the test process as `huleedu serve all` runs them
// (servicegroup.Start, each service its own App with its own settings,
// breakers, metrics, admin server and ports) on a Kafka-protocol cluster
// the test owns (embeddedkafka), with timings short enough for a test.
//
//   - TestKafkaOutageFiresQueueGrowingAlertThenResolves starts Prometheus
//     (internal/promtest) scraping every service's /metrics with
//     deploy/prometheus/alerts.yml, 60 times faster (for: 5m becomes 5s),
//     keeps the Batch Orchestrator publishing, cuts Kafka and asserts
//     through Prometheus's HTTP API that the orchestrator's
//     kafka_producer breaker went to 1 and FallbackQueueGrowing fired, then
//     heals Kafka and asserts that the alert resolved, the breaker is back
//     at 0 and the queue empty. It logs when each happened, relative to
//     the cut, and checks that each breaker transition was logged once.
//   - TestOneBatchIsOneTraceAcrossServices gives every service its own
//     tracer provider (service.name) recording into one span recorder,
//     submits a batch under one client trace and checks that the whole
//     pipeline, HTTP and Kafka hops alike, lands in that one trace.
//
// Without the prometheus binary the alert test is skipped, except in CI
// (CI=true), where it fails; scripts/promtool.sh installs Debian's
// prometheus package. Run with
//
//	go test -race ./services/e2e/observability/
package observability
