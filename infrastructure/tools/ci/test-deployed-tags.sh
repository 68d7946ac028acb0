#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Offline tests of deployed-tags.sh against a stub of the GitHub REST API on
# 127.0.0.1: the regex keeps latest, stable, semantic versions and the live
# and previous successful deployment of every environment (with or without a
# branch prefix), and nothing older; --keep changes how many; no deployment
# gives the permanent tags alone; an API error, a bad answer or a missing
# token exits non-zero with nothing on stdout. Prints "N passed, N failed".
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/common.sh
source "${HERE}/../lib/common.sh"
# shellcheck source=../lib/testing.sh
source "${HERE}/../lib/testing.sh"
export RM_LOG_TAG="test-deployed-tags"

DEPLOYED_TAGS="${HERE}/deployed-tags.sh"
WORK=""
OUT=""
ERR=""
RC=0

PERMANENT='latest|stable|v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?'
BASE_REGEX="^(${PERMANENT})\$"
# Commits of the fixture: staging's newest deployment failed (F), then live
# (A) and previous (B, statuses inactive then success), then an older success
# (C) that may go; dev runs D.
SHA_F=ffff00000000aaaaaaaaaaaaaaaaaaaaaaaaaaaa
SHA_A=aaaa11111111aaaaaaaaaaaaaaaaaaaaaaaaaaaa
SHA_B=bbbb22222222bbbbbbbbbbbbbbbbbbbbbbbbbbbb
SHA_C=cccc33333333cccccccccccccccccccccccccccc
SHA_D=dddd44444444dddddddddddddddddddddddddddd

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Runs deployed-tags.sh against a stub GitHub API
(infrastructure/tools/tests/github-api-stub.py on 127.0.0.1) that answers the
canned JSON of WORK/fixture.json, re-read on every request, and records every
request in WORK/requests.log.
USAGE
}

cleanup() {
  stub_stop
  [[ -z "${WORK}" ]] || rm -rf "${WORK}"
}

# start_stub - the GitHub API stub (tools/tests/github-api-stub.py) answering
# from WORK/fixture.json, logging every request to WORK/requests.log.
start_stub() {
  stub_start github-api "${RM_REPO_ROOT}/infrastructure/tools/tests/github-api-stub.py" \
    "${WORK}/fixture.json" "${WORK}/requests.log"
}

# fixture JQ_PROGRAM - write WORK/fixture.json from a jq program that can use
# env.A ... env.F (the commits) and env.r (the /repos/acme/restomarket
# prefix); start with an empty request log.
fixture() {
  A="${SHA_A}" B="${SHA_B}" C="${SHA_C}" D="${SHA_D}" F="${SHA_F}" r=/repos/acme/restomarket \
    jq -n "$1" >"${WORK}/fixture.json"
  : >"${WORK}/requests.log"
}

# two_environments - the fixture described at SHA_F.
two_environments() {
  fixture '{
    (env.r + "/environments"): {environments: [{name: "staging"}, {name: "dev"}]},
    (env.r + "/deployments?environment=staging"):
      [{id: 15, sha: env.F}, {id: 14, sha: env.A}, {id: 13, sha: env.B}, {id: 12, sha: env.C}],
    (env.r + "/deployments/15/statuses"): [{state: "failure"}, {state: "in_progress"}],
    (env.r + "/deployments/14/statuses"): [{state: "success"}, {state: "in_progress"}],
    (env.r + "/deployments/13/statuses"): [{state: "inactive"}, {state: "success"}],
    (env.r + "/deployments/12/statuses"): [{state: "success"}],
    (env.r + "/deployments?environment=dev"): [{id: 21, sha: env.D}],
    (env.r + "/deployments/21/statuses"): [{state: "success"}]
  }'
}

# run_script [ARG...] - deployed-tags.sh against the stub; sets OUT, ERR, RC.
run_script() {
  RC=0
  OUT=$(GITHUB_TOKEN=test-token GITHUB_API_URL="${STUB_URL}" \
    "${DEPLOYED_TAGS}" "$@" 2>"${WORK}/stderr") || RC=$?
  ERR=$(cat "${WORK}/stderr")
}

# protects NAME REGEX TAG... - every TAG matches REGEX (ERE, like the action's).
protects() {
  local name="$1" regex="$2" tag missed=()
  shift 2
  for tag in "$@"; do grep -Eq -- "${regex}" <<<"${tag}" || missed+=("${tag}"); done
  if ((${#missed[@]} == 0)); then pass "${name}"; else fail "${name}" "not matched: ${missed[*]}"; fi
}

# may_delete NAME REGEX TAG... - no TAG matches REGEX.
may_delete() {
  local name="$1" regex="$2" tag kept=()
  shift 2
  for tag in "$@"; do grep -Eq -- "${regex}" <<<"${tag}" && kept+=("${tag}"); done
  if ((${#kept[@]} == 0)); then pass "${name}"; else fail "${name}" "matched: ${kept[*]}"; fi
}

# fails_closed NAME - the last run exited non-zero and printed nothing on stdout.
fails_closed() {
  if ((RC != 0)) && [[ -z "${OUT}" ]]; then pass "$1"; else fail "$1" "exit ${RC}, stdout '${OUT}'"; fi
}

test_live_and_previous_of_every_environment() {
  local log="${WORK}/requests.log"
  two_environments
  RC=0
  OUT=$(GITHUB_REPOSITORY=acme/restomarket GITHUB_TOKEN=test-token \
    GITHUB_API_URL="${STUB_URL}" "${DEPLOYED_TAGS}" 2>"${WORK}/stderr") || RC=$?
  expect_eq "two environments: exit 0" 0 "${RC}"
  expect_eq "staging's live and previous and dev's live commit are protected, nothing else" \
    "^(${PERMANENT}|([A-Za-z0-9._-]+-)?(${SHA_A::12}|${SHA_B::12}|${SHA_D::12}))\$" "${OUT}"
  protects "the regex keeps latest, stable and semantic versions" "${OUT}" \
    latest stable 1.2.3 v1.2.3 10.0.1 1.2.3-rc.1 v2.0.0+build.5
  protects "the regex keeps each deployed commit's image, with or without a branch" "${OUT}" \
    "${SHA_A::12}" "develop-${SHA_A::12}" "${SHA_B::12}" "main-${SHA_B::12}" "${SHA_D::12}" "feature-x-${SHA_D::12}"
  may_delete "older, failed and other tags may be deleted" "${OUT}" \
    "${SHA_C::12}" "develop-${SHA_C::12}" "${SHA_F::12}" "develop-${SHA_F::12}" 1.2 latest-old \
    "x${SHA_A::12}" "${SHA_A::13}" "develop-${SHA_A::11}"
  expect_eq "the token is sent on every request" 0 "$(grep -vc ' Bearer test-token$' "${log}" || true)"
  expect_match "deployments are read per environment, 100 a page" \
    'GET /repos/acme/restomarket/deployments\?environment=staging&per_page=100&page=1 ' "$(cat "${log}")"
  expect_eq "the older success's statuses are never read (two were found before it)" \
    "" "$(grep '/deployments/12/statuses' "${log}" || true)"
  expect_eq "seven requests: environments, 2 deployment lists, 4 status lists" 7 "$(wc -l <"${log}")"
}

test_keep_one() {
  two_environments
  run_script --repo acme/restomarket --keep 1
  expect_eq "--keep 1: only each environment's newest success is protected" \
    "^(${PERMANENT}|([A-Za-z0-9._-]+-)?(${SHA_A::12}|${SHA_D::12}))\$" "${OUT}"
  may_delete "--keep 1: the previous release may be deleted" "${OUT}" "${SHA_B::12}" "develop-${SHA_B::12}"
}

test_no_deployments() {
  fixture '{(env.r + "/environments"): {environments: [{name: "staging"}]}, (env.r + "/deployments?environment=staging"): []}'
  run_script --repo acme/restomarket
  expect_eq "no deployment: exit 0" 0 "${RC}"
  expect_eq "no deployment: the permanent tags alone, no empty alternative" "${BASE_REGEX}" "${OUT}"
  protects "no deployment: latest and semantic versions are still kept" "${OUT}" latest stable v1.2.3 1.2.3-rc.1
  may_delete "no deployment: commit images may be deleted" "${OUT}" "${SHA_A::12}" "develop-${SHA_A::12}" 1.2
  fixture '{(env.r + "/environments"): {total_count: 0, environments: []}}'
  run_script --repo acme/restomarket
  expect_eq "no environment: the permanent tags alone" "${BASE_REGEX}" "${OUT}"
}

test_pages_and_repeated_commits() {
  fixture '{
    (env.r + "/environments"): {environments: [{name: "staging"}]},
    (env.r + "/deployments?environment=staging"):
      ([range(100) | {id: (1000 - .), sha: env.F}] + [{id: 9, sha: env.A}, {id: 8, sha: env.A}, {id: 7, sha: env.B}]),
    (env.r + "/deployments/9/statuses"): [{state: "success"}],
    (env.r + "/deployments/7/statuses"): ([range(100) | {state: "inactive"}] + [{state: "success"}])
  } + ([range(100) | {key: "\(env.r)/deployments/\(1000 - .)/statuses", value: [{state: "error"}]}] | from_entries)'
  run_script --repo acme/restomarket
  expect_eq "a success on the second page of deployments (and of statuses) is found; a redeploy of the live commit does not count as previous" \
    "^(${PERMANENT}|([A-Za-z0-9._-]+-)?(${SHA_A::12}|${SHA_B::12}))\$" "${OUT}"
  expect_eq "the redeployed commit's statuses are not read again" "" \
    "$(grep '/deployments/8/statuses' "${WORK}/requests.log" || true)"
}

test_fails_closed() {
  two_environments
  jq --arg k /repos/acme/restomarket/deployments/21/statuses '.[$k] = {__status: 500}' \
    "${WORK}/fixture.json" >"${WORK}/f" && mv "${WORK}/f" "${WORK}/fixture.json"
  run_script --repo acme/restomarket
  fails_closed "an API 500 (after staging was read) exits non-zero, no regex"
  expect_match "and names the failing request" 'deployments/21/statuses\?per_page=100&page=1 failed with HTTP 500' "${ERR}"

  fixture '{(env.r + "/environments"): {__status: 403}}'
  run_script --repo acme/restomarket
  fails_closed "a 403 on the environments exits non-zero, no regex"
  expect_match "and says which permissions the token needs" "Deployments: read and Actions: read" "${ERR}"

  fixture '{(env.r + "/environments"): {__raw: "<html>rate limited</html>"}}'
  run_script --repo acme/restomarket
  fails_closed "an answer that is not JSON exits non-zero, no regex"

  fixture '{(env.r + "/environments"): {__raw: ""}}'
  run_script --repo acme/restomarket
  fails_closed "an empty answer exits non-zero, no regex"

  fixture '{(env.r + "/environments"): {environments: [{name: "staging"}]}, (env.r + "/deployments?environment=staging"): {message: "odd"}}'
  run_script --repo acme/restomarket
  fails_closed "an answer of the wrong shape exits non-zero, no regex"

  fixture '{(env.r + "/environments"): {environments: [{name: "staging"}]},
    (env.r + "/deployments?environment=staging"): [{id: 3, sha: "aaaa1111"}]}'
  run_script --repo acme/restomarket
  fails_closed "a commit that is not 40 hex characters exits non-zero, no regex"
  expect_match "and names the deployment" "deployment 3 of 'staging' names commit 'aaaa1111'" "${ERR}"

  RC=0
  OUT=$(GITHUB_TOKEN=test-token GITHUB_API_URL="http://127.0.0.1:1" \
    "${DEPLOYED_TAGS}" --repo acme/restomarket 2>/dev/null) || RC=$?
  fails_closed "no answer from the API exits non-zero, no regex"
}

test_refusals() {
  RC=0
  OUT=$(env -u GITHUB_TOKEN "${DEPLOYED_TAGS}" --repo acme/restomarket 2>"${WORK}/stderr") || RC=$?
  fails_closed "without GITHUB_TOKEN it refuses"
  expect_match "and says which variable is missing" 'GITHUB_TOKEN is not set' "$(cat "${WORK}/stderr")"
  check_fails "an invalid --repo is refused" env GITHUB_TOKEN=x "${DEPLOYED_TAGS}" --repo 'not a repo'
  check_fails "--keep 0 is refused" env GITHUB_TOKEN=x "${DEPLOYED_TAGS}" --repo acme/restomarket --keep 0
  check_fails "--keep abc is refused" env GITHUB_TOKEN=x "${DEPLOYED_TAGS}" --repo acme/restomarket --keep abc
  RC=0
  OUT=$("${DEPLOYED_TAGS}" --help 2>&1) || RC=$?
  expect_eq "--help exits 0" 0 "${RC}"
  expect_match "--help shows the usage and the regex without deployments" "Usage:.*\\^\\(latest\\|stable\\|" "$(tr '\n' ' ' <<<"${OUT}")"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument: $1" "run with --help" ;;
  esac
  have python3 || die "python3 not found" "install python3"
  have jq || ensure_apt_packages jq
  WORK=$(mktemp -d)
  trap cleanup EXIT
  start_stub
  test_live_and_previous_of_every_environment
  test_keep_one
  test_no_deployments
  test_pages_and_repeated_commits
  test_fails_closed
  test_refusals
  summary
}

main "$@"
