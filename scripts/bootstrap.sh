#!/usr/bin/env bash
# Installs everything lakesync needs, idempotently.
#   light things (npm packages, build output)  -> ignored folders of the repo
#   heavy things (Temporal CLI, Python venv with PySpark, Iceberg jar) -> a versioned cache
#     outside the clone ($LAKESYNC_CACHE, default ~/.cache/lakesync) reused by later runs.
# Writes .lakesync/toolchain.json with the resolved paths for the TypeScript and Python code.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${LAKESYNC_CACHE:-$HOME/.cache/lakesync}
TEMPORAL_VERSION=v1.5.0
ICEBERG_VERSION=1.7.1
ICEBERG_ARTIFACT=iceberg-spark-runtime-3.5_2.12
POSTGRES_JDBC_VERSION=42.7.14
mkdir -p "$CACHE" .lakesync

log() { echo "[bootstrap] $*" >&2; }

# --- npm packages ----------------------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages"
  # npm install, not npm ci: npm 11 leaves the optional per-platform binaries (swc) out of the
  # lock file, which npm ci then refuses; npm install still installs the locked versions.
  npm install --no-audit --no-fund --loglevel=error
fi

# --- Temporal CLI (dev server + Web UI), built from the Go module proxy -------------------
TEMPORAL_BIN=$CACHE/temporal-$TEMPORAL_VERSION/temporal
# `go install` builds report version 0.0.0-DEV: a marker file next to the binary records the tag built.
if [ ! -x "$TEMPORAL_BIN" ] || { [ "$(cat "$TEMPORAL_BIN.version" 2>/dev/null)" != "$TEMPORAL_VERSION" ] \
    && ! "$TEMPORAL_BIN" --version 2>/dev/null | grep -q "${TEMPORAL_VERSION#v}"; }; then
  log "building the Temporal CLI $TEMPORAL_VERSION (once per machine)"
  mkdir -p "$(dirname "$TEMPORAL_BIN")"
  # The checksum database does not list every module the CLI needs; the module proxy's
  # content is still pinned by the CLI's own go.sum.
  GOSUMDB=off GOFLAGS=-buildvcs=false GOBIN="$(dirname "$TEMPORAL_BIN")" \
    go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_VERSION"
  echo "$TEMPORAL_VERSION" > "$TEMPORAL_BIN.version"
fi

# --- Python venv with PySpark, pytest and moto server ---------------------------------------
REQ_HASH=$(sha256sum glue/requirements.txt | cut -c1-12)
VENV=$CACHE/venv-py$(python3 -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')-$REQ_HASH
if [ ! -x "$VENV/bin/python" ] || [ ! -f "$VENV/.complete" ]; then
  log "creating the Python venv $VENV (once per requirements change)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r glue/requirements.txt
  touch "$VENV/.complete"
fi

# --- Iceberg Spark runtime jar from Maven Central -------------------------------------------
JAR=$CACHE/jars/$ICEBERG_ARTIFACT-$ICEBERG_VERSION.jar
if [ ! -s "$JAR" ]; then
  log "fetching $ICEBERG_ARTIFACT $ICEBERG_VERSION"
  mkdir -p "$CACHE/jars"
  mvn -q -B dependency:get -Dtransitive=false -Dartifact="org.apache.iceberg:$ICEBERG_ARTIFACT:$ICEBERG_VERSION"
  cp "$HOME/.m2/repository/org/apache/iceberg/$ICEBERG_ARTIFACT/$ICEBERG_VERSION/$ICEBERG_ARTIFACT-$ICEBERG_VERSION.jar" "$JAR.tmp"
  mv "$JAR.tmp" "$JAR"
fi

# --- PostgreSQL JDBC driver from Maven Central (direct extract reads the source over JDBC) -----
PG_JAR=$CACHE/jars/postgresql-$POSTGRES_JDBC_VERSION.jar
if [ ! -s "$PG_JAR" ]; then
  log "fetching the PostgreSQL JDBC driver $POSTGRES_JDBC_VERSION"
  mkdir -p "$CACHE/jars"
  mvn -q -B dependency:get -Dtransitive=false -Dartifact="org.postgresql:postgresql:$POSTGRES_JDBC_VERSION"
  cp "$HOME/.m2/repository/org/postgresql/postgresql/$POSTGRES_JDBC_VERSION/postgresql-$POSTGRES_JDBC_VERSION.jar" "$PG_JAR.tmp"
  mv "$PG_JAR.tmp" "$PG_JAR"
fi

# --- PostgreSQL server programs (end-to-end tests) and tmux (terminal test), from Debian -------
bash scripts/setup-postgres.sh >/dev/null
if ! command -v tmux >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  log "installing tmux"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux) >&2 || log "tmux could not be installed; the terminal test will be skipped"
fi

JAVA_HOME=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}

cat > .lakesync/toolchain.json <<JSON
{
  "temporal": "$TEMPORAL_BIN",
  "python": "$VENV/bin/python",
  "venv": "$VENV",
  "icebergJar": "$JAR",
  "postgresJdbcJar": "$PG_JAR",
  "javaHome": "$JAVA_HOME",
  "root": "$ROOT"
}
JSON
log "toolchain ready: .lakesync/toolchain.json"
