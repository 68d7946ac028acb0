#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# make ci-check: proof that the CI/CD configuration is sound without reaching
# GitHub. actionlint, zizmor and yamllint over the workflows, the structural
# JUnit tests (ci/workflow-tests), gitleaks over the history, the pre-commit
# secret hook in a throwaway repository, the apply-rulesets, deployed-tags
# and smoke-test scripts against local stubs, and registry-retention against a
# real registry. Sub-suites' cases are added into
# one closing line "N passed, N failed[, N skipped]"; exit non-zero when
# anything failed.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/common.sh
source "${HERE}/../lib/common.sh"
# shellcheck source=../lib/testing.sh
source "${HERE}/../lib/testing.sh"
export RM_LOG_TAG="ci-check"

WORKFLOWS="${RM_REPO_ROOT}/.github/workflows"
YAML_FILES=(.github .pre-commit-config.yaml .yamllint.yaml infrastructure/ansible)

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Checks, in order (tools are installed on first use: actionlint and gitleaks
from the Go module proxy via tools.sh, zizmor/yamllint/pre-commit from PyPI via
python-tools.sh ci):
  actionlint       every workflow (with shellcheck of run: scripts)
  zizmor           auditor persona, offline; accepted findings only in .github/zizmor.yml
  yamllint         .github, .pre-commit-config.yaml, .yamllint.yaml, infrastructure/ansible (strict)
  workflow-tests   ./mvnw -f ci/workflow-tests/pom.xml verify (JUnit structural tests)
  gitleaks         every commit, with .gitleaks.toml
  secret hook      test-secret-hook.sh (a commit with a fake secret is blocked)
  rulesets         test-apply-rulesets.sh (dry run, no token, stub API)
  deployed tags    test-deployed-tags.sh (image-cleanup's protection regex, stub API)
  retention        test-registry-retention.sh (image-cleanup's deletions, a real registry)
  smoke test       test-smoke-test.sh (stub API)
USAGE
}

ensure_tools() {
  ACTIONLINT=$("${HERE}/tools.sh" actionlint | tail -n1)
  VENV=$("${RM_REPO_ROOT}/infrastructure/tools/bootstrap/python-tools.sh" ci | tail -n1)
  have shellcheck || ensure_apt_packages shellcheck
}

run_actionlint() { (cd "${RM_REPO_ROOT}" && "${ACTIONLINT}" -no-color); }

run_zizmor() {
  (cd "${RM_REPO_ROOT}" && "${VENV}/bin/zizmor" --offline --persona auditor --min-severity informational \
    --config .github/zizmor.yml --no-progress "${WORKFLOWS}")
}

run_yamllint() {
  (cd "${RM_REPO_ROOT}" && "${VENV}/bin/yamllint" --strict --config-file .yamllint.yaml "${YAML_FILES[@]}")
}

# indent - sub-suite output, shifted so that the suite runner counts only this
# script's closing line, not the sub-suites' ones as well.
indent() { sed -u 's/^/    /'; }

# add_counts NAME "P F S" RC - fold a sub-suite's counts into this suite's.
add_counts() {
  local name="$1" p f s rc="$3"
  read -r p f s <<<"$2"
  T_PASSED=$((T_PASSED + p)) T_SKIPPED=$((T_SKIPPED + s))
  if ((f > 0)); then
    T_FAILED=$((T_FAILED + f))
    T_FAILURES+=("${name}: ${f} failed")
  elif ((rc != 0)); then
    fail "${name}" "exited ${rc} without a failing case"
  fi
  printf '  %-5s %s (%d passed, %d failed, %d skipped)\n' "$([[ ${f} -eq 0 && ${rc} -eq 0 ]] && echo ok || echo FAIL)" "${name}" "${p}" "${f}" "${s}"
}

# shell_suite NAME SCRIPT - run a shell test suite and add up its closing line.
shell_suite() {
  local name="$1" out rc=0 counts p f s
  log "suite: ${name}"
  out=$("$2" 2>&1) || rc=$?
  indent <<<"${out}"
  counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' <<<"${out}" | tail -n1 |
    sed -E 's/^([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$/\1 \2 \4/')
  [[ -n "${counts}" ]] || counts="0 0 0"
  read -r p f s <<<"${counts}"
  add_counts "${name}" "${p} ${f} ${s:-0}" "${rc}"
}

workflow_tests() {
  local out rc=0 line run fails errors skipped
  log "suite: workflow-tests (JUnit)"
  out=$(cd "${RM_REPO_ROOT}" && ./mvnw -B -ntp -f ci/workflow-tests/pom.xml verify 2>&1) || rc=$?
  grep -E 'Tests run:|FAIL|expected|but was|ERROR\]   ' <<<"${out}" | indent
  line=$(grep -E '^\[(INFO|ERROR|WARNING)\] Tests run: [0-9]+, Failures: [0-9]+, Errors: [0-9]+, Skipped: [0-9]+$' <<<"${out}" | tail -n1 || true)
  if [[ -z "${line}" ]]; then
    tail -n 20 <<<"${out}" | indent
    add_counts "workflow-tests (JUnit)" "0 0 0" "${rc:-1}"
    ((rc != 0)) || fail "workflow-tests (JUnit)" "no test summary in the Maven output"
    return 0
  fi
  read -r run fails errors skipped < <(sed -E 's/.*Tests run: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+), Skipped: ([0-9]+)/\1 \2 \3 \4/' <<<"${line}")
  add_counts "workflow-tests (JUnit)" "$((run - fails - errors - skipped)) $((fails + errors)) ${skipped}" "${rc}"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument: $1" "run with --help" ;;
  esac
  local start
  start=$(date +%s)
  ensure_tools
  check "actionlint: the workflows are valid" run_actionlint
  check "zizmor: no finding in the workflows beyond the accepted ones" run_zizmor
  check "yamllint: the CI YAML is clean" run_yamllint
  workflow_tests
  check "gitleaks: no secret in any commit" "${HERE}/gitleaks.sh" history
  shell_suite "pre-commit secret hook" "${HERE}/test-secret-hook.sh"
  shell_suite "apply-rulesets" "${HERE}/test-apply-rulesets.sh"
  shell_suite "deployed-tags" "${HERE}/test-deployed-tags.sh"
  shell_suite "registry-retention" "${HERE}/test-registry-retention.sh"
  shell_suite "smoke-test" "${HERE}/test-smoke-test.sh"
  log "ci-check took $(($(date +%s) - start))s"
  summary
}

main "$@"
