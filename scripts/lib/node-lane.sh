# node's test runner over one lane's files; sourced by scripts/test.sh (bash).
#
# node_lane RESULTS NAME FILE...
#   Runs the files LANE_CONCURRENCY (default 1) at a time: spec to stdout, TAP to RESULTS/NAME.tap,
#   the runner's exit status to RESULTS/NAME.rc (none when the lane was stopped).
#   - A file (or a test in it) still running after TEST_TIMEOUT_MS is cancelled, which counts as a
#     failure, and the runner goes on with the next file.
#   - The runner does not exit while a process some test left behind holds its output. Once its
#     report is complete it gets EXIT_GRACE_SECONDS to exit; then it is stopped and its status is
#     not 0 (the lane's clean-up names and stops the process left behind).
node_lane() {
  local results=$1 name=$2
  shift 2
  local tap="$results/$name.tap" timeout_ms=${TEST_TIMEOUT_MS:-900000} grace=${EXIT_GRACE_SECONDS:-60}
  if [ "$#" -eq 0 ]; then echo 0 > "$results/$name.rc"; return; fi
  node --test --test-concurrency="${LANE_CONCURRENCY:-1}" --test-timeout="$timeout_ms" \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" \
    "$@" &
  local runner=$! reported_at=
  while kill -0 "$runner" 2>/dev/null; do
    # The TAP report's last line is its run's duration, at the start of a line.
    if [ -z "$reported_at" ] && grep -q '^# duration_ms ' "$tap" 2>/dev/null; then reported_at=$SECONDS; fi
    if [ -n "$reported_at" ] && [ $((SECONDS - reported_at)) -ge "$grace" ]; then
      echo "node's test runner ($name) reported its results but had not exited $grace s later:" \
        "a test left a process holding its output. Stopping the runner; this counts as a failure." >&2
      kill "$runner"
      break
    fi
    sleep 1
  done
  wait "$runner"
  echo $? > "$results/$name.rc"
}
