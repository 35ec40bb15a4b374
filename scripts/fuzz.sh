#!/usr/bin/env bash
# Runs every fuzz target of the main module for DURATION each:
#
#   scripts/fuzz.sh 30s      # default 10s
#
# `go test -fuzz` takes one target at a time, so this finds them (func
# FuzzXxx in *_test.go files, outside the bench module) and runs each in
# turn: go test -run '^$' -fuzz '^FuzzXxx$' -fuzztime DURATION ./pkg/
# A failure leaves its input under the package's testdata/fuzz/FuzzXxx,
# which plain `go test` then replays as a regression test.
#
# New interesting inputs are minimized for at most 1s (Go's default is
# 60s): a short run otherwise spends all of its time minimizing the first
# new input it finds, executing nothing new (FuzzRecover did: 60 inputs in
# 10s). A failing input is still minimized up to that limit.
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${1:-10s}"
found=0
while IFS= read -r file; do
  dir="./$(dirname "${file#./}")/"
  for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]*\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(/\1/'); do
    found=$((found + 1))
    printf '\n== fuzz %s %s for %s\n' "$dir" "$target" "$duration"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$duration" -fuzzminimizetime 1s "$dir"
  done
done < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . | grep -vE '^\./(bench|\.git)/' | sort)

if [ "$found" -eq 0 ]; then
  echo "no fuzz targets found" >&2
  exit 1
fi
