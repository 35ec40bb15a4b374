// Package outbox is a transactional outbox: a service writes the events a
// state change causes into an outbox table in the same transaction as the
// change, and a relay publishes them to Kafka after the commit. The state
// and its events commit together or not at all, whatever crashes or
// outages happen between the database and Kafka.
//
// # Guarantees
//
//   - Enqueue writes in the caller's *sql.Tx: the rows exist exactly when
//     the commit succeeds. A rollback leaves none; a process killed after
//     the commit leaves them for the next relay.
//   - The envelope is encoded once, at Enqueue, as the record Kafka will
//     receive (event.Envelope.RecordContext): its event_id and bytes are
//     kept, never rebuilt, and the enqueuer's trace context travels as the
//     traceparent header.
//   - The relay marks a row done only after Kafka acknowledged it
//     (kafkabus.KafkaBus: acks=all, idempotent). Delivery is at least
//     once: a crash or a lost acknowledgement sends a row again, and
//     consumers drop the duplicate by event_id.
//   - Order per topic and key: rows of one topic and key reach Kafka in
//     the order they were enqueued (their ids; transactions that change
//     the same aggregate under its row lock get ids in commit order). The
//     relay has one batch in flight at a time, so a row is handed to the
//     producer only after every earlier row of its key was settled; a row
//     waiting for a retry holds back the later rows of its key (and only
//     those).
//   - The relay publishes behind the Kafka producer breaker. While it is
//     open, nothing is produced: the relay waits for the breaker's probe
//     time and the rows stay in the table, which is the durable queue of
//     this mode (no spool). A half-open breaker is probed with one row.
//   - A retriable failure (Kafka unreachable, timeouts, not enough
//     replicas) schedules the row again with exponential back-off and
//     jitter, for as long as it takes. A rejection that no retry can fix
//     (too large, not authorized, invalid) moves the row to the dead
//     letters with the reason; the rows behind it go on. Dead letters stay
//     until an operator re-drives or purges them (huleedu outbox).
//   - No "id > last seen" cursor: every read looks at every committed
//     pending row, so a transaction that commits after a later id was
//     published is not skipped.
//
// # Several relays
//
// Every replica of a service runs a relay on the shared table. The rows
// are spread over LeasePartitions (64) partitions by the FNV-1a hash of
// their key, and each partition is leased to one relay at a time
// (outbox_leases): a relay reads only the partitions it holds. Every
// third of LeaseTTL a relay renews its heartbeat (outbox_relays) and its
// leases, gives up what it holds beyond its fair share (64 divided by the
// live relays, rounded up) once no batch of those partitions is in
// flight, and takes free or expired leases up to its share. Lease times
// are the database's clock; the relay counts a lease valid until its own
// clock's reading before the renewal plus LeaseTTL, which ends before the
// database's, so clocks need not agree. A relay starts a batch only while
// each lease it reads has at least 1.5 ProduceTimeouts left, and a
// produce ends within ProduceTimeout (plus franz-go's connection
// timeouts), so a batch in flight is over before its partition can pass
// to another relay: no row is in flight in two relays at once, and per-key
// order holds with any number of relays. A relay that stops hands its
// leases over at once (Leave); one that dies keeps them until they
// expire, then the others take them over and publish its rows.
//
// # Wake-up
//
// On PostgreSQL Enqueue's statement also calls pg_notify, which the
// server delivers when the transaction commits: the relay, listening on a
// connection of its own, wakes within milliseconds. It polls every
// PollInterval as well, for a LISTEN connection that was lost (it
// reconnects). On SQLite a commit in the same process wakes the relay;
// other processes' commits are polled.
//
// # Schema
//
// Created by the embedded, versioned migrations (Migrations, for
// sqldb.Open), one set per dialect:
//
//	outbox            one row per event
//	  id              bigint identity / INTEGER AUTOINCREMENT: the order
//	  aggregate_type  what changed, for operators ("batch")
//	  aggregate_id    its id
//	  event_id        the envelope's event_id
//	  event_type      the envelope's event_type
//	  topic           the Kafka topic
//	  event_key       the partition key ("" for none)
//	  lease_partition FNV-1a(event_key, or event_id when empty) mod 64
//	  envelope        the record's value: the envelope's JSON, as sent
//	  headers         the record's headers: [{"key":..,"value":..}]
//	  created_at      when Enqueue ran (the latency's start)
//	  attempts        failed publish attempts
//	  last_error      the last failure, or the dead letter's reason
//	  next_attempt_at when a failed row is due again; NULL: never failed
//	  published_at    set when published and kept (RelayOptions.Retention);
//	                  otherwise a published row is deleted
//	  dead_at         set when dead-lettered
//	outbox_leases     lease_partition, owner (relay id), expires_at
//	outbox_relays     relay_id, started_at, expires_at: the heartbeats
//
// Partial indexes keep the relay's reads small: pending rows by id, rows
// waiting for a retry by (partition, topic, key, id), dead rows, and
// published rows by published_at for pruning.
//
// # Usage
//
//	db, err := sqldb.Open(ctx, dsn, sqldb.Options{Migrations: []sqldb.Migrations{outbox.Migrations(), service.Migrations()}})
//	ob, err := outbox.New(ctx, db, outbox.Options{})
//	relay, err := outbox.NewRelay(ob, kafkaBus, breaker, outbox.RelayOptions{})
//	go relay.Run(ctx) // until ctx ends
//
//	// In a handler, on either database:
//	err = db.InTx(ctx, func(tx *sql.Tx) error {
//		if _, err := tx.ExecContext(ctx, `UPDATE batches SET state = $1 WHERE id = $2`, "ready", id); err != nil {
//			return err
//		}
//		return ob.Enqueue(ctx, tx, outbox.Message{Topic: topic, Key: id, Envelope: env,
//			AggregateType: "batch", AggregateID: id})
//	})
package outbox
