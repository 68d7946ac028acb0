#!/usr/bin/env bash
# Every shell script in the repository parses (bash -n), is shellcheck clean,
# answers --help with exit 0, and rejects an unknown option/command with a
# non-zero exit and a message. Prints "N passed, N failed".
set -Eeuo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=../lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/testing.sh"
export RM_LOG_TAG=test-shell

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Checks every tracked or new (not ignored) shell script: bash -n, shellcheck,
--help, and a clear refusal of bad input.
USAGE
}

list_scripts() {
  (cd "${RM_REPO_ROOT}" && git ls-files --cached --others --exclude-standard -- '*.sh' '.ci/run' |
    while read -r f; do [[ -f "${f}" ]] && echo "${f}"; done | sort -u)
}

# Sourced libraries and container entrypoints are not command-line tools.
is_library() { [[ "$1" == */lib/* || "$1" == */tests/assert.sh || "$1" == */base-images/* || "$1" == .ci/run ]]; }

check_script() {
  local f="$1" out rc
  check "bash -n ${f}" bash -n "${RM_REPO_ROOT}/${f}"
  check "shellcheck ${f}" shellcheck -x -S style -P "$(dirname "${RM_REPO_ROOT}/${f}")" "${RM_REPO_ROOT}/${f}"
  is_library "${f}" && return 0
  out=$(cd "${RM_REPO_ROOT}" && timeout 20 bash "${f}" --help 2>&1) && rc=0 || rc=$?
  if ((rc == 0)) && grep -qi 'usage' <<<"${out}"; then pass "--help ${f}"; else fail "--help ${f}" "exit ${rc}: $(head -c 200 <<<"${out}")"; fi
  out=$(cd "${RM_REPO_ROOT}" && timeout 20 bash "${f}" --no-such-option </dev/null 2>&1) && rc=0 || rc=$?
  if ((rc != 0)) && [[ -n "${out}" ]]; then pass "rejects bad input ${f}"; else fail "rejects bad input ${f}" "exit ${rc}"; fi
}

# make help groups the targets under the Makefile's ##@ section headers.
test_make_help() {
  local out sections
  out=$(make --no-print-directory -C "${RM_REPO_ROOT}" help 2>&1 | sed 's/\x1b\[[0-9;]*m//g')
  sections=$(grep -c '^##@ ' "${RM_REPO_ROOT}/Makefile")
  expect_eq "make help prints every ##@ section header (${sections})" "${sections}" \
    "$(grep -cxFf <(sed -n 's/^##@ //p' "${RM_REPO_ROOT}/Makefile") <<<"${out}")"
  expect_match "make help lists make up under its section" $'Everyday\n  up ' "${out}"
}

# run-suites.sh, run from a copy of the tooling with its own Makefile (a good
# suite, a failing one, one that fails without a closing line) and local
# services that always run: the table, the total, the failure digest and the
# exit status.
test_run_suites() {
  local root out rc=0
  root=$(mktemp -d)
  mkdir -p "${root}/infrastructure/tools/lib" "${root}/infrastructure/scripts/lib"
  cp "${RM_REPO_ROOT}/infrastructure/tools/run-suites.sh" "${root}/infrastructure/tools/"
  cp "${RM_REPO_ROOT}/infrastructure/tools/lib/common.sh" "${root}/infrastructure/tools/lib/"
  cp "${RM_REPO_ROOT}/infrastructure/scripts/lib/core.sh" "${root}/infrastructure/scripts/lib/"
  printf '#!/usr/bin/env bash\nexit 0\n' >"${root}/infrastructure/tools/local-services.sh"
  chmod +x "${root}/infrastructure/tools/local-services.sh"
  printf '%s\n' 'good:' '	@echo "3 passed, 0 failed"' 'bad:' '	@echo "  ok    first"' \
    '	@echo "  FAIL  second"' '	@echo "        the detail of second"' '	@echo "  ok    third"' \
    '	@echo "2 passed, 1 failed, 1 skipped"; exit 1' 'crash:' '	@echo "boom: no closing line"; exit 2' >"${root}/Makefile"
  out=$("${root}/infrastructure/tools/run-suites.sh" good bad crash 2>&1) || rc=$?
  expect_eq "run-suites: a failed suite fails the run" 1 "${rc}"
  expect_match "run-suites: the table has a row per suite" \
    $'good +ok +3 +0 +0 [^\n]*\nbad +FAIL +2 +1 +1 [^\n]*\ncrash +FAIL +0 +1 +0 ' "${out}"
  expect_eq "run-suites: the closing line sums the suites" "5 passed, 2 failed, 1 skipped" "$(tail -n 1 <<<"${out}")"
  expect_match "run-suites: the failed checks and their details are repeated at the end" \
    $'---- bad: what failed ----\n  FAIL  second\n        the detail of second\n\n' "${out}"
  expect_match "run-suites: a suite without failed checks shows its last lines" \
    $'---- crash: what failed ----\n[^\n]*boom: no closing line' "${out}"
  # A group: the streamed suite waits for a file that a quiet one writes, so
  # it passes only when both run at the same time.
  # shellcheck disable=SC2016 # make recipes, expanded by make and its shell
  printf '%s\n' 'waiter:' '	@for i in $$(seq 50); do [ -f side.mark ] && break; sleep 0.1; done; [ -f side.mark ] && echo "1 passed, 0 failed"' \
    'side:' '	@touch side.mark; echo "side output"; echo "4 passed, 0 failed"' >>"${root}/Makefile"
  rc=0
  out=$(cd "${root}" && "${root}/infrastructure/tools/run-suites.sh" waiter+side+bad good 2>&1) || rc=$?
  expect_eq "run-suites: a group's failed background suite fails the run" 1 "${rc}"
  expect_match "run-suites: a group's suites run at the same time, rows in the group's order" \
    $'waiter +ok +1 +0 +0 [^\n]*\nside +ok +4 +0 +0 [^\n]*\nbad +FAIL +2 +1 +1 [^\n]*\ngood +ok +3 +0 +0 ' "${out}"
  expect_match "run-suites: a background suite says what it runs alongside" 'suite side: start \(alongside waiter; log: ' "${out}"
  check_fails "run-suites: a background suite's output goes to its log only" grep -q "side output" <<<"${out}"
  expect_eq "run-suites: the closing line sums the group's suites too" "10 passed, 1 failed, 1 skipped" "$(tail -n 1 <<<"${out}")"
  rc=0
  out=$("${root}/infrastructure/tools/run-suites.sh" good 'good+' 2>&1) || rc=$?
  expect_match "run-suites: a malformed group is refused (exit ${rc})" 'not a suite or group of suites: good\+' "${out}"
  rc=0
  out=$("${root}/infrastructure/tools/run-suites.sh" good --no-such-option 2>&1) || rc=$?
  expect_match "run-suites: an option is refused before any suite runs (exit ${rc})" 'unknown option: --no-such-option' "${out}"
  check_fails "run-suites: nothing ran for a refused command line" grep -q "suite good" <<<"${out}"
  rm -rf "${root}"
}

main() {
  [[ "${1:-}" == -h || "${1:-}" == --help ]] && { usage; return 0; }
  ensure_apt_packages shellcheck
  local f
  while read -r f; do check_script "${f}"; done < <(list_scripts)
  test_make_help
  test_run_suites
  summary
}

main "$@"
