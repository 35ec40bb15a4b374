// Package kafkabus publishes event envelopes to Kafka.
//
// Services depend on the Bus interface only. Two implementations exist:
//
//   - KafkaBus, the plain franz-go bus: every Publish waits for Kafka's
//     acknowledgement or a classified error. Services use it directly when
//     CIRCUIT_BREAKER_ENABLED=false.
//   - ResilientBus, which puts a circuit breaker in front of a Producer
//     (a KafkaBus) and keeps accepted records in a fallback queue while
//     Kafka is unavailable.
//
// # One configuration
//
// Config describes the whole publishing side: the KafkaBus's Options
// (embedded), the breaker, the fallback queue and the drainer. Open builds
// what it describes: the KafkaBus, and unless Breaker.Disabled the
// breaker, the queue (memory, or the disk spool) and the ResilientBus. Its
// zero values are documented defaults; EnsureDefaults fills them and
// Validate checks the ranges, reporting each problem as a *ConfigError
// that names the field. Config has no env tags: package servicekit maps a
// service's environment onto it, and the outage drill embeds it, so the
// drill runs exactly the configuration a service can set.
//
// The topics must exist: with auto-creation off (the default, and the
// production setting) a publish to a missing topic fails at once with
// ErrUnknownTopic, whose message says how to create it.
//
// # Logging
//
// Logs go to Options.Logger, or slog.Default() when it is nil, for the
// KafkaBus, the ResilientBus and the disk spool alike. An outage is logged
// once when it starts (the first failed publish, naming the brokers) and
// once when it ends, and each breaker transition once: never a line per
// call. franz-go's own lines, one per failed dial or request, are passed
// on only when the handler enables debug.
//
// # KafkaBus guarantees
//
// nil from Publish or Produce means the record is in the log of every
// in-sync replica (acks=all). The producer is idempotent (franz-go's
// default, kept on): its internal retries never duplicate or reorder a
// record. Records with the same topic and key land in one partition in the
// order they were produced.
//
// Every error is a *ProduceError and answers two questions. errors.Is tells
// what happened: ErrMessageTooLarge, ErrInvalidTopic, ErrAuthorization,
// ErrUnknownTopic, ErrRejected, ErrInvalidRecord and ErrBusClosed are
// permanent and returned as soon as they are known; ErrUnavailable (brokers
// unreachable, not-leader, not-enough-replicas, request timed out) and
// ErrUnknownOutcome (no acknowledgement in time) are retriable.
// IsRetriable tells whether replaying the same record may succeed, which
// is the only input a circuit breaker should count. errors.Is also matches
// the franz-go cause (kerr.MessageTooLarge, kgo.ErrRecordTimeout,
// context.DeadlineExceeded, ...).
//
// # Ordering and timeouts
//
// A Publish is bounded by Options.PublishTimeout, retries included. The
// danger in any timeout is a record that the caller is told has failed but
// that the client still holds and delivers later, after a newer record with
// the same key: the caller, or a ResilientBus replaying it, would then see
// the two in the wrong order. KafkaBus prevents it this way:
//
//   - Each record is handed to franz-go with a context that ends at the
//     publish timeout (or earlier, with the caller's context), and
//     franz-go's RecordDeliveryTimeout is just below it. When the caller's
//     context can never end (context.Background), calls starting within
//     the same window of a hundredth of the timeout (1ms to 10ms) share
//     one such context, which ends up to a window later: a context per
//     call would cost a timer per record and make franz-go watch it on
//     every produce request (some 5% of healthy-path throughput in the
//     benchmarks). franz-go itself fails the record when it expires; it
//     removes it and every later record of the same partition from its
//     buffers (failing them too), so nothing buffered behind a failed
//     record can overtake it.
//   - Produce waits for franz-go's verdict on every record (its promise),
//     never returning early on the context. When Produce reports a
//     failure, franz-go no longer holds the record: it cannot be sent
//     later by this client.
//   - A record already in flight when time runs out may still be written
//     by the broker. Idempotent producers normally refuse to fail such a
//     record; KafkaBus opts into kgo.AllowIdempotentProduceCancellation so
//     that the timeout holds. franz-go then bumps the producer epoch before
//     producing again, and Kafka fences the old epoch: once a newer record
//     of the partition is written under the new epoch, the abandoned
//     request can no longer be appended after it. The abandoned record is
//     therefore either in the log before every newer record, or not at
//     all. Because the outcome is unknown, the error is ErrUnknownOutcome
//     (retriable): a replay may duplicate the record, never reorder it.
//     Consumers drop duplicates by event_id (see event.DeterministicID).
//
// Waiting for franz-go's verdict has a cost: franz-go does not tie every
// wait to the record's context. A broker's requests run one at a time, so
// a produce request can queue behind a connection being opened; dialing
// and initialising a connection use their own deadlines; and a record
// waiting for a leader is checked against its deadline only when a
// metadata refresh fails. KafkaBus derives all of these from
// PublishTimeout (connection timeouts a quarter of it, at least 250ms;
// metadata refreshes and retry backoffs shorter still, see options.go), so
// a Publish can outlast PublishTimeout by about a quarter of it (250ms for
// timeouts under 1s) when a broker goes silent at the wrong moment. It
// cannot hang.
//
// The guarantee is per client. A process that exits with a request in
// flight and is replaced by another producer has no epoch fence between
// the two; Close flushes before it closes to make that window small.
//
// # ResilientBus
//
// ResilientBus wraps a Producer (a KafkaBus) with a resilience.CircuitBreaker
// and a spool.Queue, and keeps this contract for Publish:
//
//   - nil means accepted: Kafka acknowledged the record (acks=all), or the
//     queue stored it. With the disk spool, stored means written and
//     fsynced before Publish returns. An accepted record reaches Kafka at
//     least once, in acceptance order per key, unless an operator purges
//     it; no retry cap, timer or full queue drops it.
//   - an error means not accepted, and the record was not queued either:
//     spool.ErrFull (overflow policy reject, or the caller's context ended
//     while blocked on a full queue), ErrMessageTooLarge, ErrAuthorization,
//     ErrInvalidTopic, ErrUnknownTopic, ErrInvalidRecord, ErrBusClosed, a
//     storage failure of the disk spool (spool.ErrFailed), or the context's
//     error.
//
// The path of a record: while the queue is empty and the breaker admits the
// call, Publish produces straight to Kafka. When that fails with a
// retriable error, or the breaker is open, the record is appended to the
// queue. While the queue holds anything, every new record goes to its tail,
// so nothing overtakes an older record. One drainer goroutine replays the
// queue from the head through the same breaker (its failures open the
// circuit, its successes close it), also when no new traffic arrives: one
// record per call while half-open, batches of DrainBatch while closed, up
// to DrainInFlight of them on the wire at once (the queue reads ahead and
// a KafkaBus hands batches to franz-go in order; results are settled oldest
// first, and acknowledgements are grouped: one per 4,096 records, and one
// when the drainer has nothing left to send). A
// record whose replay fails stays at the head and everything behind it is
// sent again; one Kafka rejects for good moves to the queue's dead-letter
// store with the reason. After a crash, records delivered but not yet
// acknowledged are replayed: duplicates, never loss.
//
// Only infrastructure failures reach the breaker (IsRetriable). A record
// rejected for good, and a call whose caller gave up, are reported as
// ignored, so a client bug cannot open the circuit for everyone.
//
// Close(ctx) refuses new records, waits for Publish calls in progress,
// lets the drainer deliver until the queue is empty or ctx ends, then
// closes the queue and the producer. It returns nil when every accepted
// record was delivered or is durably queued: the disk spool keeps the rest
// for the next process, which replays it before any new record. The memory
// queue's rest comes back as an *UndeliveredError listing every record; a
// disk spool that could not close cleanly, as a *QueueCloseError counting
// what it held.
//
// # Usage
//
//	pub, err := kafkabus.Open(kafkabus.Config{
//		Options:  kafkabus.Options{Brokers: []string{"kafka-1:9092"}, ClientID: "file_service"},
//		Fallback: kafkabus.FallbackConfig{Mode: kafkabus.FallbackDisk, Dir: "/var/lib/file_service/spool"},
//	})
//	if err != nil { return err }
//	defer func() {
//		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // at shutdown
//		defer cancel()
//		pub.Close(ctx)
//	}()
//	env, err := event.NewEnvelope(event.TypeEssayContentProvisionedV1, "file_service", data)
//	if err != nil { return err }
//	err = pub.Publish(ctx, event.TopicEssayContentProvisionedV1, essayID, env)
//	// nil: accepted (in Kafka, or in the spool until Kafka is back)
//
// The plain KafkaBus on its own, with every outcome in the caller's hands:
//
//	bus, err := kafkabus.NewKafkaBus(kafkabus.Options{
//		Brokers:  strings.Split(os.Getenv("KAFKA_BOOTSTRAP_SERVERS"), ","),
//		ClientID: "file_service",
//	})
//	if err != nil { return err }
//	defer bus.Close(context.Background())
//	env, err := event.NewEnvelope(event.TypeEssayContentProvisionedV1, "file_service", data)
//	if err != nil { return err }
//	err = bus.Publish(ctx, event.TopicEssayContentProvisionedV1, essayID, env)
//	switch {
//	case err == nil: // in Kafka, acks=all
//	case kafkabus.IsRetriable(err): // Kafka unavailable: retry later, or use a ResilientBus
//	default: // rejected for good: errors.Is(err, kafkabus.ErrMessageTooLarge), ...
//	}
package kafkabus
