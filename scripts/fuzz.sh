#!/usr/bin/env bash
# Runs every fuzz target of the main module for a fixed number of
# executions each:
#
#   scripts/fuzz.sh          # each target's budget below
#   scripts/fuzz.sh 10       # ten times each budget
#
# `go test -fuzz` takes one target at a time, so this finds them (func
# FuzzXxx in *_test.go files, outside the bench module) and runs each in
# turn: go test -run '^$' -fuzz '^FuzzXxx$' -fuzztime Nx ./pkg/
# A failure leaves its input under the package's testdata/fuzz/FuzzXxx,
# which plain `go test` then replays as a regression test.
#
# Budgets are counts, not durations. With a duration, Go's fuzz
# coordinator (through go1.26) can report the end of -fuzztime itself as a
# failure, "context deadline exceeded" with no failing input
# (go.dev/issue/75804); CI hit it on FuzzDecodeFrame. A count has no
# deadline to race, and gives a slow machine the same work as a fast one.
#
# New interesting inputs are minimized for at most 200 executions (Go's
# default is 60s): a short run otherwise spends all of its time minimizing
# the first new input it finds, executing nothing new (FuzzRecover did: 60
# inputs in 10s). A failing input is still minimized up to that limit.
set -euo pipefail
cd "$(dirname "$0")/.."

scale="${1:-1}"
case "$scale" in
  '' | *[!0-9]* | 0) echo "fuzz.sh: scale must be a positive whole number, got \"$scale\"" >&2; exit 2 ;;
esac

# Executions per target at scale 1: about 10s on a 2-core CI machine.
# A target not listed gets the default; list a slow one (files, fsync).
budget() {
  case "$1" in
    FuzzDecodeFrame) echo 100000 ;; # pure decoding, ~10k execs/s
    FuzzRecover) echo 1000 ;;       # writes and recovers a spool, ~100 execs/s
    *) echo 10000 ;;
  esac
}

found=0
while IFS= read -r file; do
  dir="./$(dirname "${file#./}")/"
  for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]*\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(/\1/'); do
    found=$((found + 1))
    execs=$(($(budget "$target") * scale))
    printf '\n== fuzz %s %s for %d executions\n' "$dir" "$target" "$execs"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "${execs}x" -fuzzminimizetime 200x "$dir"
  done
done < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . | grep -vE '^\./(bench|\.git)/' | sort)

if [ "$found" -eq 0 ]; then
  echo "no fuzz targets found" >&2
  exit 1
fi
