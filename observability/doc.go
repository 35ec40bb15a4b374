// Package observability exports the resilience layer to operators:
// Prometheus collectors for circuit breakers, the resilient Kafka bus and
// the transactional outbox, publish latency histograms, OpenTelemetry
// tracing set up from the standard OTEL_* variables, a span per breaker
// call, and JSON logging that carries the service, correlation id and
// trace ids.
//
// Guarantees:
//
//   - The collectors read snapshots at scrape time (Registry.Snapshots,
//     ResilientBus.Stats). Breakers and the bus keep their own counters for
//     those snapshots anyway, so exporting metrics adds no work, lock or
//     allocation to a call or a publish; all the cost is in Collect, once per
//     scrape (see BenchmarkBreakerCall and BenchmarkBreakerCollectorScrape).
//   - Metric names and labels are the original platform's, so its
//     dashboards and alerts keep working; they are listed below.
//   - With no OTEL_* configuration SetupTracing installs nothing: spans do
//     not record and Traced costs a no-op span per call.
//   - This package uses kafkabus and outbox only for their Stats types, and
//     neither imports this package (they take the latency histograms as any
//     interface{ Observe(float64) }), so there is no import cycle.
//   - The outbox collector is the exception to "no work per scrape": its
//     table series are a few small queries on the outbox's partial indexes,
//     bounded by a timeout (WithOutboxStatsTimeout).
//
// # Metrics
//
// Every series has the constant label service. Breaker series also have
// circuit_name (the breaker's registry name).
//
//	metric                               type       labels (besides service)            meaning
//	circuit_breaker_state                gauge      circuit_name                        0 closed, 1 open, 2 half-open
//	circuit_breaker_state_changes_total  counter    circuit_name, from_state, to_state  transitions from -> to (1)
//	circuit_breaker_calls_total          counter    circuit_name, result                calls by result (2)
//	kafka_fallback_queue_depth           gauge                                          records waiting in the fallback queue
//	kafka_fallback_queue_bytes           gauge                                          bytes waiting in the fallback queue
//	kafka_fallback_queue_max_records     gauge                                          the queue's record limit (3)
//	kafka_fallback_queue_max_bytes       gauge                                          the queue's byte limit (3)
//	kafka_fallback_oldest_age_seconds    gauge                                          age of the oldest queued record; 0 when empty
//	kafka_fallback_dead_letters          gauge                                          records now in the dead-letter store
//	kafka_fallback_quarantined_ranges    gauge                                          damaged spool ranges moved aside since open (4)
//	kafka_fallback_queue_failed          gauge                                          1 while the disk spool refuses records: storage failed (4)
//	kafka_fallback_missing_records       gauge                                          records found missing from the spool's sequence since open (4)
//	kafka_published_total                counter                                        records Kafka acknowledged on the direct path
//	kafka_fallback_spooled_total         counter                                        records accepted into the fallback queue
//	kafka_fallback_replayed_total        counter                                        queued records the replayer delivered
//	kafka_fallback_dead_lettered_total   counter                                        queued records Kafka rejected for good in replay
//	kafka_publish_rejected_total         counter                                        Publish calls that returned an error (not accepted)
//	kafka_publish_duration_seconds       histogram                                      Publish call duration, buckets 50 µs to 10 s
//	outbox_queue_depth                   gauge                                          outbox rows waiting to be published (5)
//	outbox_queue_retrying                gauge                                          of them, rows waiting for a retry (5)
//	outbox_oldest_event_age_seconds      gauge                                          age of the oldest waiting outbox row; 0 when none (5)
//	outbox_dead_letters                  gauge                                          outbox rows Kafka rejected for good, now in the table (5)
//	outbox_relays_alive                  gauge                                          relays with an unexpired heartbeat (5)
//	outbox_relay_running                 gauge                                          1 while this process's relay runs
//	outbox_leases_held                   gauge                                          lease partitions this process's relay holds, of 64
//	outbox_published_total               counter                                        outbox rows Kafka acknowledged, this process's relay
//	outbox_publish_failures_total        counter                                        publish attempts that failed retriably (row retried)
//	outbox_dead_lettered_total           counter                                        outbox rows moved to the dead letters
//	outbox_relay_errors_total            counter                                        the relay's database failures (each retried)
//	outbox_publish_latency_seconds       histogram                                      outbox row commit to Kafka ack, buckets 1 ms to 1 h
//	service_info                         gauge                                          always 1 (NewRegistry)
//
// (1) States are closed, open and half_open. The usual transitions
// closed->open, open->half_open, half_open->closed and half_open->open are
// exported at 0 before they first happen, so increase() sees the first trip.
//
// (2) result is success, failure, blocked (rejected without running:
// Snapshot.Totals.Rejected) or ignored (an error the breaker counts as
// neither success nor failure, such as a caller's cancellation).
//
// (3) Absent when the queue has no limit in that unit (memory queues count
// records, the disk spool bytes): a 0 would make depth/limit +Inf.
//
// (4) Disk spool only (0 for memory queues). quarantined and missing count
// since the spool was opened, on open (what the previous process left)
// and while reading; they are gauges, not counters, because a restart
// that finds the same damage or gap again reports it again from its
// first scrape, which increase() would miss. A failed spool is back at 0
// once a probe finds its storage working (spool.StorageFailure).
//
// (5) Read from the database at scrape time (OutboxCollector), so every
// replica of a service reports the same table; when the database does not
// answer these are left out of the scrape and the relay's series are still
// served.
//
// Accepted records = kafka_published_total + kafka_fallback_spooled_total.
// Because absent limits leave no series, an alert such as
//
//	kafka_fallback_queue_depth / kafka_fallback_queue_max_records > 0.8
//	or kafka_fallback_queue_bytes / kafka_fallback_queue_max_bytes > 0.8
//
// evaluates only the limit that applies to the queue's mode.
//
// # Tracing
//
// Traced wraps any Caller (a resilience.CircuitBreaker) so each call runs in
// a "circuit_breaker.call" span with the attributes circuit_name and outcome
// (success, failure, rejected); a rejection adds the event
// "circuit_breaker.rejected". SetupTracing's exporter choice is documented
// on the function.
//
// # Usage
//
//	shutdown, err := observability.SetupTracing(ctx, "file_service")
//	if err != nil { return err }
//	defer shutdown(context.Background())
//
//	logger := observability.NewLogger(os.Stdout, "file_service", slog.LevelInfo)
//	defer observability.LogTransitions(logger, breakers)()
//
//	reg := observability.NewRegistry("file_service")
//	reg.MustRegister(observability.NewBreakerCollector("file_service", breakers),
//		observability.NewBusCollector("file_service", bus))
//	// a service with a database, publishing through its outbox:
//	latency := observability.NewOutboxPublishLatency("file_service")
//	reg.MustRegister(observability.NewOutboxCollector("file_service", ob, relay), latency)
//	http.Handle("/metrics", observability.Handler(reg))
package observability
