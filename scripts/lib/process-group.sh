# Process groups for the test lanes; sourced by scripts/test.sh (bash).
#
# A test that leaks a child (say a worker still polling a server that is gone) keeps the test
# runner's output open, and with it the whole run, forever. So each lane runs in a process group
# of its own: whatever it leaves running is stopped when it ends, and a lane past its deadline is
# stopped with everything it started.

# start_in_group COMMAND [ARG...]: starts COMMAND (a program or a shell function) in the background
# in a new process group; its pid, which is also the group's id, is in $! afterwards.
start_in_group() {
  set -m # job control: a background job gets a process group whose id is its pid
  "$@" &
  set +m
}

# stop_group PGID: SIGTERM to the group, SIGKILL to what is left after 10 s.
stop_group() {
  local pgid=$1 waited=0
  kill -TERM -- "-$pgid" 2>/dev/null || return 0
  while pgrep -g "$pgid" >/dev/null && [ "$waited" -lt 10 ]; do
    sleep 1
    waited=$((waited + 1))
  done
  kill -KILL -- "-$pgid" 2>/dev/null || true
}

# wait_for_group LABEL PGID DEADLINE: waits for the group's first process to end and returns its
# exit status, or 124 when it is still running once $SECONDS reaches DEADLINE (then the whole group
# is stopped). Processes left in the group are listed on stderr under LABEL and stopped.
wait_for_group() {
  local label=$1 pgid=$2 deadline=$3 timed_out=0
  while kill -0 "$pgid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      timed_out=1
      echo "$label was still running at its time limit: stopping it and every process it started" >&2
      stop_group "$pgid"
      break
    fi
    sleep 1
  done
  wait "$pgid" 2>/dev/null
  local status=$?
  # A JVM whose Python driver has just exited ends by itself within seconds: only what outlives
  # that was left running.
  local grace=0
  while [ "$timed_out" -eq 0 ] && pgrep -g "$pgid" >/dev/null && [ "$grace" -lt 5 ]; do
    sleep 1
    grace=$((grace + 1))
  done
  local left
  left=$(pgrep -a -g "$pgid")
  if [ -n "$left" ]; then
    echo "$label left these processes running; they are stopped now:" >&2
    sed 's/^/  /' <<<"$left" >&2
    stop_group "$pgid"
  fi
  if [ "$timed_out" -eq 1 ]; then return 124; fi
  return "$status"
}
