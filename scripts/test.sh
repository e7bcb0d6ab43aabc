#!/usr/bin/env bash
# Runs every test: the TypeScript suites (node's test runner) and the Glue job's pytest suite.
# Installs what it needs first (scripts/bootstrap.sh). Ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh || { echo "bootstrap failed"; echo "0 passed, 1 failed"; exit 1; }
npm run --silent build || { echo "TypeScript build failed"; echo "0 passed, 1 failed"; exit 1; }

PY=$(node -e 'console.log(require("./.lakesync/toolchain.json").python)')
# The tests run Spark (pytest's session, the load runners test/local starts) on small data, where
# the JVM's optimizing compiler costs more CPU than it saves: its client compiler alone uses about
# a third less CPU for the same tests. Users and the benchmarks keep the JVM's default.
export PYSPARK_SUBMIT_ARGS=${PYSPARK_SUBMIT_ARGS:-"--driver-java-options -XX:TieredStopAtLevel=1 pyspark-shell"}
export LAKESYNC_ICEBERG_JAR=$(node -e 'console.log(require("./.lakesync/toolchain.json").icebergJar)')
mkdir -p .lakesync/test-results
# The tests name their own Temporal servers: a Temporal CLI profile of this machine's user (whose
# address and namespace win over lakesync.yaml) must not send them elsewhere.
export TEMPORAL_CONFIG_FILE="$PWD/.lakesync/test-results/no-temporal-profile.toml"
unset TEMPORAL_PROFILE

# Two lanes run side by side:
#   spark: test/local (Spark, PostgreSQL), one file at a time, then the Glue job's pytest suite;
#          Spark keeps both cores busy much of the time;
#   rest:  everything else (Temporal dev servers, moto, CLI processes, the exporter without
#          Spark), two files at a time: these mostly wait on their servers and timers (a file
#          uses a third to two thirds of a core), so two of them share the other core.
# The rest lane prints as it goes; the spark lane's output follows once both are done.
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
if [ -n "${LAKESYNC_TEST_FILTER:-}" ]; then mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -E "$LAKESYNC_TEST_FILTER"); fi
spark_lane_dirs='^dist/test/local/'
mapfile -t spark_files < <(printf '%s\n' "${files[@]}" | grep -E "$spark_lane_dirs")
mapfile -t rest_files < <(printf '%s\n' "${files[@]}" | grep -Ev "$spark_lane_dirs" | grep .)
results=.lakesync/test-results
rm -f "$results"/*.tap "$results"/*.rc "$results"/*.log "$results"/*.cpu "$results"/pytest.xml

# A test file (or a test in it) still running after this is cancelled as a failure and the lane
# goes on; files take up to about 4 minutes here.
TEST_TIMEOUT_MS=${LAKESYNC_TEST_TIMEOUT_MS:-900000}
source scripts/lib/node-lane.sh

spark_lane() {
  node_lane "$results" node-spark "${spark_files[@]}"
  # Python: the Glue job on local Spark + Iceberg, and its entry scripts. Spark runs their many
  # small queries interpreted: compiling each query's generated code costs more CPU than running
  # it on a few rows (the suite takes about a quarter less time). Spark's results are the same either
  # way; test/local above runs the job with generated code, as users and the benchmarks do.
  if [ -d glue/tests ]; then
    PYSPARK_SUBMIT_ARGS="--conf spark.sql.codegen.wholeStage=false --conf spark.sql.codegen.factoryMode=NO_CODEGEN $PYSPARK_SUBMIT_ARGS" \
      "$PY" -m pytest glue/tests -q -p no:cacheprovider --junitxml="$results/pytest.xml"
    echo $? > "$results/pytest.rc"
  fi
  lane_cpu spark
}

rest_lane() {
  LANE_CONCURRENCY=2 node_lane "$results" node-rest "${rest_files[@]}"
  lane_cpu rest
}

# The CPU time of the lane's processes that ended, user and system (bash's `times`, run in this shell).
lane_cpu() {
  times > "$results/$1-lane.cpu"
  echo "($1 lane CPU, user and system: $(tail -1 "$results/$1-lane.cpu"))"
}

# Each lane runs in a process group of its own (scripts/lib/process-group.sh): what a test leaves
# running is stopped when its lane ends, and a lane still running after LANE_LIMIT seconds is
# stopped, so that a hung test fails the run (its lane leaves no exit status) instead of stalling it.
source scripts/lib/process-group.sh
LANE_LIMIT=${LAKESYNC_LANE_TIMEOUT_SECONDS:-2700}   # each lane took 19 to 35 minutes on 2-core machines
started=$SECONDS
start_in_group spark_lane > "$results/spark-lane.log" 2>&1
spark_group=$!
start_in_group rest_lane
rest_group=$!
# The lanes are not in the terminal's process group, so an interrupt stops them from here.
trap 'stop_group "$rest_group"; stop_group "$spark_group"; echo "interrupted"; exit 130' INT TERM
wait_for_group "the rest lane" "$rest_group" $((started + LANE_LIMIT))
echo "(rest lane done after $((SECONDS - started)) s; waiting for the spark lane)"
wait_for_group "the spark lane" "$spark_group" $((started + LANE_LIMIT)) 2>> "$results/spark-lane.log"
echo
echo "=== spark lane: test/local and pytest (done after $((SECONDS - started)) s) ==="
cat "$results/spark-lane.log"

count() { grep -hE "^# $1 " "$results"/node-*.tap 2>/dev/null | awk '{s += $3} END {print s + 0}'; }
node_pass=$(count pass)
node_fail=$(( $(count fail) + $(count cancelled) ))   # cancelled: stopped at its time limit
node_rc=0
for lane in node-spark node-rest; do
  rc=$(cat "$results/$lane.rc" 2>/dev/null || echo 1)
  [ "$rc" -ne 0 ] && node_rc=$rc
done

py_pass=0; py_fail=0; py_rc=0
if [ -d glue/tests ]; then
  py_rc=$(cat "$results/pytest.rc" 2>/dev/null || echo 1)   # no exit status: the lane died before pytest ended
  if [ -f "$results/pytest.xml" ]; then
    read -r py_total py_failures py_errors py_skipped < <("$PY" - "$results/pytest.xml" <<'PYEOF'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suite = root if root.tag == "testsuite" else root.find("testsuite")
print(suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped"))
PYEOF
)
    py_fail=$((py_failures + py_errors))
    py_pass=$((py_total - py_fail - py_skipped))
  fi
  [ "$py_rc" -eq 5 ] && py_rc=0   # no tests collected is reported by the counts below
fi

# The failed tests by name, so that the run's last lines say what failed and where.
source scripts/lib/failed-tests.sh
failures=$(failed_node_tests "$results"/node-*.tap 2>/dev/null
  if [ -f "$results/pytest.xml" ]; then failed_pytests "$PY" "$results/pytest.xml"; fi)
if [ -n "$failures" ]; then
  echo
  echo "failed tests:"
  echo "$failures"
fi

passed=$(( node_pass + py_pass ))
failed=$(( node_fail + py_fail ))
if [ "$node_rc" -ne 0 ] && [ "$node_fail" -eq 0 ]; then failed=$((failed + 1)); fi
if [ "$py_rc" -ne 0 ] && [ "$py_fail" -eq 0 ]; then failed=$((failed + 1)); fi
echo
echo "node: $node_pass passed, $node_fail failed; pytest: $py_pass passed, $py_fail failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
