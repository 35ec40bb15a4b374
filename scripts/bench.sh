#!/usr/bin/env bash
# Runs the comparison benchmarks of bench/ and prints one Markdown table:
# every target of the project's benchmarks with ours, the baseline measured
# in the same run, the ratio (median over the runs), the target and PASS or
# FAIL; then the medians of every benchmark. The raw `go test` output goes
# to stderr as it runs.
#
#   scripts/bench.sh                  # ~10-12 minutes on 2 cores
#   BENCH_LARGE=1 scripts/bench.sh    # + RSS while 1 GiB is spooled (writes 1 GiB, ~30 s more)
#   BENCH_QUICK=1 scripts/bench.sh    # one short run of each, to check that everything works
#   BENCH_OUT=raw.txt scripts/bench.sh  # keep the raw go test output
#   BENCH_APACHE=0 scripts/bench.sh   # without the Apache Kafka group (~3 minutes of the run)
#
# The Apache Kafka group runs the Kafka comparisons on a real 3-broker
# cluster (internal/apachekafka); its jars are fetched with Maven on first
# use, and without Java those benchmarks are skipped, saying why.
#
# A full run (not BENCH_QUICK) also writes the targets' table, headed by the
# machine, the date and the Go version, into docs/benchmarks.md between its
# benchtable markers; nothing else there is touched.
#
# Benchmarks share the machine with whatever else runs on it; run it on an
# otherwise idle machine for numbers worth publishing.
set -euo pipefail
cd "$(dirname "$0")/../bench"

out=${BENCH_OUT:-}
if [ -z "$out" ]; then
  out=$(mktemp)
  trap 'rm -f "$out"' EXIT
fi
: >"$out"

# Sizes: count, and -benchtime of the Kafka group (fixed iteration counts,
# since parts of those benchmarks are untimed set-up).
if [ "${BENCH_QUICK:-}" = 1 ]; then
  breaker_count=1 breaker_time=100ms kafka_count=1
  healthy=20000x latency=5000x spool=20000x fsync=200x drain=25000x
  outbox_enqueue=2000x outbox_relay=20000x outbox_ack=500x outbox_watermill=5000x
  apache=20000x apache_recovery=1x
else
  breaker_count=5 breaker_time=1s kafka_count=3
  healthy=200000x latency=50000x spool=200000x fsync=2000x drain=200000x
  outbox_enqueue=20000x outbox_relay=200000x outbox_ack=5000x outbox_watermill=50000x
  apache=100000x apache_recovery=8x
fi

run() {
  printf '\n== go test -run ^$ %s\n' "$*" >&2
  go test -run '^$' -timeout 30m "$@" 2>&1 | tee -a "$out" >&2
}

# Breaker group: ours, gobreaker and failsafe-go in one go test run.
run -bench '^BenchmarkBreaker' -benchmem -cpu 1,2 -count "$breaker_count" -benchtime "$breaker_time"

# Kafka and spool group (GOMAXPROCS = all cores).
run -bench '^BenchmarkKafkaHealthy$' -count "$kafka_count" -benchtime "$healthy"
# Memory before disk, in runs of their own: the disk runs leave the kernel
# writing their data back for a while, competing for the CPUs.
run -bench '^BenchmarkOpenCircuitLatency$/^memory(-fresh-goroutine)?$' -count "$kafka_count" -benchtime "$latency"
run -bench '^BenchmarkOpenCircuitLatency$/^disk$' -count "$kafka_count" -benchtime "$latency"
run -bench '^BenchmarkFsyncLatency$' -count "$kafka_count" -benchtime "$fsync"
run -bench '^BenchmarkSpoolAppend$' -count "$kafka_count" -benchtime "$spool"
run -bench '^BenchmarkDrain$' -count "$kafka_count" -benchtime "$drain"
# Outbox group, on PostgreSQL (a private server that internal/pgtest starts,
# or DATABASE_URL's; scripts/postgres.sh installs the binaries when missing).
bash ../scripts/postgres.sh >&2
run -bench '^BenchmarkOutboxEnqueue$' -count "$kafka_count" -benchtime "$outbox_enqueue"
run -bench '^BenchmarkOutboxRelay$' -count "$kafka_count" -benchtime "$outbox_relay"
run -bench '^BenchmarkOutboxCommitToAck$' -count "$kafka_count" -benchtime "$outbox_ack"
run -bench '^BenchmarkOutboxWatermill$' -count "$kafka_count" -benchtime "$outbox_watermill"
if [ "${BENCH_LARGE:-}" = 1 ]; then
  run -bench '^BenchmarkSpoolRSS$' -count 1 -benchtime 1x
fi

# Apache Kafka group: each go test run starts one cluster for all its
# benchmarks.
if [ "${BENCH_APACHE:-1}" != 0 ]; then
  run -bench '^BenchmarkApache(Healthy|Drain)$' -count "$kafka_count" -benchtime "$apache"
  run -bench '^BenchmarkApacheRecovery$' -count "$kafka_count" -benchtime "$apache_recovery"
fi

echo
if [ "${BENCH_QUICK:-}" = 1 ]; then
  go run ./cmd/benchtable <"$out"
else
  go run ./cmd/benchtable -doc ../docs/benchmarks.md <"$out"
  echo >&2
  echo "docs/benchmarks.md: table updated" >&2
fi
