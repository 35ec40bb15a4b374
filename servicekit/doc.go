// Package servicekit is what every HuleEdu service is built on: settings
// from the environment, fx providers for the Kafka bus, circuit breakers,
// HTTP clients, metrics and the Kafka consumer (package kafkaconsumer), the
// API and admin HTTP servers, and a lifecycle that starts and stops it all
// in an order that loses nothing. Package servicegroup runs several
// services in one process.
//
// # Settings
//
// LoadSettings reads the variables of docs/design.md §6 (CIRCUIT_BREAKER_ENABLED,
// KAFKA_BOOTSTRAP_SERVERS, KAFKA_CIRCUIT_BREAKER_*, KAFKA_FALLBACK_*,
// KAFKA_DRAIN_*) into Settings.Kafka, a kafkabus.Config that NewKafka
// opens, and the service basics (HTTP_ADDR, ADMIN_ADDR, LOG_LEVEL,
// SHUTDOWN_TIMEOUT, HULEEDU_DATA_DIR, DATABASE_*, OUTBOX_*,
// KAFKA_CONSUMER_*, HTTP_CIRCUIT_BREAKER_*, CONTENT_CIRCUIT_BREAKER_*;
// deploy/env.example lists them all). The Kafka
// defaults and ranges are kafkabus's own. Each variable may carry the
// service's prefix, which wins over the plain name:
// FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD configures
// file_service only. Every bad value stops start-up with a message naming
// the variable as it was set, the value and the accepted range:
//
//	FILE_SERVICE_KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD="-1": must be between 1 and 1000000
//
// # Providers
//
// ModuleFrom (or Module, for the process environment) is the fx module
// "servicekit". With CIRCUIT_BREAKER_ENABLED=true the kafkabus.Bus it
// provides is a *kafkabus.ResilientBus whose breaker is registered as
// "<service>.kafka_producer" with the configured thresholds, in front of a
// memory or disk fallback queue; with false it is the plain
// *kafkabus.KafkaBus, as before breakers existed. HTTPClients.For(dep)
// gives a client whose transport is a resilience.Transport with the breaker
// "<service>.<dep>". The Prometheus registry carries the breaker, bus,
// publish-latency and consumer collectors (docs/design.md §7).
//
// A service module registers its API with AsRoutes and its event handlers
// with AsSubscriptions (AsService does both for a service with Routes and
// Handlers methods); the Runner serves and consumes them.
//
// # Services with a database
//
// A service that keeps state declares WithDatabase(its migrations).
// servicekit then opens PostgreSQL when DATABASE_URL (or
// <PREFIX>DATABASE_URL) is set, the service's tables in the schema
// DATABASE_SCHEMA (default: the service name, so services share one
// database safely), and otherwise the SQLite file
// <HULEEDU_DATA_DIR>/<service>/<service>.sqlite, which needs nothing
// installed; it runs the outbox's, the processed-events table's and the
// service's embedded migrations before anything starts, and an unreachable
// or misconfigured database stops the start-up with an error naming the
// variable and the database. The service's repositories take *sqldb.DB
// and write through sqldb.DB.Transact. By default (KAFKA_FALLBACK_MODE=outbox)
// the kafkabus.Bus is the OutboxBus: a publish is written into the outbox
// in the transaction its context carries, and the Runner runs the relay
// that publishes the rows through the breaker "<service>.kafka_producer".
// The transaction of an event travels like this:
//
//	kafkaconsumer.Consumer → processed.Store.Process: BEGIN, INSERT processed_events
//	  → handler(ctx) → repository.Update(ctx, ...) → sqldb.DB.Transact (joins: SAVEPOINT)
//	    → contracts.Publisher.Publish(ctx) → OutboxBus.Publish → outbox.Outbox.Enqueue(tx)
//	  → COMMIT: the state change, its events and the mark, or none of them
//	outbox.Relay → breaker → franz-go → Kafka → the row is done
//
// and an API request's the same way from the repository's Transact on.
//
// # Guarantees
//
//   - The consumer (kafkaconsumer) handles each event_id once per
//     kafkaconsumer.IdempotencyStore, commits offsets only after handling,
//     retries a failing handler with exponential backoff up to
//     KAFKA_CONSUMER_MAX_ATTEMPTS and then publishes the record to
//     "<topic>.dlq" through the service's bus, with the error in its
//     headers; malformed envelopes go there at once. No event is skipped
//     silently: a dead letter that cannot be published is retried and its
//     offset stays uncommitted. The store is in memory unless the service
//     provides its own (fx.Decorate), one that marks events processed in
//     the handler's database transaction.
//   - Handlers run with the event's correlation id (errctx) and the
//     producer's trace (traceparent) in their context.
//   - One trace follows a request across services. An API request runs in
//     a server span that continues the caller's traceparent; HTTPClients
//     requests run in client spans whose traceparent the callee continues;
//     a publish runs in a kafka.publish span whose traceparent travels in
//     the record's headers; each consumed event is handled in a consumer
//     span, the child of that kafka.publish span. Breaker rejections are
//     span events ("circuit_breaker.rejected"). Spans come from the app's
//     trace.TracerProvider (see ModuleFrom); with none installed they cost
//     a no-op span, and trace context is still passed on.
//   - Logs are JSON with service on every line and correlation_id and
//     trace_id on lines logged with a request's or an event's context.
//     Each breaker transition is logged once ("circuit breaker state
//     changed"), never per call; the disk spool logs each recovery event
//     of its open once, and the bus logs once how many records a previous
//     process left to replay.
//   - Shutdown (SIGTERM, SIGINT) stops the API server, then the consumer,
//     then closes the bus so its drainer flushes the fallback queue, all
//     within SHUTDOWN_TIMEOUT; the bus is closed even when the time is up,
//     leaving the rest in the disk spool or reporting it as undelivered.
//   - Every error answer of the API and admin servers is JSON, in the
//     services' error body (services/contracts/httpjson): the mux's 404
//     and 405, http.Error and a handler's panic (a 500) included.
//   - /readyz is 200 while Kafka answers, and also while it does not but the
//     fallback queue or the outbox accepts ("degraded": what the service
//     publishes is accepted and delivered later); 503 otherwise, and
//     always while the service's database does not answer. It shows the
//     database and the outbox's backlog (pending rows, the oldest's age).
//   - With a database, an event Kafka delivers twice changes state once
//     (package processed); a failed handler leaves no trace; a database
//     outage is waited out by the consumer, never dead-lettered; an API
//     request that cannot commit fails (503 database_unavailable, in
//     httpjson) with nothing changed; what was committed stays in the
//     outbox until Kafka has it, across restarts.
//
// # Usage
//
//	func Module() fx.Option {
//		return fx.Options(
//			fx.Provide(func(bus kafkabus.Bus, clients *servicekit.HTTPClients) (*Service, error) {
//				return New(bus, clients.For("file_service"))
//			}),
//			servicekit.AsService[*Service, contracts.HandlerFunc](), // its Routes and Handlers
//		)
//	}
//
//	err := servicekit.Run(ctx, "spellchecker_service", Module()) // until SIGTERM
package servicekit
