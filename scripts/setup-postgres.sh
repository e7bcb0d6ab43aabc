#!/usr/bin/env bash
# Makes PostgreSQL's server programs available for the tests that run a real server, idempotently:
# installs Debian's postgresql package only when initdb/pg_ctl are missing.
# Prints the folder holding initdb and pg_ctl on stdout (everything else goes to stderr).
set -euo pipefail

find_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

if ! BIN=$(find_bin); then
  echo "[setup-postgres] installing Debian's postgresql package" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "[setup-postgres] PostgreSQL is not installed and this user cannot install it: run 'sudo apt-get install -y postgresql'" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
  # The package starts a cluster of its own; the tests run private servers and do not need it.
  pg_ctlcluster --help >/dev/null 2>&1 && for c in $(ls /etc/postgresql 2>/dev/null); do
    for name in $(ls "/etc/postgresql/$c" 2>/dev/null); do pg_ctlcluster "$c" "$name" stop >&2 || true; done
  done
  BIN=$(find_bin) || { echo "[setup-postgres] postgresql installed but initdb/pg_ctl not found under /usr/lib/postgresql/*/bin" >&2; exit 1; }
fi

# PostgreSQL refuses to run as root: the tests run it as the postgres user, which the package creates.
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  echo "[setup-postgres] the postgres user is missing: reinstall the postgresql-common package" >&2
  exit 1
fi
echo "$BIN"
