#!/usr/bin/env bash
# Runs one benchmark: `bash scripts/bench.sh <name>`. Python benchmarks are bench/<name>.py,
# TypeScript ones bench/<name>.ts (run compiled). Each writes bench/results/<name>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/bench.sh <name>}
bash scripts/bootstrap.sh
if [ -f "bench/$name.py" ]; then
  PY=$(node -e 'console.log(require("./.lakesync/toolchain.json").python)')
  LAKESYNC_ICEBERG_JAR=$(node -e 'console.log(require("./.lakesync/toolchain.json").icebergJar)') exec "$PY" "bench/$name.py"
fi
npm run --silent build
exec node "dist/bench/$name.js"
