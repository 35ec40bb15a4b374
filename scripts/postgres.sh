#!/usr/bin/env bash
# Makes sure the PostgreSQL server binaries the tests start (internal/pgtest)
# are installed: Debian's postgresql package, whose binaries live in
# /usr/lib/postgresql/<version>/bin. With DATABASE_URL set the tests use that
# server instead, and nothing is installed.
#
# The package would create and start a cluster service on :5432. Nothing
# here wants that daemon (the tests start a private server on a free
# loopback port, as an unprivileged user, and stop it), so the install runs
# under a policy-rc.d that forbids starting services, as scripts/promtool.sh
# does for prometheus. Installing needs root (or sudo) and apt-get.
set -euo pipefail

step() { printf '\n== %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "postgres.sh: installing the postgresql package needs root or sudo" >&2
    exit 1
  fi
}

have_server() {
  compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null ||
    { [ -n "${PGTEST_BIN_DIR:-}" ] && [ -x "$PGTEST_BIN_DIR/postgres" ]; }
}

if [ -n "${DATABASE_URL:-}" ]; then
  step "PostgreSQL: the tests use DATABASE_URL's server"
  exit 0
fi
if have_server; then
  step "PostgreSQL server binaries: $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -n 1)${PGTEST_BIN_DIR:+ ($PGTEST_BIN_DIR)}"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "postgres.sh: the PostgreSQL server is missing and apt-get is not available;" >&2
  echo "install it and set PGTEST_BIN_DIR to the directory of initdb and postgres, or set DATABASE_URL" >&2
  exit 1
fi

step "installing Debian's postgresql package (the server the tests start)"
policy=/usr/sbin/policy-rc.d created_policy=0
if [ ! -e "$policy" ]; then
  # Exit status 101 = "action forbidden" for every service (invoke-rc.d(8)).
  printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
  as_root chmod 0755 "$policy"
  created_policy=1
fi
rc=0
{
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql
} || rc=$?
if [ "$created_policy" -eq 1 ]; then
  as_root rm -f "$policy"
fi
if [ "$rc" -ne 0 ]; then
  echo "postgres.sh: apt-get failed (exit $rc)" >&2
  exit "$rc"
fi
# A systemd host starts units regardless of policy-rc.d: stop the packaged
# cluster, which nothing here uses.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  as_root systemctl disable --now postgresql >/dev/null 2>&1 || true
fi
have_server
