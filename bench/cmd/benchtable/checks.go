package main

// kind says how a check turns measurements into a verdict.
type kind int

const (
	// ratioAtMost: ours/baseline <= limit (costs: ns/op).
	ratioAtMost kind = iota
	// ratioAtLeast: ours/baseline >= limit (rates: records/s).
	ratioAtLeast
	// diffAtMost: ours-baseline <= limit, in the unit (extra ns/op).
	diffAtMost
	// valueAtMost: ours <= limit, no baseline (latency, memory, allocs).
	valueAtMost
	// ratioInfo: ours/baseline, shown without a target.
	ratioInfo
	// valueInfo: ours, shown without a target.
	valueInfo
)

// check is one row of the table: a measurement of ours, optionally
// against a baseline benchmark from the same run, and its target.
type check struct {
	Label    string
	Ours     string // benchmark name without "Benchmark" and the -N suffix
	Unit     string // ours' metric
	Baseline string // the baseline benchmark; "" = Ours itself (with BaseUnit) or none
	BaseUnit string // the baseline's metric; "" = Unit
	BaseName string // how the baseline is shown ("gobreaker")
	// RatioUnit, when set, names a metric the benchmark reports as the
	// ratio itself, per run, from paired measurements (see the bench
	// package's interleave). Its median is the ratio; the medians of ours
	// and of the baseline are shown for reference.
	RatioUnit string
	Kind      kind
	Limit     float64
	// TargetProcs, when not 0, is the GOMAXPROCS the target applies to;
	// rows measured at other values are shown for information only.
	TargetProcs int
}

// checks are the project's performance targets (issues 2, 3, 15, 16 and
// 19), each ours against a baseline measured in the same run where there
// is one. The breaker targets apply on 2 CPUs.
var checks = []check{
	{Label: "breaker default, serial", Ours: "Breaker/default/ours", Baseline: "Breaker/default/gobreaker", BaseName: "gobreaker", Unit: "ns/op", Kind: ratioAtMost, Limit: 0.05, TargetProcs: 2},
	{Label: "breaker default, serial", Ours: "Breaker/default/ours", Baseline: "Breaker/default/failsafe", BaseName: "failsafe-go", Unit: "ns/op", Kind: ratioInfo},
	{Label: "breaker default, parallel", Ours: "BreakerParallel/default/ours", Baseline: "BreakerParallel/default/gobreaker", BaseName: "gobreaker", Unit: "ns/op", Kind: ratioAtMost, Limit: 0.05, TargetProcs: 2},
	{Label: "breaker default, parallel", Ours: "BreakerParallel/default/ours", Baseline: "BreakerParallel/default/failsafe", BaseName: "failsafe-go", Unit: "ns/op", Kind: ratioInfo},
	{Label: "breaker default, serial, paired in one run", Ours: "BreakerPaired/default", Unit: "ours-ns/op", BaseUnit: "gobreaker-ns/op", BaseName: "gobreaker", RatioUnit: "ratio", Kind: ratioAtMost, Limit: 0.05, TargetProcs: 2},
	{Label: "breaker default, serial, allocs", Ours: "Breaker/default/ours", Unit: "allocs/op", Kind: valueAtMost, Limit: 0},
	{Label: "breaker default, parallel, allocs", Ours: "BreakerParallel/default/ours", Unit: "allocs/op", Kind: valueAtMost, Limit: 0},
	{Label: "breaker window(100), serial", Ours: "Breaker/window/ours", Baseline: "Breaker/window/gobreaker", BaseName: "gobreaker", Unit: "ns/op", Kind: ratioAtMost, Limit: 0.5, TargetProcs: 2},
	{Label: "breaker window(100), serial", Ours: "Breaker/window/ours", Baseline: "Breaker/window/failsafe", BaseName: "failsafe-go", Unit: "ns/op", Kind: ratioInfo},
	{Label: "breaker window(100), parallel", Ours: "BreakerParallel/window/ours", Baseline: "BreakerParallel/window/gobreaker", BaseName: "gobreaker", Unit: "ns/op", Kind: ratioAtMost, Limit: 0.5, TargetProcs: 2},
	{Label: "breaker window(100), parallel", Ours: "BreakerParallel/window/ours", Baseline: "BreakerParallel/window/failsafe", BaseName: "failsafe-go", Unit: "ns/op", Kind: ratioInfo},
	{Label: "breaker + Prometheus collector, serial", Ours: "Breaker/collector/ours", Baseline: "Breaker/default/ours", BaseName: "no collector", Unit: "ns/op", Kind: diffAtMost, Limit: 5, TargetProcs: 2},
	{Label: "breaker + Prometheus collector, parallel", Ours: "BreakerParallel/collector/ours", Baseline: "BreakerParallel/default/ours", BaseName: "no collector", Unit: "ns/op", Kind: diffAtMost, Limit: 5, TargetProcs: 2},

	{Label: "healthy publish throughput", Ours: "KafkaHealthy", Unit: "resilient-records/s", BaseUnit: "raw-records/s", BaseName: "raw franz-go", RatioUnit: "ratio", Kind: ratioAtLeast, Limit: 0.95},
	{Label: "open circuit, disk spool, p50", Ours: "OpenCircuitLatency/disk", Unit: "p50-µs", Kind: valueInfo},
	// A target that holds on any disk: a spooled record waits for the
	// group commit in progress and its own write+fsync, so about two of
	// the disk's own fsyncs, measured in the same run.
	{Label: "open circuit, disk spool, p99 vs the disk's write+fsync p99", Ours: "OpenCircuitLatency/disk", Unit: "p99-µs", Baseline: "FsyncLatency", BaseName: "raw write+fsync", Kind: ratioAtMost, Limit: 2},
	{Label: "open circuit, memory queue, p50", Ours: "OpenCircuitLatency/memory", Unit: "p50-µs", Kind: valueInfo},
	{Label: "open circuit, memory queue, p99", Ours: "OpenCircuitLatency/memory", Unit: "p99-µs", Kind: valueAtMost, Limit: 20},
	{Label: "open circuit, memory queue, a goroutine per record, p50", Ours: "OpenCircuitLatency/memory-fresh-goroutine", Unit: "p50-µs", Kind: valueInfo},
	{Label: "open circuit, memory queue, a goroutine per record, p99", Ours: "OpenCircuitLatency/memory-fresh-goroutine", Unit: "p99-µs", Kind: valueInfo},
	{Label: "raw write+fsync of one record, p50 (context)", Ours: "FsyncLatency", Unit: "p50-µs", Kind: valueInfo},
	{Label: "raw write+fsync of one record, p99 (context)", Ours: "FsyncLatency", Unit: "p99-µs", Kind: valueInfo},
	{Label: "raw write+fsync of one record, max (context)", Ours: "FsyncLatency", Unit: "max-µs", Kind: valueInfo},
	{Label: "spool append throughput", Ours: "SpoolAppend", Unit: "spool-records/s", BaseUnit: "raw-records/s", BaseName: "raw write+fsync", RatioUnit: "ratio", Kind: ratioAtLeast, Limit: 0.85},
	{Label: "drain rate after recovery", Ours: "Drain", Unit: "resilient-records/s", BaseUnit: "raw-records/s", BaseName: "raw franz-go", RatioUnit: "ratio", Kind: ratioAtLeast, Limit: 0.95},
	{Label: "RSS while appending 1 GiB", Ours: "SpoolRSS", Unit: "append-peak-MiB", Kind: valueAtMost, Limit: 100},
	{Label: "RSS while draining 1 GiB", Ours: "SpoolRSS", Unit: "drain-peak-MiB", Kind: valueAtMost, Limit: 100},

	// Issue 16: the transactional outbox on PostgreSQL. The relay's
	// target of 20,000 records/s is checked as its time per record.
	{Label: "outbox: a transaction with Enqueue vs without", Ours: "OutboxEnqueue", Unit: "outbox-records/s", BaseUnit: "plain-records/s", BaseName: "the same transaction alone", RatioUnit: "ratio", Kind: ratioInfo},
	{Label: "outbox relay, time per record (>= 20,000 records/s)", Ours: "OutboxRelay", Unit: "outbox-µs/record", Kind: valueAtMost, Limit: 50},
	{Label: "outbox relay throughput", Ours: "OutboxRelay", Unit: "outbox-records/s", BaseUnit: "raw-records/s", BaseName: "raw franz-go", RatioUnit: "ratio", Kind: ratioInfo},
	{Label: "outbox commit-to-ack with NOTIFY, p50", Ours: "OutboxCommitToAck", Unit: "p50-µs", Kind: valueInfo},
	{Label: "outbox commit-to-ack with NOTIFY, p99", Ours: "OutboxCommitToAck", Unit: "p99-µs", Kind: valueAtMost, Limit: 50_000},
	{Label: "outbox relay vs watermill-sql forwarder", Ours: "OutboxWatermill", Unit: "outbox-records/s", BaseUnit: "watermill-records/s", BaseName: "watermill-sql forwarder", RatioUnit: "ratio", Kind: ratioInfo},

	// Issue 19: the same comparisons on Apache Kafka (3 brokers, RF 3,
	// min.insync.replicas 2), and how soon a replay follows the cluster's
	// return: at most the breaker's recovery timeout (2s) plus 1s.
	{Label: "Apache Kafka: healthy publish throughput", Ours: "ApacheHealthy", Unit: "resilient-records/s", BaseUnit: "raw-records/s", BaseName: "raw franz-go", RatioUnit: "ratio", Kind: ratioAtLeast, Limit: 0.97},
	{Label: "Apache Kafka: drain rate after recovery", Ours: "ApacheDrain", Unit: "resilient-records/s", BaseUnit: "raw-records/s", BaseName: "raw franz-go", RatioUnit: "ratio", Kind: ratioAtLeast, Limit: 0.9},
	{Label: "Apache Kafka: cluster back to first replayed record, ms", Ours: "ApacheRecovery", Unit: "return-to-replay-ms", Kind: valueAtMost, Limit: 3000},
}
