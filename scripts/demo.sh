#!/usr/bin/env bash
# npm run demo: installs what is missing (scripts/bootstrap.sh), builds, and runs the demo:
# a local Temporal dev server with its Web UI, a worker and an embedded PGlite shop synced into a
# local Iceberg lake over three cycles and a rerun (src/demo). Exits 0 only when every check passed.
# Arguments go to the demo, e.g. `npm run demo -- --keep` keeps the Web UI up until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
npm run --silent build
exec node dist/src/demo/main.js "$@"
