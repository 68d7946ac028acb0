#!/usr/bin/env bash
# The make targets people use with this machine as the host of ENV=local:
# `make deploy` prepares the host (settings, secrets, PostgreSQL, Redis, their
# passwords out of `docker inspect`) and deploys, a second `make deploy` switches release, `make releases` lists the
# ledger, `make rollback` goes back, `make local-down` removes it all. Runs
# under its own stack name, port, folders and image repository, so a real
# local deployment is never touched. Prints "N passed, N failed".
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/common.sh
source "${HERE}/../lib/common.sh"
# shellcheck source=../lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/testing.sh"
# shellcheck source=../../scripts/lib/deploy.sh
source "${RM_REPO_ROOT}/infrastructure/scripts/lib/deploy.sh"
export RM_LOG_TAG="test-local-deploy"

DOCKER=/usr/bin/docker
RUN_ID="rmlocaltest-$$"
REPO="restomarket/api-localtest"
WORK=""
PORT=""

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Builds ${REPO}:a and :b, then runs make deploy / releases / rollback / local-down
for ENV=local with a private copy of env/local.env; removes everything afterwards.
USAGE
}

cleanup() {
  mk local-down >/dev/null 2>&1 || true
  "${DOCKER}" volume rm "${RUN_ID}_postgres_data" "${RUN_ID}_redis_data" >/dev/null 2>&1 || true
  "${DOCKER}" rmi "${REPO}:a" "${REPO}:b" >/dev/null 2>&1 || true
  if [[ -n "${WORK}" ]]; then rm -rf "${WORK}"; fi
}

free_port() {
  local port
  for port in $(seq 3110 3199); do
    ss -Hltn "sport = :${port}" | grep -q . || { echo "${port}"; return 0; }
  done
  die "no free port in 3110-3199" "free one of them"
}

mk() { make --no-print-directory -C "${RM_REPO_ROOT}" "$@" ENV=local; }

proxy_version() { curl -s --max-time 5 "http://127.0.0.1:${PORT}/version" | sed -n 's/.*"version":"\([^"]*\)".*/\1/p'; }

setup() {
  WORK=$(mktemp -d)
  PORT=$(free_port)
  mkdir -p "${WORK}/envs"
  sed -e "s|^IMAGE_REPO=.*|IMAGE_REPO=${REPO}|" -e "s|^STACK_NAME=.*|STACK_NAME=${RUN_ID}|" \
    -e "s|^PROXY_PORT=.*|PROXY_PORT=${PORT}|" -e "s|^ENV_DIR=.*|ENV_DIR=${WORK}/envdir|" \
    -e "s|^STATE_DIR=.*|STATE_DIR=${WORK}/state|" \
    "${RM_REPO_ROOT}/infrastructure/scripts/env/local.env" >"${WORK}/envs/local.env"
  export RESTOMARKET_DEPLOY_ENVS="${WORK}/envs" RESTOMARKET_HOST_ENV_DIR="${WORK}/host" DEPLOY_ACTOR=test-local-deploy
  step build_a env IMAGE_REPO="${REPO}" "${RM_REPO_ROOT}/infrastructure/tools/build-image.sh" a
  step build_b env IMAGE_REPO="${REPO}" "${RM_REPO_ROOT}/infrastructure/tools/build-image.sh" b
}

test_first_deploy_prepares_the_host() {
  local out
  if out=$(mk deploy TAG=a 2>&1); then pass "make deploy TAG=a on an empty host"; else fail "make deploy TAG=a on an empty host" "$(tail -n 15 <<<"${out}")"; return; fi
  expect_eq "the proxy serves release a" a "$(proxy_version)"
  expect_match "settings written" 'DATABASE_URL=jdbc:postgresql://' "$(cat "${WORK}/envdir/api.env")"
  expect_eq "secret files are 0600 and owned by the API user" "600 1001" "$(stat -c '%a %u' "${WORK}/envdir/secrets/DATABASE_PASSWORD")"
  expect_eq "PostgreSQL runs on the environment network" running "$("${DOCKER}" inspect -f '{{.State.Status}}' "${RUN_ID}-postgres")"
  test_secrets_hidden
}

# test_secrets_hidden - no container of the deployment (PostgreSQL, Redis, the
# slots, the proxy) shows a secret in `docker inspect`, and PostgreSQL and
# Redis still demand their passwords.
test_secrets_hidden() {
  local secrets=() name container
  for name in DATABASE_PASSWORD REDIS_PASSWORD API_WRITE_TOKEN; do
    secrets+=("$(cat "${WORK}/envdir/secrets/${name}")")
  done
  while IFS= read -r container; do
    expect_secrets_hidden "${container}: no secret in docker inspect" "${container}" "${secrets[@]}"
  done < <("${DOCKER}" ps --filter "name=^${RUN_ID}-" --format '{{.Names}}' | sort)
  expect_postgres_auth "local PostgreSQL" "${RUN_ID}-postgres" restomarket restomarket "${secrets[0]}"
  expect_redis_auth "local Redis" "${RUN_ID}-redis" "${secrets[1]}"
}

test_second_deploy_and_releases() {
  local out
  replace_with_leaking_dependencies
  if out=$(mk deploy TAG=b 2>&1); then pass "make deploy TAG=b"; else fail "make deploy TAG=b" "$(tail -n 15 <<<"${out}")"; return; fi
  expect_eq "the proxy serves release b" b "$(proxy_version)"
  out=$(mk releases 2>&1) || true
  expect_match "make releases lists b" '\bb\b' "${out}"
  expect_match "make releases lists a" '\ba\b' "${out}"
  test_secrets_hidden
  local ids
  ids=$("${DOCKER}" inspect -f '{{.Id}}' "${RUN_ID}-postgres" "${RUN_ID}-redis")
  if out=$(mk deploy TAG=b 2>&1); then pass "make deploy of the live tag is a no-op"; else fail "make deploy of the live tag is a no-op" "$(tail -n 15 <<<"${out}")"; fi
  expect_match "...on a prepared host, without setting anything up again" 'ENV=local is prepared.*nothing to set up' "${out}"
  expect_eq "...and keeps the PostgreSQL and Redis containers" "${ids}" \
    "$("${DOCKER}" inspect -f '{{.Id}}' "${RUN_ID}-postgres" "${RUN_ID}-redis")"
}

# replace_with_leaking_dependencies - PostgreSQL and Redis as an older
# local-host.sh started them, passwords as values, on the initialised volumes:
# the next make deploy must replace them and the data must keep its password.
replace_with_leaking_dependencies() {
  "${DOCKER}" stop "${RUN_ID}-postgres" "${RUN_ID}-redis" >/dev/null
  "${DOCKER}" rm "${RUN_ID}-postgres" "${RUN_ID}-redis" >/dev/null
  # shellcheck source=/dev/null
  source <("${RM_REPO_ROOT}/infrastructure/tools/compose.sh" --env)
  "${DOCKER}" run -d --name "${RUN_ID}-postgres" --network "${RUN_ID}" --label "${LABEL_STACK}=${RUN_ID}" \
    -v "${RUN_ID}_postgres_data:/var/lib/postgresql/data" -e POSTGRES_USER=restomarket -e POSTGRES_DB=restomarket \
    -e POSTGRES_PASSWORD="$(cat "${WORK}/envdir/secrets/DATABASE_PASSWORD")" "${POSTGRES_IMAGE}" >/dev/null
  "${DOCKER}" run -d --name "${RUN_ID}-redis" --network "${RUN_ID}" --label "${LABEL_STACK}=${RUN_ID}" \
    -v "${RUN_ID}_redis_data:/data" "${REDIS_IMAGE}" \
    redis-server --appendonly yes --requirepass "$(cat "${WORK}/envdir/secrets/REDIS_PASSWORD")" >/dev/null
}

test_rollback_to_previous() {
  local out
  if out=$(mk rollback 2>&1); then pass "make rollback (to the previous release)"; else fail "make rollback" "$(tail -n 15 <<<"${out}")"; return; fi
  expect_eq "the proxy serves release a again" a "$(proxy_version)"
  expect_match "make rollback switched to the warm standby (local.env keeps it)" 'a is the warm standby in slot' "${out}"
}

# standby_timer - the PID of the warm standby's timer while it runs, else nothing.
standby_timer() { STANDBY_FILE="${WORK}/state/standby" standby_timer_pid; }

test_local_down() {
  local timer
  timer=$(standby_timer)
  if [[ -n "${timer}" ]]; then pass "the warm standby (b) has its timer (pid ${timer})"; else fail "the warm standby (b) has its timer" "$(cat "${WORK}/state/standby" 2>&1)"; fi
  check "make local-down" mk local-down
  expect_eq "no container of the deployment is left" "" "$("${DOCKER}" ps -aq --filter "name=^${RUN_ID}-")"
  expect_eq "no standby timer is left" "" "$(standby_timer)"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unexpected argument '$1'" "run it without arguments" ;;
  esac
  trap cleanup EXIT
  setup
  test_first_deploy_prepares_the_host
  test_second_deploy_and_releases
  test_rollback_to_previous
  test_local_down
  summary
}

main "$@"
