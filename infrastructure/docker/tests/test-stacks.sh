#!/usr/bin/env bash
# The local compose stacks as a user meets them: both files validate, the dev
# stack comes up healthy with Adminer answering, hot reload picks up a newly
# compiled class, the staging-like stack serves the production image with its
# secrets out of `docker inspect`, and bad input (a taken port, a missing
# .env.staging) is refused naming the problem. Prints "N passed, N failed".
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/lib/common.sh
source "${HERE}/../../scripts/lib/common.sh"
# shellcheck source=../../scripts/lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/scripts/lib/testing.sh"
export RM_LOG_TAG="test-stacks"

STACK="${RM_REPO_ROOT}/infrastructure/scripts/stack.sh"
PROBE_SRC="${RM_REPO_ROOT}/apps/api/src/main/java/com/restomarket/api/system/HotReloadProbeController.java"
BLOCKER_PID=""
WORK=""
# The test's own compose projects, settings files and volumes: a developer's
# stacks and data are never touched (only the host ports are shared).
DEV_NAME="rmstacktest-dev"
STAGING_NAME="rmstacktest-staging"

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Brings the dev and staging-like stacks up and down under their own project
names, settings files and volumes (removed afterwards); your stacks and data
are not touched, but stop them first: the host ports are the same.
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
  rm -rf "${RM_REPO_ROOT}/.run/${STAGING_NAME}-secrets"
  if [[ -n "${WORK}" ]]; then rm -rf "${WORK}"; fi
}

dev() { STACK_NAME="${DEV_NAME}" STACK_ENV_FILE="${WORK}/.env.development" "${STACK}" "$1" dev "${@:2}"; }
staging() { STACK_NAME="${STAGING_NAME}" STACK_ENV_FILE="${WORK}/.env.staging" "${STACK}" "$1" staging "${@:2}"; }

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true; }

test_compose_files_validate() {
  check "docker-compose.yml validates" dev config -q
  check "docker-compose.staging.yml validates" staging config -q
}

test_dev_stack() {
  local out
  if out=$(dev up 2>&1); then pass "make up: dev stack healthy"; else fail "make up: dev stack healthy" "$(tail -n 15 <<<"${out}")"; return; fi
  expect_match "URLs printed" 'http://localhost:3001' "${out}"
  local health
  health=$(curl -s http://127.0.0.1:3001/health)
  expect_match "dev /health: database and redis connected" '"database":"connected","redis":"connected"' "${health}"
  expect_eq "Adminer answers on 8080" 200 "$(http_code http://127.0.0.1:8080/)"
  expect_match ".env.development has generated passwords" '^POSTGRES_PASSWORD=[A-Za-z0-9]{20,}$' "$(grep '^POSTGRES_PASSWORD=' "${WORK}/.env.development")"
  expect_eq ".env.development is private (0600)" 600 "$(stat -c %a "${WORK}/.env.development")"
  test_hot_reload
  check "make up is idempotent (second run)" dev up
  expect_match "dev data lives in the stack's named volume" "${DEV_NAME}_postgres_data" \
    "$(/usr/bin/docker volume ls --format '{{.Name}}')"
}

test_stale_volume_without_settings_is_refused() {
  local out rc=0
  out=$(STACK_NAME="${DEV_NAME}" STACK_ENV_FILE="${WORK}/lost/.env.development" "${STACK}" up dev 2>&1) || rc=$?
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
    code=$(http_code http://127.0.0.1:3001/hot-reload-probe)
    [[ "${code}" == 200 ]] && break
    sleep 1
  done
  expect_eq "hot reload serves a newly compiled controller (${i}s)" 200 "${code}"
  rm -f "${PROBE_SRC}"
  (cd "${RM_REPO_ROOT}" && ./mvnw -B -ntp -q -pl apps/api compile -Dspotless.check.skip=true >/dev/null 2>&1) || true
}

test_port_taken_is_refused() {
  dev down >/dev/null 2>&1
  python3 -m http.server 3001 --bind 127.0.0.1 >/dev/null 2>&1 &
  BLOCKER_PID=$!
  wait_until 10 "port 3001 blocker" bash -c 'ss -Hltn "sport = :3001" | grep -q .'
  local out rc=0
  out=$(dev up 2>&1) || rc=$?
  kill "${BLOCKER_PID}" 2>/dev/null || true
  wait "${BLOCKER_PID}" 2>/dev/null || true
  BLOCKER_PID=""
  if ((rc != 0)); then pass "make up with 3001 taken exits non-zero"; else fail "make up with 3001 taken exits non-zero"; fi
  expect_match "the error names port 3001" 'port 3001' "${out}"
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
    "${RM_REPO_ROOT}/.env.staging.example" >"${WORK}/.env.staging"
  chmod 600 "${WORK}/.env.staging"
  local out
  if out=$(staging up 2>&1); then pass "make up-staging: stack healthy"; else fail "make up-staging: stack healthy" "$(tail -n 15 <<<"${out}")"; return; fi
  expect_match "staging /health on 3002: both connected" '"database":"connected","redis":"connected"' "$(curl -s http://127.0.0.1:3002/health)"
  expect_eq "staging Adminer answers on 8081" 200 "$(http_code http://127.0.0.1:8081/)"
  local api inspect pw
  api=$(/usr/bin/docker ps -q --filter "label=com.docker.compose.project=${STAGING_NAME}" --filter label=com.docker.compose.service=api)
  inspect=$(/usr/bin/docker inspect "${api}")
  pw=$(sed -n 's/^POSTGRES_PASSWORD=//p' "${WORK}/.env.staging")
  if grep -qF -- "${pw}" <<<"${inspect}"; then fail "API secrets absent from docker inspect"; else pass "API secrets absent from docker inspect"; fi
  expect_match "staging runs the production image" 'restomarket/api:' "$(/usr/bin/docker inspect -f '{{.Config.Image}}' "${api}")"
  expect_eq "only the two secret files are mounted into the staging API" "/run/secrets/DATABASE_PASSWORD /run/secrets/REDIS_PASSWORD" \
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
