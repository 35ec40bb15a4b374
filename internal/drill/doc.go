// Package drill is the outage drill: it proves the delivery contract of
// kafkabus.ResilientBus (docs/design.md §2) against a real Kafka-protocol
// cluster by breaking Kafka while a workload publishes, and then reading
// the topic back with an independent consumer.
//
// # What a drill does
//
//  1. Starts an embedded kfake cluster (package embeddedkafka; three brokers,
//     data dir in a temp folder) unless Config.Brokers names a cluster,
//     and creates the topic.
//  2. Publishes Rate records per second for Duration through the bus
//     Config.Config describes, opened with kafkabus.Open exactly as a
//     service opens the configuration its KAFKA_* variables set (a
//     ResilientBus with a disk spool or a memory queue). Seqs 1..sent are
//     assigned in scheduling order; seq n has key "key-<n % Keys>" and an
//     event.Envelope value whose data holds "run", "seq", "key" and
//     padding up to Size bytes. Each key belongs to one of Workers
//     goroutines, which publishes its records one synchronous Publish at a
//     time, so acceptance order per key is seq order. The schedule is open
//     loop: when Publish blocks, the scheduler catches up afterwards.
//  3. Applies Fault during every Outage (embeddedkafka.Cluster.Fault / Heal).
//  4. With CrashAt, runs the publisher as a child process (ServeChild),
//     SIGKILLs it at CrashAt and starts another on the same spool, which
//     replays what the first accepted before anything new.
//  5. Closes the bus (it drains, bounded by DrainTimeout), then reads the
//     topic back from the offsets it had before the workload up to the
//     high watermarks, keeping this run's records, and reads the disk
//     spool for this run's records still in it.
//  6. Verifies and returns a Report.
//
// # Definitions (the report's contract)
//
//   - accepted: Publish returned nil. rejected_seqs: every other seq —
//     Publish returned an error, or the publishing process was SIGKILLed
//     before the call returned (unknown outcome counts as not accepted; if
//     such a record shows up in Kafka it is counted in
//     delivered_unaccepted, not as a problem).
//   - lost: accepted seqs neither in the topic nor in the disk spool:
//     gone. A memory queue's leftovers at Close are lost (and counted in
//     undelivered_at_close).
//   - left_in_spool: accepted seqs not in the topic but durably in the
//     disk spool when the drill ended (a drain timeout shorter than the
//     outage). They are not lost: the next publisher to open the spool
//     delivers them before anything new. The report names the spool
//     (spool_dir), which the drill keeps even when it is a temp folder.
//   - duplicates: copies of any seq beyond the first.
//   - reordered: per partition and key, in offset order, the first copy of
//     an accepted seq read after a larger accepted seq. A second copy of an
//     earlier seq (a replayed duplicate) is a duplicate, not a reorder: the
//     consumer has already seen that seq in its place. Unaccepted seqs are
//     not order-checked, since the contract promises them nothing.
//   - passed: lost == 0 and reordered == 0. A drill that leaves records
//     in the spool but loses none passes (exit status 0); its summary and
//     HTML page carry a note saying how many and where.
//   - time_to_open_ms: from the first outage's fault being applied to the
//     breaker's first transition to open after it (null if it never opened).
//   - time_to_drain_ms: from the first outage's fault being healed to the
//     moment the fallback queue was empty for good: the first 100 ms sample
//     with an empty queue after the last one (before the next outage) that
//     held records. Null if nothing was queued, or the queue never emptied.
//   - throughput_per_s: accepted records per second, from the workload's
//     start to the return of the last Publish call.
//   - max_spool_depth: the largest queue depth in records, sampled every
//     100 ms.
//
// The same numbers exist per outage in Report.Outages.
//
// # Usage
//
//	cfg := drill.DefaultConfig()
//	cfg.Duration = 10 * time.Second
//	cfg.Outages = []drill.Outage{{Start: 3 * time.Second, Length: 3 * time.Second}}
//	rep, err := drill.Run(ctx, cfg)
//	if err != nil {
//		return err // could not run: errors.Is(err, drill.ErrInvalidConfig) for bad settings
//	}
//	rep.WriteSummary(os.Stdout)
//	os.Exit(rep.ExitCode()) // 0 exactly when rep.Passed
//
// The command line (cmd/huleedu drill) maps its flags one to one onto
// Config, renders Progress with ProgressPrinter and writes the JSON and
// HTML reports.
package drill
