#!/usr/bin/env bash
# The whole test suite: formatting, vet, staticcheck, race-enabled tests of the
# main module (against a private PostgreSQL server, or DATABASE_URL's), the
# bench module's tests and one run of each benchmark, the Prometheus rules,
# and short fuzz runs. It installs what
# it needs when missing, so it works on a fresh machine and in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:$(go env GOPATH)/bin"
STATICCHECK_VERSION=v0.8.2

step() { printf '\n== %s\n' "$*"; }

if ! command -v staticcheck >/dev/null 2>&1; then
  step "installing staticcheck $STATICCHECK_VERSION"
  go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
staticcheck ./...

step "PostgreSQL for the database tests (installs Debian's postgresql package when missing)"
bash scripts/postgres.sh

# The real-Kafka tests and benchmarks (internal/apachekafka,
# internal/kafkacontract, bench) skip without Java and the broker's jars;
# here they are installed and fetched when missing, and required to run.
step "Apache Kafka for the real-Kafka tests (installs Java and Maven when missing, fetches the jars once)"
bash scripts/kafka.sh ensure
export HULEEDU_KAFKA_REQUIRED=1

if [ -f bench/go.mod ]; then
  # Each benchmark runs once, so a broken one fails here rather than in
  # scripts/bench.sh; the measurements are scripts/bench.sh's job.
  step "bench module: vet, staticcheck, tests and every benchmark once"
  (cd bench && go vet ./... && staticcheck ./... && go test -count=1 -run . -bench . -benchtime 1x ./...)
fi

step "Prometheus rules (installs Debian's prometheus package when missing)"
bash scripts/promtool.sh

step "go test -race"
go test -race -count=1 -timeout 20m ./...

step "allocation budgets (without -race, which allocates on its own account)"
go test -count=1 -run 'NotAllocate' ./... | { grep -v 'no tests to run' || true; }

if [ -f scripts/fuzz.sh ]; then
  step "fuzz (short)"
  bash scripts/fuzz.sh
fi
