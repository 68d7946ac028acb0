#!/usr/bin/env bash
# The local compose stacks as a user meets them: both files validate, the dev
# stack comes up healthy with Adminer answering, hot reload picks up a newly
# compiled class, the staging-like stack serves the production image, both
# keep every secret out of `docker inspect` of every container while
# PostgreSQL and Redis still demand the passwords, and bad input (a taken port, a missing
# .env.staging) is refused naming the problem. Prints "N passed, N failed".
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../tools/lib/common.sh
source "${HERE}/../../tools/lib/common.sh"
# shellcheck source=../../tools/lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/testing.sh"
export RM_LOG_TAG="test-stacks"

STACK="${RM_REPO_ROOT}/infrastructure/tools/stack.sh"
PROBE_SRC="${RM_REPO_ROOT}/apps/api/src/main/java/com/restomarket/api/system/HotReloadProbeController.java"
BLOCKER_PID=""
WORK=""
# The test's own compose projects, settings files and volumes: a developer's
# stacks and data are never touched (only the host ports are shared).
DEV_NAME="rmstacktest-dev"
STAGING_NAME="rmstacktest-staging"
# Host ports of their own too (the environment beats the settings file, as in
# compose), so a developer's `make up` stack may keep running meanwhile.
DEV_PORTS=(API_PORT=13001 ADMINER_PORT=18080 POSTGRES_PORT=15432 REDIS_PORT=16379)
STAGING_PORTS=(API_PORT=13002 ADMINER_PORT=18081 POSTGRES_PORT=15433 REDIS_PORT=16380)
DEV_API=13001
STAGING_API=13002

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Brings the dev and staging-like stacks up and down under their own project
names, settings files, volumes (removed afterwards) and host ports (dev:
${DEV_API}, staging: ${STAGING_API}); your own stacks and data are not touched.
USAGE
}

cleanup() {
  if [[ -n "${BLOCKER_PID}" ]]; then kill "${BLOCKER_PID}" 2>/dev/null || true; fi
  if [[ -f "${PROBE_SRC}" ]]; then
    rm -f "${PROBE_SRC}"
    (cd "${RM_REPO_ROOT}" && ./mvnw -B -ntp -q -pl apps/api compile -Dspotless.check.skip=true >/dev/null 2>&1) || true
  fi
  dev down --volumes >/dev/null 2>&1 || true
  staging down --volumes >/dev/null 2>&1 || true
  rm -rf "${RM_REPO_ROOT}/.run/${DEV_NAME}-secrets" "${RM_REPO_ROOT}/.run/${STAGING_NAME}-secrets"
  if [[ -n "${WORK}" ]]; then rm -rf "${WORK}"; fi
}

dev() { env "${DEV_PORTS[@]}" STACK_NAME="${DEV_NAME}" STACK_ENV_FILE="${WORK}/.env.development" "${STACK}" "$1" dev "${@:2}"; }
staging() { env "${STAGING_PORTS[@]}" STACK_NAME="${STAGING_NAME}" STACK_ENV_FILE="${WORK}/.env.staging" "${STACK}" "$1" staging "${@:2}"; }

# service_container PROJECT SERVICE - the name of SERVICE's running container.
service_container() {
  /usr/bin/docker ps --filter "label=com.docker.compose.project=$1" \
    --filter "label=com.docker.compose.service=$2" --format '{{.Names}}' | head -n 1
}

# test_secrets_hidden STACK PROJECT ENV_FILE - no container of the stack shows
# a password or the token of ENV_FILE in `docker inspect` (env, command,
# health check, labels); PostgreSQL and Redis still demand their password;
# the secret files compose mounts are private.
test_secrets_hidden() {
  local stack="$1" project="$2" env_file="$3" key service
  local -A value=()
  for key in POSTGRES_PASSWORD REDIS_PASSWORD API_WRITE_TOKEN; do
    value[${key}]=$(sed -n "s/^${key}=//p" "${env_file}")
  done
  for service in api postgres redis adminer; do
    expect_secrets_hidden "${stack} ${service}: no secret in docker inspect" \
      "$(service_container "${project}" "${service}")" "${value[@]}"
  done
  expect_postgres_auth "${stack} postgres" "$(service_container "${project}" postgres)" \
    restomarket restomarket "${value[POSTGRES_PASSWORD]}"
  expect_redis_auth "${stack} redis" "$(service_container "${project}" redis)" "${value[REDIS_PASSWORD]}"
  expect_eq "${stack}: secret files are private (folder 700, files 600)" "700 600 600 600" \
    "$(stat -c %a "${RM_REPO_ROOT}/.run/${project}-secrets" "${RM_REPO_ROOT}/.run/${project}-secrets/"* | xargs)"
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true; }

test_compose_files_validate() {
  check "docker-compose.yml validates" dev config -q
  check "docker-compose.staging.yml validates" staging config -q
}

test_dev_stack() {
  local out
  if out=$(dev up 2>&1); then pass "make up: dev stack healthy"; else fail "make up: dev stack healthy" "$(tail -n 15 <<<"${out}")"; return; fi
  expect_match "URLs printed" "http://localhost:${DEV_API}" "${out}"
  local health
  health=$(curl -s http://127.0.0.1:${DEV_API}/health)
  expect_match "dev /health: database and redis connected" '"database":"connected","redis":"connected"' "${health}"
  expect_eq "Adminer answers on 18080" 200 "$(http_code http://127.0.0.1:18080/)"
  expect_match ".env.development has generated passwords" '^POSTGRES_PASSWORD=[A-Za-z0-9]{20,}$' "$(grep '^POSTGRES_PASSWORD=' "${WORK}/.env.development")"
  expect_eq ".env.development is private (0600)" 600 "$(stat -c %a "${WORK}/.env.development")"
  test_dev_api_surface
  test_hot_reload
  check "make up is idempotent (second run)" dev up
  test_secrets_hidden dev "${DEV_NAME}" "${WORK}/.env.development"
  expect_match "dev data lives in the stack's named volume" "${DEV_NAME}_postgres_data" \
    "$(/usr/bin/docker volume ls --format '{{.Name}}')"
}

# post_restaurant PORT [TOKEN] - HTTP status of a create, with TOKEN as bearer when given.
post_restaurant() {
  local -a auth=()
  [[ -z "${2:-}" ]] || auth=(-H "Authorization: Bearer $2")
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' "${auth[@]}" \
    -d '{"name":"Stack Test","cuisine":"thai","city":"Lyon"}' "http://127.0.0.1:$1/api/v1/restaurants" || true
}

# Swagger on in development, writes need the generated token, and a settings
# file from before the token existed gets one added on the next make up.
test_dev_api_surface() {
  local token
  token=$(sed -n 's/^API_WRITE_TOKEN=//p' "${WORK}/.env.development")
  expect_match ".env.development has a generated write token" '^[A-Za-z0-9]{20,}$' "${token}"
  expect_eq "dev: Swagger UI 200" 200 "$(http_code http://127.0.0.1:${DEV_API}/swagger-ui/index.html)"
  expect_eq "dev: /v3/api-docs 200" 200 "$(http_code http://127.0.0.1:${DEV_API}/v3/api-docs)"
  expect_eq "dev: POST without a token is 401" 401 "$(post_restaurant "${DEV_API}")"
  expect_eq "dev: POST with the generated token is 201" 201 "$(post_restaurant "${DEV_API}" "${token}")"
  sed -i '/^API_WRITE_TOKEN=/d' "${WORK}/.env.development"
  local out
  out=$(dev up 2>&1) || true
  expect_match "make up adds a missing generated setting" 'adding API_WRITE_TOKEN' "${out}"
  expect_match "...with a fresh value" '^API_WRITE_TOKEN=[A-Za-z0-9]{20,}$' "$(grep '^API_WRITE_TOKEN=' "${WORK}/.env.development")"
  expect_match "...and keeps the passwords" '^POSTGRES_PASSWORD=[A-Za-z0-9]{20,}$' "$(grep '^POSTGRES_PASSWORD=' "${WORK}/.env.development")"
  # The secret files change, not the compose configuration: the API must still be restarted.
  expect_eq "dev: POST with the new token is 201" 201 \
    "$(post_restaurant "${DEV_API}" "$(sed -n 's/^API_WRITE_TOKEN=//p' "${WORK}/.env.development")")"
}

test_stale_volume_without_settings_is_refused() {
  local out rc=0
  out=$(env "${DEV_PORTS[@]}" STACK_NAME="${DEV_NAME}" STACK_ENV_FILE="${WORK}/lost/.env.development" "${STACK}" up dev 2>&1) || rc=$?
  if ((rc != 0)); then pass "new passwords over an initialised volume are refused"; else fail "new passwords over an initialised volume are refused"; fi
  expect_match "the error names the volume" "${DEV_NAME}_postgres_data" "${out}"
}

test_hot_reload() {
  cat >"${PROBE_SRC}" <<'JAVA'
package com.restomarket.api.system;

import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

@RestController
class HotReloadProbeController {
  @GetMapping("/hot-reload-probe")
  String probe() {
    return "reloaded";
  }
}
JAVA
  local out i code=""
  if ! out=$(cd "${RM_REPO_ROOT}" && ./mvnw -B -ntp -q -pl apps/api compile -Dspotless.check.skip=true 2>&1); then
    fail "hot reload: compiling the probe controller" "$(tail -n 5 <<<"${out}")"
    return 0
  fi
  for i in $(seq 1 60); do
    code=$(http_code http://127.0.0.1:${DEV_API}/hot-reload-probe)
    [[ "${code}" == 200 ]] && break
    sleep 1
  done
  expect_eq "hot reload serves a newly compiled controller (${i}s)" 200 "${code}"
  rm -f "${PROBE_SRC}"
  (cd "${RM_REPO_ROOT}" && ./mvnw -B -ntp -q -pl apps/api compile -Dspotless.check.skip=true >/dev/null 2>&1) || true
}

test_port_taken_is_refused() {
  dev down >/dev/null 2>&1
  python3 -m http.server "${DEV_API}" --bind 127.0.0.1 >/dev/null 2>&1 &
  BLOCKER_PID=$!
  wait_until 10 "port ${DEV_API} blocker" bash -c "ss -Hltn 'sport = :${DEV_API}' | grep -q ."
  local out rc=0
  out=$(dev up 2>&1) || rc=$?
  kill "${BLOCKER_PID}" 2>/dev/null || true
  wait "${BLOCKER_PID}" 2>/dev/null || true
  BLOCKER_PID=""
  if ((rc != 0)); then pass "make up with ${DEV_API} taken exits non-zero"; else fail "make up with ${DEV_API} taken exits non-zero"; fi
  expect_match "the error names port ${DEV_API}" "port ${DEV_API}" "${out}"
}

test_missing_staging_env_is_refused() {
  local out rc=0
  out=$(staging up 2>&1) || rc=$?
  if ((rc != 0)); then pass "staging without .env.staging exits non-zero"; else fail "staging without .env.staging exits non-zero"; fi
  expect_match "the error names .env.staging" '\.env\.staging' "${out}"
}

test_staging_stack() {
  sed -e "s/^POSTGRES_PASSWORD=.*/POSTGRES_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')/" \
    -e "s/^REDIS_PASSWORD=.*/REDIS_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')/" \
    -e "s/^API_WRITE_TOKEN=.*/API_WRITE_TOKEN=$(random_secret)/" \
    "${RM_REPO_ROOT}/.env.staging.example" >"${WORK}/.env.staging"
  chmod 600 "${WORK}/.env.staging"
  local out
  if out=$(staging up 2>&1); then pass "make up-staging: stack healthy"; else fail "make up-staging: stack healthy" "$(tail -n 15 <<<"${out}")"; return; fi
  expect_match "staging /health: both connected" '"database":"connected","redis":"connected"' "$(curl -s http://127.0.0.1:${STAGING_API}/health)"
  expect_eq "staging Adminer answers on 18081" 200 "$(http_code http://127.0.0.1:18081/)"
  local api token
  api=$(service_container "${STAGING_NAME}" api)
  test_secrets_hidden staging "${STAGING_NAME}" "${WORK}/.env.staging"
  expect_match "staging runs the production image" 'restomarket/api:' "$(/usr/bin/docker inspect -f '{{.Config.Image}}' "${api}")"
  token=$(sed -n 's/^API_WRITE_TOKEN=//p' "${WORK}/.env.staging")
  expect_eq "staging: POST without a token is 401" 401 "$(post_restaurant "${STAGING_API}")"
  expect_eq "staging: POST with the token (a secret file) is 201" 201 "$(post_restaurant "${STAGING_API}" "${token}")"
  expect_eq "staging: Swagger UI 404" 404 "$(http_code http://127.0.0.1:${STAGING_API}/swagger-ui/index.html)"
  expect_eq "staging: /v3/api-docs 404" 404 "$(http_code http://127.0.0.1:${STAGING_API}/v3/api-docs)"
  expect_eq "staging: metrics not on the public port" 404 "$(http_code http://127.0.0.1:${STAGING_API}/actuator/prometheus)"
  expect_eq "only the three secret files are mounted into the staging API" "/run/secrets/API_WRITE_TOKEN /run/secrets/DATABASE_PASSWORD /run/secrets/REDIS_PASSWORD" \
    "$(/usr/bin/docker inspect -f '{{range .Mounts}}{{.Destination}} {{end}}' "${api}" | xargs -n1 | sort | xargs)"
  check "make down-staging" staging down
}

main() {
  [[ "${1:-}" == -h || "${1:-}" == --help ]] && { usage; return 0; }
  [[ $# -eq 0 ]] || { usage >&2; die "unexpected argument '$1'" "run it without arguments"; }
  WORK=$(mktemp -d)
  trap cleanup EXIT
  test_compose_files_validate
  test_dev_stack
  test_stale_volume_without_settings_is_refused
  test_port_taken_is_refused
  test_missing_staging_env_is_refused
  test_staging_stack
  summary
}

main "$@"
