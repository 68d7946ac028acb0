# shellcheck shell=bash
# Minimal assertion helpers for shell test suites. Each suite sources this,
# calls check/expect_* per case and ends with `summary`, which prints the
# closing line "N passed, N failed[, N skipped]" and returns
# non-zero on failure.

T_PASSED=0
T_FAILED=0
T_SKIPPED=0
T_FAILURES=()

pass() { T_PASSED=$((T_PASSED + 1)); printf '  ok    %s\n' "$1"; }
fail() {
  T_FAILED=$((T_FAILED + 1))
  T_FAILURES+=("$1")
  printf '  FAIL  %s\n' "$1"
  [[ -n "${2:-}" ]] && printf '        %s\n' "$2"
  return 0
}

# skip NAME REASON - a case that cannot run here; counted and shown with its reason.
skip() {
  T_SKIPPED=$((T_SKIPPED + 1))
  printf '  SKIP  %s\n        %s\n' "$1" "$2"
}

# check NAME COMMAND... - passes when COMMAND exits 0.
check() {
  local name="$1"
  shift
  local out
  if out=$("$@" 2>&1); then pass "${name}"; else fail "${name}" "$(tail -n 5 <<<"${out}")"; fi
}

# check_fails NAME COMMAND... - passes when COMMAND exits non-zero.
check_fails() {
  local name="$1"
  shift
  if "$@" >/dev/null 2>&1; then fail "${name}" "expected a non-zero exit"; else pass "${name}"; fi
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
  if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}

# expect_match NAME REGEX TEXT
expect_match() {
  if [[ "$3" =~ $2 ]]; then pass "$1"; else fail "$1" "expected to match /$2/, got: $(head -c 300 <<<"$3")"; fi
}

summary() {
  if ((T_FAILED > 0)); then
    printf 'failed cases:\n'
    printf '  - %s\n' "${T_FAILURES[@]}"
  fi
  if ((T_SKIPPED > 0)); then
    printf '%d passed, %d failed, %d skipped\n' "${T_PASSED}" "${T_FAILED}" "${T_SKIPPED}"
  else
    printf '%d passed, %d failed\n' "${T_PASSED}" "${T_FAILED}"
  fi
  ((T_FAILED == 0))
}
