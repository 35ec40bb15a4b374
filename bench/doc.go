// Package bench holds the comparison benchmarks of the huleedu module: the
// circuit breaker against sony/gobreaker v2 and failsafe-go; the resilient
// Kafka bus and the disk spool against raw franz-go and a raw write+fsync
// loop, on kfake and on Apache Kafka; and the transactional outbox on
// PostgreSQL against the same transaction without it, raw franz-go and
// watermill-sql's forwarder. It is its own Go module, so the main module
// does not depend on the libraries it is compared with. The package has no API; it
// is only benchmarks (and the child-process half of the RSS benchmark).
//
// Run everything and print the table of results, targets and ratios:
//
//	scripts/bench.sh                 # from the repository root, ~8-9 minutes
//	BENCH_LARGE=1 scripts/bench.sh   # adds the 1 GiB spool RSS benchmark
//
// or one group by hand, turning the output into the table:
//
//	cd bench
//	go test -run '^$' -bench '^BenchmarkBreaker' -benchmem -cpu 1,2 -count 5 |
//		go run ./cmd/benchtable
//
// The Apache benchmarks (BenchmarkApacheHealthy, BenchmarkApacheDrain,
// BenchmarkApacheRecovery) run on a real three-broker Kafka cluster that
// package internal/apachekafka starts once per go test run; its jars are
// fetched with Maven on first use, and without Java they are skipped.
//
// Each benchmark names ours and its baseline as sibling sub-benchmarks
// (default/ours, default/gobreaker; healthy/resilient, healthy/raw), so that
// both are measured in the same run on the same machine; cmd/benchtable
// knows which pairs to divide and what the targets are.
package bench
