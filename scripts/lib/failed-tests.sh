# Names the failed tests of a run, so that the last lines of a long run say what failed and where;
# sourced by scripts/test.sh (bash).
#
# failed_node_tests TAP...
#   One line per failed test of node's TAP reports: "✖ name (file:line:column): first line of its
#   error". A suite that failed only because a test in it failed is not repeated. At most
#   FAILED_TESTS_SHOWN (40) lines, then how many more there are.
failed_node_tests() {
  awk -v shown="${FAILED_TESTS_SHOWN:-40}" '
    function flush() {
      if (name != "" && type != "subtestsFailed") {
        n++
        if (n <= shown) {
          line = "✖ " name (where != "" ? " (" where ")" : "") (error != "" ? ": " error : "")
          print substr(line, 1, 400)
        }
      }
      name = ""; where = ""; type = ""; error = ""; want_error = 0
    }
    # A YAML scalar as written: quoted in single quotes (doubled inside) or double quotes (escaped).
    function unquoted(v,    q, first, last) {
      q = "\047"; first = substr(v, 1, 1); last = substr(v, length(v), 1)
      if (length(v) < 2 || first != last) return v
      if (first == q) { v = substr(v, 2, length(v) - 2); gsub(q q, q, v) }
      else if (first == "\"") { v = substr(v, 2, length(v) - 2); gsub(/\\"/, "\"", v); gsub(/\\\\/, "\\", v) }
      return v
    }
    /^ *not ok [0-9]+ - / {
      flush()
      name = $0; sub(/^ *not ok [0-9]+ - /, "", name)
      next
    }
    name != "" && want_error { error = $0; sub(/^ +/, "", error); want_error = 0; next }
    name != "" && /^ +location: / { where = $0; sub(/^ +location: /, "", where); where = unquoted(where); next }
    name != "" && /^ +failureType: / { type = $0; sub(/^ +failureType: /, "", type); gsub(/'\''/, "", type); next }
    name != "" && /^ +error: \|-?$/ { want_error = 1; next }
    name != "" && /^ +error: / { error = $0; sub(/^ +error: /, "", error); error = unquoted(error); next }
    name != "" && /^ +\.\.\.$/ { flush(); next }
    END {
      flush()
      if (n > shown) print "… and " (n - shown) " more failed tests (see the TAP reports)"
    }
  ' "$@"
}

# failed_pytests PYTHON JUNIT_XML
#   One line per failed or erred test of pytest's JUnit report: "✖ module::test: first line of its
#   message"; at most FAILED_TESTS_SHOWN (40) lines, then how many more there are.
failed_pytests() {
  "$1" - "$2" "${FAILED_TESTS_SHOWN:-40}" <<'PYEOF'
import sys
import xml.etree.ElementTree as ET

shown = int(sys.argv[2])
failed = []
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    for outcome in ("failure", "error"):
        found = case.find(outcome)
        if found is not None:
            message = (found.get("message") or found.text or "").strip().splitlines()
            failed.append(f"✖ {case.get('classname')}::{case.get('name')}: {message[0] if message else outcome}"[:400])
if failed:
    print("\n".join(failed[:shown]))
if len(failed) > shown:
    print(f"… and {len(failed) - shown} more failed tests (see {sys.argv[1]})")
PYEOF
}
