#!/usr/bin/env bash
# Checks and unit-tests the Prometheus alert rules in deploy/prometheus with
# promtool:
#
#   promtool check config deploy/prometheus/prometheus.yml   (the example)
#   promtool check rules  deploy/prometheus/alerts.yml
#   promtool test rules   deploy/prometheus/alerts_test.yml
#
# When promtool is missing it installs Debian's `prometheus` package, which
# ships both promtool and the prometheus server binary that the integration
# tests (internal/promtest) start on loopback. Installing needs root (or sudo)
# and apt-get.
#
# The Debian package enables and starts a prometheus service listening on
# :9090 when it is installed. Nothing here wants that daemon: it would hold
# the port, scrape nothing useful and keep running after the tests. So the
# install runs under a policy-rc.d that forbids starting services (the
# Debian mechanism invoke-rc.d honours; an existing policy-rc.d is left as it
# is), and afterwards any prometheus daemon the package still managed to
# start is stopped. The tests start their own server on a free loopback port
# and never use 9090.
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=deploy/prometheus/prometheus.yml
RULES=deploy/prometheus/alerts.yml
TESTS=deploy/prometheus/alerts_test.yml

step() { printf '\n== %s\n' "$*"; }

# as_root runs its arguments as root: directly when we are root, else with sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "promtool.sh: installing the prometheus package needs root or sudo" >&2
    exit 1
  fi
}

# install_prometheus installs Debian's prometheus package without letting it
# start its service.
install_prometheus() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "promtool.sh: promtool is missing and apt-get is not available;" >&2
    echo "install Prometheus (promtool and prometheus) and put them on PATH" >&2
    exit 1
  fi
  step "installing Debian's prometheus package (promtool and prometheus)"
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    # Exit status 101 = "action forbidden" for every service (invoke-rc.d(8)).
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 0755 "$policy"
    created_policy=1
  fi
  local rc=0
  {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends prometheus
  } || rc=$?
  if [ "$created_policy" -eq 1 ]; then
    as_root rm -f "$policy"
  fi
  if [ "$rc" -ne 0 ]; then
    echo "promtool.sh: apt-get failed (exit $rc)" >&2
    exit "$rc"
  fi
  stop_packaged_daemon
}

# stop_packaged_daemon stops the package's prometheus service if it runs
# despite policy-rc.d (a systemd host ignores policy-rc.d for units it starts
# itself), so nothing is left listening on :9090.
stop_packaged_daemon() {
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    as_root service prometheus stop >/dev/null 2>&1 || true
  fi
  local pidfile=/run/prometheus/prometheus.pid
  if [ -f "$pidfile" ]; then
    as_root kill "$(cat "$pidfile")" 2>/dev/null || true
  fi
}

if ! command -v promtool >/dev/null 2>&1; then
  install_prometheus
fi

step "promtool version"
promtool --version 2>&1 | head -n 1

step "promtool check config $CONFIG"
promtool check config "$CONFIG"

step "promtool check rules $RULES"
promtool check rules "$RULES"

step "promtool test rules $TESTS"
promtool test rules "$TESTS"
