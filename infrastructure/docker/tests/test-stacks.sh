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
RM_LOG_TAG="test-stacks"

STACK="${RM_REPO_ROOT}/infrastructure/scripts/stack.sh"
PROBE_SRC="${RM_REPO_ROOT}/apps/api/src/main/java/com/restomarket/api/system/HotReloadProbeController.java"
STAGING_ENV="${RM_REPO_ROOT}/.env.staging"
CREATED_STAGING_ENV=""
SAVED_STAGING_ENV=""
BLOCKER_PID=""

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Brings the dev and staging-like stacks up and down (containers, not data
volumes, are removed). Stop your own stacks first if they use the same ports.
USAGE
}

cleanup() {
  [[ -n "${BLOCKER_PID}" ]] && kill "${BLOCKER_PID}" 2>/dev/null || true
  if [[ -f "${PROBE_SRC}" ]]; then
    rm -f "${PROBE_SRC}"
    (cd "${RM_REPO_ROOT}" && ./mvnw -B -ntp -q -pl apps/api compile -Dspotless.check.skip=true >/dev/null 2>&1) || true
  fi
  "${STACK}" down dev >/dev/null 2>&1 || true
  "${STACK}" down staging >/dev/null 2>&1 || true
  [[ -n "${SAVED_STAGING_ENV}" ]] && mv "${SAVED_STAGING_ENV}" "${STAGING_ENV}"
  [[ -n "${CREATED_STAGING_ENV}" ]] && rm -f "${STAGING_ENV}"
  return 0
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true; }

test_compose_files_validate() {
  check "docker-compose.yml validates" "${STACK}" config dev -q
  check "docker-compose.staging.yml validates" "${STACK}" config staging -q
}

test_dev_stack() {
  local out
  if out=$("${STACK}" up dev 2>&1); then pass "make up: dev stack healthy"; else fail "make up: dev stack healthy" "$(tail -n 15 <<<"${out}")"; return; fi
  expect_match "URLs printed" 'http://localhost:3001' "${out}"
  local health
  health=$(curl -s http://127.0.0.1:3001/health)
  expect_match "dev /health: database and redis connected" '"database":"connected","redis":"connected"' "${health}"
  expect_eq "Adminer answers on 8080" 200 "$(http_code http://127.0.0.1:8080/)"
  expect_match ".env.development has generated passwords" '^POSTGRES_PASSWORD=[A-Za-z0-9]{20,}$' "$(grep '^POSTGRES_PASSWORD=' "${RM_REPO_ROOT}/.env.development")"
  expect_eq ".env.development is private (0600)" 600 "$(stat -c %a "${RM_REPO_ROOT}/.env.development")"
  test_hot_reload
  check "make up is idempotent (second run)" "${STACK}" up dev
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
  (cd "${RM_REPO_ROOT}" && ./mvnw -B -ntp -q -pl apps/api compile -Dspotless.check.skip=true >/dev/null 2>&1)
  local i code=""
  for i in $(seq 1 60); do
    code=$(http_code http://127.0.0.1:3001/hot-reload-probe)
    [[ "${code}" == 200 ]] && break
    sleep 1
  done
  expect_eq "hot reload serves a newly compiled controller (${i}s)" 200 "${code}"
  rm -f "${PROBE_SRC}"
  (cd "${RM_REPO_ROOT}" && ./mvnw -B -ntp -q -pl apps/api compile -Dspotless.check.skip=true >/dev/null 2>&1)
}

test_port_taken_is_refused() {
  "${STACK}" down dev >/dev/null 2>&1
  python3 -m http.server 3001 --bind 127.0.0.1 >/dev/null 2>&1 &
  BLOCKER_PID=$!
  wait_until 10 "port 3001 blocker" bash -c 'ss -Hltn "sport = :3001" | grep -q .'
  local out rc=0
  out=$("${STACK}" up dev 2>&1) || rc=$?
  kill "${BLOCKER_PID}" 2>/dev/null || true
  wait "${BLOCKER_PID}" 2>/dev/null || true
  BLOCKER_PID=""
  if ((rc != 0)); then pass "make up with 3001 taken exits non-zero"; else fail "make up with 3001 taken exits non-zero"; fi
  expect_match "the error names port 3001" 'port 3001' "${out}"
}

test_missing_staging_env_is_refused() {
  if [[ -f "${STAGING_ENV}" ]]; then
    SAVED_STAGING_ENV="${STAGING_ENV}.saved-by-test.$$"
    mv "${STAGING_ENV}" "${SAVED_STAGING_ENV}"
  fi
  local out rc=0
  out=$("${STACK}" up staging 2>&1) || rc=$?
  if ((rc != 0)); then pass "staging without .env.staging exits non-zero"; else fail "staging without .env.staging exits non-zero"; fi
  expect_match "the error names .env.staging" '\.env\.staging' "${out}"
  if [[ -n "${SAVED_STAGING_ENV}" ]]; then
    mv "${SAVED_STAGING_ENV}" "${STAGING_ENV}"
    SAVED_STAGING_ENV=""
  fi
}

test_staging_stack() {
  if [[ ! -f "${STAGING_ENV}" ]]; then
    sed -e "s/^POSTGRES_PASSWORD=.*/POSTGRES_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')/" \
      -e "s/^REDIS_PASSWORD=.*/REDIS_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')/" \
      "${RM_REPO_ROOT}/.env.staging.example" >"${STAGING_ENV}"
    chmod 600 "${STAGING_ENV}"
    CREATED_STAGING_ENV=1
  fi
  local out
  if out=$("${STACK}" up staging 2>&1); then pass "make up-staging: stack healthy"; else fail "make up-staging: stack healthy" "$(tail -n 15 <<<"${out}")"; return; fi
  expect_match "staging /health on 3002: both connected" '"database":"connected","redis":"connected"' "$(curl -s http://127.0.0.1:3002/health)"
  expect_eq "staging Adminer answers on 8081" 200 "$(http_code http://127.0.0.1:8081/)"
  local api inspect pw
  api=$(/usr/bin/docker ps -q --filter label=com.docker.compose.project=restomarket-staging --filter label=com.docker.compose.service=api)
  inspect=$(/usr/bin/docker inspect "${api}")
  pw=$(sed -n 's/^POSTGRES_PASSWORD=//p' "${STAGING_ENV}")
  if grep -qF -- "${pw}" <<<"${inspect}"; then fail "API secrets absent from docker inspect"; else pass "API secrets absent from docker inspect"; fi
  expect_match "staging runs the production image" 'restomarket/api:' "$(/usr/bin/docker inspect -f '{{.Config.Image}}' "${api}")"
  expect_eq "no source mounted into the staging API" 0 "$(/usr/bin/docker inspect -f '{{len .Mounts}}' "${api}" | awk '{print ($1 > 2)}')"
  check "make down-staging" "${STACK}" down staging
}

main() {
  [[ "${1:-}" == -h || "${1:-}" == --help ]] && { usage; return 0; }
  [[ $# -eq 0 ]] || { usage >&2; die "unexpected argument '$1'" "run it without arguments"; }
  trap cleanup EXIT
  test_compose_files_validate
  test_dev_stack
  test_port_taken_is_refused
  test_missing_staging_env_is_refused
  test_staging_stack
  summary
}

main "$@"
