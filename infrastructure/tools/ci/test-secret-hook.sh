#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Proves the pre-commit secret scan works: in a throwaway repository under
# mktemp, with this repository's .pre-commit-config.yaml, .gitleaks.toml and
# hook scripts installed through pre-commit, a commit adding a realistic fake
# secret is blocked and leaves no commit, while clean files and the example
# files' documented dummy values go through. Prints "N passed, N failed".
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/common.sh
source "${HERE}/../lib/common.sh"
# shellcheck source=../lib/testing.sh
source "${HERE}/../lib/testing.sh"
export RM_LOG_TAG="test-secret-hook"

WORK=""

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Creates a throwaway git repository under \${TMPDIR:-/tmp}, installs the
project's pre-commit hooks in it (pre-commit from the 'ci' venv, gitleaks from
tools.sh) and tries commits with and without secrets. Removes it afterwards.
Fake secrets are generated at run time; none is stored in this repository.
USAGE
}

cleanup() { [[ -z "${WORK}" ]] || rm -rf "${WORK}"; }

# random_chars N - N random letters and digits.
random_chars() {
  local s=""
  while ((${#s} < $1)); do s+=$(head -c 256 /dev/urandom | tr -dc 'A-Za-z0-9'); done
  printf '%s' "${s:0:$1}"
}

fake_github_token() { printf 'ghp_%s' "$(random_chars 36)"; }
fake_aws_key_id() { printf 'AKIA%s' "$(random_chars 16 | tr '[:lower:]' '[:upper:]')"; }

setup_repo() {
  local venv
  venv=$("${RM_REPO_ROOT}/infrastructure/tools/bootstrap/python-tools.sh" ci | tail -n1)
  "${HERE}/tools.sh" gitleaks >/dev/null
  WORK=$(mktemp -d)
  git -C "${WORK}" init -q -b main
  git -C "${WORK}" config user.email hook-test@example.invalid
  git -C "${WORK}" config user.name "hook test"
  git -C "${WORK}" config commit.gpgsign false
  mkdir -p "${WORK}/infrastructure/tools/ci" "${WORK}/infrastructure/tools/lib" "${WORK}/infrastructure/scripts/lib"
  cp "${RM_REPO_ROOT}/.pre-commit-config.yaml" "${RM_REPO_ROOT}/.gitleaks.toml" "${RM_REPO_ROOT}/.yamllint.yaml" "${WORK}/"
  cp -p "${HERE}/gitleaks.sh" "${HERE}/tools.sh" "${WORK}/infrastructure/tools/ci/"
  cp "${RM_REPO_ROOT}/infrastructure/tools/lib/common.sh" "${WORK}/infrastructure/tools/lib/"
  cp "${RM_REPO_ROOT}/infrastructure/scripts/lib/core.sh" "${WORK}/infrastructure/scripts/lib/"
  (cd "${WORK}" && "${venv}/bin/pre-commit" install >/dev/null)
  (cd "${WORK}" && git add -A && git commit -q -m "hook set-up")
}

head_commit() { git -C "${WORK}" rev-parse HEAD; }

# try_commit FILE... - stage FILEs and commit; prints the hook output, returns git's status.
try_commit() {
  (cd "${WORK}" && git add -- "$@" && git commit -m "test: $*" 2>&1)
}

test_clean_commit_passes() {
  printf 'restomarket\n' >"${WORK}/notes.txt"
  check "a commit without secrets goes through" try_commit notes.txt
}

test_secret_is_blocked() {
  local before out rc=0
  before=$(head_commit)
  printf 'GITHUB_TOKEN=%s\nAWS_ACCESS_KEY_ID=%s\n' "$(fake_github_token)" "$(fake_aws_key_id)" >"${WORK}/deploy.env"
  out=$(try_commit deploy.env) || rc=$?
  if ((rc != 0)); then pass "a commit adding a GitHub token and an AWS key is blocked"; else fail "a commit adding a GitHub token and an AWS key is blocked" "the commit went through"; fi
  expect_eq "the blocked commit leaves no commit behind" "${before}" "$(head_commit)"
  expect_match "the hook names what it found" 'github-pat|aws-access-token' "${out}"
  if grep -qF "$(sed -n 's/^GITHUB_TOKEN=//p' "${WORK}/deploy.env")" <<<"${out}"; then
    fail "the hook output redacts the secret" "the token appears in the output"
  else
    pass "the hook output redacts the secret"
  fi
  git -C "${WORK}" reset -q -- deploy.env
  rm -f "${WORK}/deploy.env"
}

test_example_dummies_pass() {
  local f
  for f in .env.example apps/api/.env.example .env.development.example .env.staging.example; do
    mkdir -p "$(dirname "${WORK}/${f}")"
    cp "${RM_REPO_ROOT}/${f}" "${WORK}/${f}"
  done
  check "the example files with their placeholder values go through" \
    try_commit .env.example apps/api/.env.example .env.development.example .env.staging.example
}

test_real_secret_in_example_is_blocked() {
  local before rc=0
  before=$(head_commit)
  printf 'GITHUB_TOKEN=%s\n' "$(fake_github_token)" >>"${WORK}/.env.example"
  try_commit .env.example >/dev/null || rc=$?
  if ((rc != 0)) && [[ "$(head_commit)" == "${before}" ]]; then
    pass "a real-looking secret in an example file is still blocked (allowlists are per line)"
  else
    fail "a real-looking secret in an example file is still blocked (allowlists are per line)" "exit ${rc}"
  fi
  git -C "${WORK}" checkout -q -- .env.example 2>/dev/null || git -C "${WORK}" reset -q -- .env.example
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument: $1" "run with --help" ;;
  esac
  trap cleanup EXIT
  setup_repo
  test_clean_commit_passes
  test_secret_is_blocked
  test_example_dummies_pass
  test_real_secret_in_example_is_blocked
  summary
}

main "$@"
