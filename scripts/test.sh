#!/usr/bin/env bash
# Runs every test: the TypeScript suites (node's test runner) and the Glue job's pytest suite.
# Installs what it needs first (scripts/bootstrap.sh). Ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh || { echo "bootstrap failed"; echo "0 passed, 1 failed"; exit 1; }
npm run --silent build || { echo "TypeScript build failed"; echo "0 passed, 1 failed"; exit 1; }

PY=$(node -e 'console.log(require("./.lakesync/toolchain.json").python)')
export LAKESYNC_ICEBERG_JAR=$(node -e 'console.log(require("./.lakesync/toolchain.json").icebergJar)')
mkdir -p .lakesync/test-results

# Node: one file at a time (each starts its own Temporal dev server; the machine has 2 cores).
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
if [ -n "${LAKESYNC_TEST_FILTER:-}" ]; then mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -E "$LAKESYNC_TEST_FILTER"); fi
node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination=.lakesync/test-results/node.tap \
  "${files[@]}"
node_rc=$?
node_pass=$(grep -E '^# pass ' .lakesync/test-results/node.tap | awk '{print $3}')
node_fail=$(grep -E '^# fail ' .lakesync/test-results/node.tap | awk '{print $3}')

# Python: the Glue job on local Spark + Iceberg, and its entry scripts.
py_pass=0; py_fail=0; py_rc=0
if [ -d glue/tests ]; then
  "$PY" -m pytest glue/tests -q -p no:cacheprovider --junitxml=.lakesync/test-results/pytest.xml
  py_rc=$?
  if [ -f .lakesync/test-results/pytest.xml ]; then
    read -r py_total py_failures py_errors py_skipped < <("$PY" - <<'PYEOF'
import xml.etree.ElementTree as ET
root = ET.parse(".lakesync/test-results/pytest.xml").getroot()
suite = root if root.tag == "testsuite" else root.find("testsuite")
print(suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped"))
PYEOF
)
    py_fail=$((py_failures + py_errors))
    py_pass=$((py_total - py_fail - py_skipped))
  fi
  [ "$py_rc" -eq 5 ] && py_rc=0   # no tests collected is reported by the counts below
fi

passed=$(( ${node_pass:-0} + py_pass ))
failed=$(( ${node_fail:-0} + py_fail ))
if [ "$node_rc" -ne 0 ] && [ "${node_fail:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
if [ "$py_rc" -ne 0 ] && [ "$py_fail" -eq 0 ]; then failed=$((failed + 1)); fi
echo
echo "node: ${node_pass:-0} passed, ${node_fail:-0} failed; pytest: $py_pass passed, $py_fail failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
