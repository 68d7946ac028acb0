#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# make test-audit: the security audit's checks of today's tree and API image
# (a finding neither fixed nor accepted fails its case), then planted
# findings that every check must flag, beside clean twins it must pass: a
# container with -e SECRET=..., a secret-looking flag, a port on every
# interface and a known secret in its log; a secret in a git history and in a
# file; a root Dockerfile on :latest; a compose file publishing a port and a
# password; a readable secret file of the wrong owner, a ledger and a
# process argument holding a secret. Ends with "N passed, N failed".
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../lib/common.sh
source "${HERE}/../../lib/common.sh"
# shellcheck source=../../lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/testing.sh"
export RM_LOG_TAG="test-audit"

AUDIT="${RM_REPO_ROOT}/infrastructure/tools/audit/audit.sh"
DOCKER="${DOCKER:-/usr/bin/docker}"
API_IMAGE="${AUDIT_TEST_IMAGE:-restomarket/api:test}"
RUN_ID="audit-self-test-$$"
LABEL="com.restomarket.audit-self-test"
WORK=""
PLANTED_ONLY=""
SLEEPER_PID=""

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--planted-only]

Runs the audit's repository and image checks (audit.sh scan --only repo,image
--image ${API_IMAGE}) on today's tree, one case per finding, then plants
findings and checks that each check flags them (and passes their clean
twins); stops every container and process it started. --planted-only: only
the planted half (audit.sh self-test).

Environment:
  AUDIT_TEST_IMAGE  the API image of the image checks (default: restomarket/api:test)
USAGE
}

parse_args() {
  case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    --planted-only) PLANTED_ONLY=1 ;;
    "") ;;
    *) usage >&2; die "unknown argument: $1" "run with --help" 2 ;;
  esac
}

cleanup() {
  local ids=()
  mapfile -t ids < <("${DOCKER}" ps -aq --filter "label=${LABEL}=${RUN_ID}" 2>/dev/null || true)
  ((${#ids[@]} == 0)) || "${DOCKER}" rm -f "${ids[@]}" >/dev/null 2>&1 || true
  [[ -z "${SLEEPER_PID}" ]] || { kill "${SLEEPER_PID}" 2>/dev/null || true; wait "${SLEEPER_PID}" 2>/dev/null || true; }
  [[ -z "${WORK}" ]] || rm -rf "${WORK}"
}

# audit RESULTS ARGS... - audit.sh with its own results file, quiet.
audit() {
  local results="$1"
  shift
  AUDIT_RESULTS="${results}" "${AUDIT}" "$@" >>"${WORK}/audit.log" 2>&1
}

# findings RESULTS - RESULT<TAB>CHECK<TAB>DETAIL of every finding, with the
# accepted risks of ACCEPTED (the project's for today's tree; none for planted
# findings, whose paths could match an accepted pattern).
ACCEPTED=/dev/null
findings() {
  AUDIT_RESULTS="$1" AUDIT_ACCEPTED_RISKS="${ACCEPTED}" "${AUDIT}" verdict --list 2>/dev/null || true
}

# expect_finding NAME RESULTS RESULT CHECK_REGEX - some finding matches.
expect_finding() {
  local list
  list="$(findings "$2")"
  if grep -qE "^$3"$'\t'"$4" <<<"${list}"; then
    pass "$1"
  else
    fail "$1" "no '$3' finding matching /$4/ in: $(cut -f1,2 <<<"${list}" | tr '\t\n' ': ' | head -c 600)"
  fi
}

expect_verdict() {
  local rc=0
  AUDIT_RESULTS="$3" AUDIT_ACCEPTED_RISKS="${ACCEPTED}" "${AUDIT}" verdict >/dev/null 2>&1 || rc=$?
  expect_eq "$1" "$2" "${rc}"
}

# ---- today's tree ----------------------------------------------------------------

test_todays_tree() {
  local results="${WORK}/today.jsonl" result check detail start
  start=$(date +%s)
  if ! audit "${results}" scan --only repo,image --image "${API_IMAGE}"; then
    fail "audit.sh scan --only repo,image ran to its end" "$(tail -n 5 "${WORK}/audit.log")"
    return 0
  fi
  log "scan of today's tree took $(($(date +%s) - start))s"
  while IFS=$'\t' read -r result check detail; do
    if [[ "${result}" == fail ]]; then fail "audit: ${check}" "${detail}"; else pass "audit: ${check} (${result})"; fi
  done < <(ACCEPTED="${RM_REPO_ROOT}/infrastructure/tools/audit/accepted-risks.tsv" findings "${results}")
}

# ---- planted: the repository -----------------------------------------------------

# new_repo DIR - an empty git repository with one committer.
new_repo() {
  git init -q "$1"
  git -C "$1" config user.email audit@example.invalid
  git -C "$1" config user.name audit-self-test
}

plant_repo() {
  local dir="${WORK}/planted-repo" token
  new_repo "${dir}"
  # A GitHub token's shape (both scanners know it), random so no scanner has seen it.
  token="ghp_$(random_secret)abcd"
  printf 'GITHUB_TOKEN=%s\n' "${token}" >"${dir}/deploy.env"
  printf 'FROM debian:latest\nRUN apt-get update && apt-get install curl\nCMD ["curl", "--version"]\n' >"${dir}/Dockerfile"
  printf 'services:\n  db:\n    image: postgres:15\n    ports:\n      - "5432:5432"\n    environment:\n      POSTGRES_PASSWORD: %s\n' \
    "$(random_secret)" >"${dir}/docker-compose.yml"
  git -C "${dir}" add -A && git -C "${dir}" commit -qm "planted findings"
  # Only the history keeps this one: gitleaks must read the history.
  printf 'token: ghp_%sefgh\n' "$(random_secret)" >"${dir}/old.yml"
  git -C "${dir}" add old.yml && git -C "${dir}" commit -qm "old" && git -C "${dir}" rm -q old.yml && git -C "${dir}" commit -qm "removed"
}

clean_repo() {
  local dir="${WORK}/clean-repo"
  new_repo "${dir}"
  printf 'GITHUB_TOKEN_FILE=/run/secrets/github_token\n' >"${dir}/deploy.env"
  printf 'FROM scratch\nCOPY app /app\nUSER 1001\nHEALTHCHECK CMD ["/app", "health"]\nENTRYPOINT ["/app"]\n' >"${dir}/Dockerfile"
  printf 'services:\n  db:\n    image: postgres:15\n    ports:\n      - "127.0.0.1:5432:5432"\n    environment:\n      POSTGRES_PASSWORD_FILE: /run/secrets/db\n' \
    >"${dir}/docker-compose.yml"
  git -C "${dir}" add -A && git -C "${dir}" commit -qm "clean"
}

test_planted_repo() {
  local bad="${WORK}/repo-bad.jsonl" good="${WORK}/repo-good.jsonl"
  plant_repo
  clean_repo
  audit "${bad}" scan --only repo --root "${WORK}/planted-repo" || true
  audit "${good}" scan --only repo --root "${WORK}/clean-repo" || true
  expect_finding "planted: gitleaks finds a token that only the history holds" "${bad}" fail 'gitleaks [a-z-]+: old\.yml'
  expect_finding "planted: gitleaks finds the token in the tree" "${bad}" fail 'gitleaks [a-z-]+: deploy\.env'
  expect_finding "planted: detect-secrets finds the token (the second scanner)" "${bad}" fail 'detect-secrets [A-Za-z ]+: deploy\.env'
  expect_finding "planted: hadolint flags the Dockerfile" "${bad}" fail 'hadolint DL[0-9]+: Dockerfile'
  expect_finding "planted: trivy config flags the root user" "${bad}" fail 'trivy config DS-0002: Dockerfile'
  expect_finding "planted: checkov flags the :latest base image" "${bad}" fail 'checkov CKV_DOCKER_7: Dockerfile'
  expect_finding "planted: compose publishing a port on every interface" "${bad}" fail 'compose port: docker-compose\.yml db'
  expect_finding "planted: compose passing a password as a value" "${bad}" fail 'compose secret-env: docker-compose\.yml db'
  expect_verdict "planted: verdict on the planted repository exits 1" 1 "${bad}"
  expect_finding "clean twin: gitleaks passes" "${good}" pass 'gitleaks over the full history'
  expect_finding "clean twin: detect-secrets passes" "${good}" pass 'detect-secrets over the tracked files'
  expect_finding "clean twin: hadolint passes" "${good}" pass 'hadolint: every Dockerfile'
  expect_finding "clean twin: trivy config passes" "${good}" pass 'trivy config \(Dockerfiles\)'
  expect_finding "clean twin: compose passes" "${good}" pass 'compose docker-compose\.yml'
}

# ---- planted: what runs on this machine ------------------------------------------

# small_image - an image with sh and sleep: the runtime base of the API image.
small_image() {
  local image
  image="$(sed -n 's/^RUNTIME_BASE_IMAGE=//p' < <("${RM_REPO_ROOT}/infrastructure/tools/compose.sh" --env 2>/dev/null) | tail -n1)"
  if [[ -z "${image}" ]] || ! "${DOCKER}" image inspect "${image}" >/dev/null 2>&1; then
    die "no runtime base image (RUNTIME_BASE_IMAGE) here" "run make images"
  fi
  echo "${image}"
}

# deploy_dir DIR MODE OWNER LEDGER_LINE - a deployment's env dir: one secret
# file and a release ledger.
deploy_dir() {
  mkdir -p "$1/local/secrets" "$1/local/state"
  random_secret >"$1/local/secrets/API_WRITE_TOKEN"
  chmod "$2" "$1/local/secrets/API_WRITE_TOKEN"
  chown "$3" "$1/local/secrets/API_WRITE_TOKEN"
  printf '%s\n' "$4" >"$1/local/state/releases.jsonl"
}

test_planted_host() {
  local image bad="${WORK}/host-bad.jsonl" good="${WORK}/host-good.jsonl" flag known
  image="$(small_image)"
  known="$(random_secret)"
  printf '%s' "${known}" >"${WORK}/known-secret"
  chmod 0600 "${WORK}/known-secret"
  deploy_dir "${WORK}/deploy-bad" 0644 0:0 '{"tag":"planted","outcome":"ok"}'
  sed -i "s/planted/$(cat "${WORK}/deploy-bad/local/secrets/API_WRITE_TOKEN")/" "${WORK}/deploy-bad/local/state/releases.jsonl"
  deploy_dir "${WORK}/deploy-good" 0600 1001:1001 '{"tag":"v1","outcome":"ok"}'
  # -e SECRET=..., a --requirepass argument, a port on every interface, a
  # known secret in an innocent variable that the container also logs.
  # shellcheck disable=SC2016 # expanded by the container's shell
  "${DOCKER}" run -d --name "${RUN_ID}-bad" --label "${LABEL}=${RUN_ID}" --label "${LABEL}.twin=bad" \
    -e "SECRET=$(random_secret)" -e "GREETING=${known}" -p 0.0.0.0::8080 --entrypoint sh "${image}" \
    -c 'echo "$GREETING"; sleep 120' --requirepass "$(random_secret)" >/dev/null
  # shellcheck disable=SC2016 # expanded by the container's shell
  "${DOCKER}" run -d --name "${RUN_ID}-good" --label "${LABEL}=${RUN_ID}" --label "${LABEL}.twin=good" \
    -e DATABASE_PASSWORD_FILE=/run/secrets/DATABASE_PASSWORD -e GREETING=hello -p 127.0.0.1::8080 --entrypoint sh "${image}" \
    -c 'echo "$GREETING"; sleep 120' >/dev/null
  # A process whose arguments hold the deployment's secret (the trailing ':' keeps bash from exec'ing sleep).
  bash -c 'sleep 60; :' audit-self-test "$(cat "${WORK}/deploy-bad/local/secrets/API_WRITE_TOKEN")" &
  SLEEPER_PID=$!
  wait_until 10 "the planted container's log" bash -c "'${DOCKER}' logs '${RUN_ID}-bad' 2>&1 | grep -q ." || true
  AUDIT_DEPLOY_DIR="${WORK}/deploy-bad" audit "${bad}" scan --only host --containers "label=${LABEL}.twin=bad" \
    --secret-file "${WORK}/known-secret" || true
  kill "${SLEEPER_PID}" 2>/dev/null || true
  wait "${SLEEPER_PID}" 2>/dev/null || true
  SLEEPER_PID=""
  AUDIT_DEPLOY_DIR="${WORK}/deploy-good" audit "${good}" scan --only host --containers "label=${LABEL}.twin=good" \
    --secret-file "${WORK}/known-secret" || true
  "${DOCKER}" rm -f "${RUN_ID}-bad" "${RUN_ID}-good" >/dev/null
  flag="${RUN_ID}-bad"
  expect_finding "planted: a container started with -e SECRET=..." "${bad}" fail "container secret-env: ${flag}"
  expect_finding "planted: a container with --requirepass VALUE in its command" "${bad}" fail "container secret-arg: ${flag}"
  expect_finding "planted: a port published on every interface" "${bad}" fail "container port: ${flag}"
  expect_finding "planted: a known secret value in docker inspect" "${bad}" fail "container known-secret: ${flag}"
  expect_finding "planted: a known secret value in the container's log" "${bad}" fail "container log: ${flag}"
  expect_finding "planted: a process argument holding a secret" "${bad}" fail 'process arguments hold no known secret'
  expect_finding "planted: a release ledger holding a secret" "${bad}" fail 'release ledger local/state/releases\.jsonl'
  expect_finding "planted: a secret file with mode 0644" "${bad}" fail 'secret file mode: local/secrets/API_WRITE_TOKEN'
  expect_finding "planted: a secret file owned by root, not the API's uid" "${bad}" fail 'secret file owner: local/secrets/API_WRITE_TOKEN'
  expect_verdict "planted: verdict on the planted host exits 1" 1 "${bad}"
  expect_finding "clean twin: a container with a _FILE variable and a loopback port passes" "${good}" pass 'containers: docker inspect and logs'
  expect_finding "clean twin: no process argument holds a secret" "${good}" pass 'process arguments hold no known secret'
  expect_finding "clean twin: the ledger holds no secret" "${good}" pass 'release ledger local/state/releases\.jsonl'
  expect_finding "clean twin: a 0600 secret file of uid 1001" "${good}" pass 'secret files 0600/0400'
  expect_verdict "clean twin: verdict exits 0" 0 "${good}"
}

# ---- accepted risks and the report -------------------------------------------------

test_accepted_and_report() {
  local results="${WORK}/accept.jsonl" accepted="${WORK}/accepted.tsv" report="${WORK}/report.md" rc=0
  AUDIT_RESULTS="${results}" bash -c "source '${RM_REPO_ROOT}/infrastructure/tools/lib/common.sh'
    source '${RM_REPO_ROOT}/infrastructure/tools/lib/audit.sh'
    audit_record secrets 'container secret-env: planted' fail high 'a planted finding'
    audit_record config 'hadolint: every Dockerfile' pass none 'no finding'"
  printf '# comment\ncontainer secret-env: plant*\tA reason a reviewer can check.\n' >"${accepted}"
  rc=0
  AUDIT_RESULTS="${results}" AUDIT_ACCEPTED_RISKS=/dev/null AUDIT_REPORT="${report}" "${AUDIT}" report >/dev/null 2>&1 || rc=$?
  expect_eq "report: exits 1 while a finding is neither fixed nor accepted" 1 "${rc}"
  expect_match "report: names date, commit and every check" \
    "\| Commit \| \`$(git -C "${RM_REPO_ROOT}" rev-parse --short=12 HEAD)\` \|.*\| container secret-env: planted \| fail \| high \|.*\| hadolint: every Dockerfile \| pass \|" \
    "$(tr '\n' ' ' <"${report}")"
  rc=0
  printf '# comment\nhadolint DL4006: Dockerfile\tmedium\tpipefail set in the stage\n' >"${WORK}/fixed.tsv"
  AUDIT_RESULTS="${results}" AUDIT_ACCEPTED_RISKS="${accepted}" AUDIT_FIXED="${WORK}/fixed.tsv" AUDIT_REPORT="${report}" \
    "${AUDIT}" report >/dev/null 2>&1 || rc=$?
  expect_eq "report: exits 0 once the finding is accepted" 0 "${rc}"
  expect_match "report: an accepted finding shows its reason" \
    '\| container secret-env: planted \| accepted \| high \| a planted finding \| accepted: A reason a reviewer can check\. \|' \
    "$(cat "${report}")"
  expect_match "report: a fixed finding keeps its severity and resolution" \
    $'## Fixed findings\n.*\\| hadolint DL4006: Dockerfile \\| medium \\| pipefail set in the stage \\|' "$(cat "${report}")"
}

# The scanners, resolved once for the suite's many scans (audit.sh takes them
# from the environment).
resolve_tools() {
  AUDIT_VENV="$("${RM_REPO_ROOT}/infrastructure/tools/bootstrap/python-tools.sh" audit | tail -n1)"
  CHECKOV_BIN="$("${RM_REPO_ROOT}/infrastructure/tools/bootstrap/python-tools.sh" checkov | tail -n1)/bin/checkov"
  TRIVY_BIN="$("${RM_REPO_ROOT}/infrastructure/tools/ci/tools.sh" trivy | tail -n1)"
  export AUDIT_VENV CHECKOV_BIN TRIVY_BIN
}

main() {
  parse_args "$@"
  trap cleanup EXIT
  WORK="$(mktemp -d)"
  step tools resolve_tools >/dev/null
  local start
  start=$(date +%s)
  if [[ -z "${PLANTED_ONLY}" ]]; then
    test_todays_tree
  fi
  test_planted_repo
  test_planted_host
  test_accepted_and_report
  log "took $(($(date +%s) - start))s (audit.sh output: kept in the log on failure)"
  ((T_FAILED == 0)) || tail -n 40 "${WORK}/audit.log"
  summary
}

main "$@"
