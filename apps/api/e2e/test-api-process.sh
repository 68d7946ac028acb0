#!/usr/bin/env bash
# End-to-end checks of the packaged API as a real process against the real
# local PostgreSQL and Redis: changes need the write token and bodies have a
# size limit, metrics answer on the management port only, /health follows a
# real server stop and start within 2 s, SIGTERM lets an in-flight request
# finish before exit 0, and REDIS_SSL talks TLS to a real TLS-only Redis and
# verifies its certificate.
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../../infrastructure/scripts/lib/common.sh
source "${HERE}/../../../infrastructure/scripts/lib/common.sh"
# shellcheck source=../../../infrastructure/scripts/lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/scripts/lib/testing.sh"
export RM_LOG_TAG=api-e2e

SERVICES="${RM_REPO_ROOT}/infrastructure/scripts/local-services.sh"
JAR="${RM_REPO_ROOT}/apps/api/target/restomarket-api.jar"
JAVA="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
PORT="${E2E_PORT:-38080}"
MANAGEMENT_PORT="${E2E_MANAGEMENT_PORT:-38081}"
ENV_FILE="${RM_REPO_ROOT}/.run/local-services.env"
API_PID=""
TLS_REDIS_PID=""

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Starts ${JAR#"${RM_REPO_ROOT}/"} on 127.0.0.1:${PORT} (E2E_PORT), management on
${MANAGEMENT_PORT} (E2E_MANAGEMENT_PORT), against the local services, stops and
restarts the real PostgreSQL and Redis, and sends SIGTERM.
Build the jar first (make build). Prints "N passed, N failed".
USAGE
}

cleanup() {
  if [[ -n "${API_PID}" ]]; then kill "${API_PID}" 2>/dev/null || true; fi
  if [[ -n "${TLS_REDIS_PID}" ]]; then kill "${TLS_REDIS_PID}" 2>/dev/null || true; fi
  if [[ -f "${RM_REPO_ROOT}/.run/redis/redis.pid" ]]; then
    kill -CONT "$(cat "${RM_REPO_ROOT}/.run/redis/redis.pid")" 2>/dev/null || true
  fi
  "${SERVICES}" start >/dev/null 2>&1 || true
}

start_api() {
  local log="$1"
  shift
  # shellcheck source=/dev/null
  (set -a && source "${ENV_FILE}" && set +a &&
    exec env DATABASE_URL="${DATABASE_URL}_test" PORT="${PORT}" MANAGEMENT_PORT="${MANAGEMENT_PORT}" LOG_FORMAT= \
      "$@" "${JAVA}" -jar "${JAR}") >"${log}" 2>&1 &
  API_PID=$!
  wait_until 60 "API on ${PORT}" curl -fsS "http://127.0.0.1:${PORT}/health" || {
    tail -n 30 "${log}" >&2
    return 1
  }
}

# post_restaurant CURL_ARGS... - POST a restaurant; prints the status code.
post_restaurant() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
    "$@" "http://127.0.0.1:${PORT}/api/v1/restaurants" || true
}

test_writes_need_the_token() {
  local body='{"name":"E2E","cuisine":"Thai","city":"Bern"}' big="${WORK}/big.json"
  # The token goes to curl in a header file, so it never shows in `ps`.
  (umask 077 && printf 'Authorization: Bearer %s\n' "$(sed -n 's/^API_WRITE_TOKEN=//p' "${ENV_FILE}")" >"${WORK}/auth")
  printf 'Authorization: Bearer not-the-write-token\n' >"${WORK}/wrong-auth"
  expect_eq "POST without a token: 401" 401 "$(post_restaurant --data-binary "${body}")"
  expect_eq "POST with a wrong token: 401" 401 "$(post_restaurant -H @"${WORK}/wrong-auth" --data-binary "${body}")"
  expect_eq "POST with the write token: 201" 201 "$(post_restaurant -H @"${WORK}/auth" --data-binary "${body}")"
  { printf '{"name":"Big","cuisine":"Thai","city":"Bern"'; head -c 20000 /dev/zero | tr '\0' ' '; printf '}'; } >"${big}"
  expect_eq "a 20 KB body with Content-Length: 413" 413 \
    "$(post_restaurant -H @"${WORK}/auth" --data-binary @"${big}")"
  expect_eq "a 20 KB chunked body: 413" 413 \
    "$(post_restaurant -H @"${WORK}/auth" -H 'Transfer-Encoding: chunked' --data-binary @"${big}")"
}

test_metrics_on_the_management_port() {
  local scrape
  scrape=$(curl -s --max-time 5 "http://127.0.0.1:${MANAGEMENT_PORT}/actuator/prometheus" || true)
  expect_match "/actuator/prometheus on MANAGEMENT_PORT has request metrics" \
    'http_server_requests_seconds_count\{[^}]*uri="/api/v1/restaurants"' "${scrape}"
  expect_match "... and the connection pool's" 'hikaricp_connections\{' "${scrape}"
  expect_eq "/actuator/prometheus on PORT: 404" 404 \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:${PORT}/actuator/prometheus" || true)"
}

# status_within SECONDS EXPECTED_CODE - polls /health; prints ms until it answered EXPECTED_CODE.
status_within() {
  local seconds="$1" expected="$2" start now code
  start=$(date +%s%N)
  while true; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:${PORT}/health" || true)
    now=$(date +%s%N)
    if [[ "${code}" == "${expected}" ]]; then
      echo $(((now - start) / 1000000))
      return 0
    fi
    (((now - start) / 1000000000 >= seconds)) && { echo "timeout(last=${code})"; return 1; }
    sleep 0.1
  done
}

# services ACTION SERVICE - stop/start a local service; on failure show why and stop the suite.
services() {
  local out
  out=$("${SERVICES}" "$@" 2>&1) || { printf '%s\n' "${out}" >&2; die "local-services.sh $* failed"; }
}

# test_health_follows_real SERVICE JSON_KEY - stop the real server, expect 503 naming it, restart, expect 200.
test_health_follows_real() {
  local service="$1" key="$2" ms
  services stop "${service}"
  if ms=$(status_within 2 503); then pass "503 within 2 s of stopping ${service} (${ms} ms)"; else fail "503 within 2 s of stopping ${service}" "${ms}"; fi
  expect_match "/health names ${key} disconnected" "\"${key}\":\"disconnected\"" "$(curl -s "http://127.0.0.1:${PORT}/health")"
  services start "${service}"
  if ms=$(status_within 15 200); then pass "200 again after ${service} returned (${ms} ms)"; else fail "200 again after ${service} returned" "${ms}"; fi
}

test_sigterm_is_graceful() {
  # A request that is slow on the server side: with Redis frozen (SIGSTOP) the
  # health check waits for its full timeout, so it is in flight when SIGTERM arrives.
  local out code rc=0 start redis_pid
  redis_pid=$(cat "${RM_REPO_ROOT}/.run/redis/redis.pid")
  kill -STOP "${redis_pid}"
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:${PORT}/health" >"${WORK}/inflight" &
  local curl_pid=$!
  sleep 0.2
  start=$(date +%s)
  kill -TERM "${API_PID}"
  wait "${API_PID}" || rc=$?
  API_PID=""
  wait "${curl_pid}" || true
  code=$(cat "${WORK}/inflight")
  expect_eq "in-flight request answered during shutdown" 503 "${code}"
  kill -CONT "${redis_pid}"
  # The JVM reports a SIGTERM exit as 143 (128 + 15) after its shutdown hooks ran.
  if ((rc == 0 || rc == 143)); then pass "clean exit after SIGTERM (${rc})"; else fail "clean exit after SIGTERM" "exit ${rc}"; fi
  expect_match "graceful shutdown was logged" 'Graceful shutdown complete' "$(cat "${WORK}/api.log")"
  out=$(($(date +%s) - start))
  if ((out <= 25)); then pass "stopped within the grace period (${out}s)"; else fail "stopped within the grace period" "${out}s"; fi
}

test_missing_setting_fails_fast() {
  local out rc=0
  out=$(env -u DATABASE_URL -u DATABASE_PASSWORD DATABASE_USERNAME=x REDIS_HOST=127.0.0.1 PORT=0 MANAGEMENT_PORT=0 LOG_FORMAT= \
    timeout 60 "${JAVA}" -jar "${JAR}" 2>&1) || rc=$?
  if ((rc != 0)); then pass "start-up without DATABASE_URL exits non-zero"; else fail "start-up without DATABASE_URL exits non-zero"; fi
  expect_match "the error names DATABASE_URL" 'set DATABASE_URL' "${out}"
}

# start_tls_redis - a TLS-only redis-server (the local one's binary and password)
# with a certificate for 127.0.0.1 from a throwaway CA; TLS_PORT, TLS_DIR.
start_tls_redis() {
  TLS_DIR="${WORK}/tls"
  mkdir -p "${TLS_DIR}"
  TLS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  (
    cd "${TLS_DIR}"
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=restomarket-e2e-ca -keyout ca.key -out ca.crt
    openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout redis.key -out redis.csr
    printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
    openssl x509 -req -in redis.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext -out redis.crt
    "${JAVA%/java}/keytool" -importcert -noprompt -alias e2e-ca -file ca.crt -keystore trust.p12 \
      -storetype PKCS12 -storepass e2e-trust
  ) >"${WORK}/tls.log" 2>&1 || { cat "${WORK}/tls.log" >&2; return 1; }
  # shellcheck source=/dev/null
  (set -a && source "${ENV_FILE}" &&
    exec redis-server --port 0 --tls-port "${TLS_PORT}" --bind 127.0.0.1 --save '' --appendonly no \
      --tls-cert-file "${TLS_DIR}/redis.crt" --tls-key-file "${TLS_DIR}/redis.key" \
      --tls-ca-cert-file "${TLS_DIR}/ca.crt" --tls-auth-clients no --requirepass "${REDIS_PASSWORD}") \
    >"${WORK}/tls-redis.log" 2>&1 &
  TLS_REDIS_PID=$!
  wait_until 10 "TLS Redis on ${TLS_PORT}" bash -c "exec 3<>/dev/tcp/127.0.0.1/${TLS_PORT}"
}

# redis_status_with ENV... - start the API with ENV on the TLS Redis, print the
# redis field of its first /health answer, stop it.
redis_status_with() {
  local port=$((PORT + 1)) body="" pid
  # shellcheck source=/dev/null
  (set -a && source "${ENV_FILE}" && set +a &&
    exec env DATABASE_URL="${DATABASE_URL}_test" PORT="${port}" MANAGEMENT_PORT=0 LOG_FORMAT= REDIS_PORT="${TLS_PORT}" "$@" \
      "${JAVA}" -jar "${JAR}") >"${WORK}/api-tls.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do
    body=$(curl -s --max-time 3 "http://127.0.0.1:${port}/health" || true)
    [[ -n "${body}" ]] && break
    sleep 0.5
  done
  # A first TLS handshake can outlast one health check: ask until Redis is up or 5 s passed.
  for _ in $(seq 1 10); do
    [[ "${body}" == *'"redis":"connected"'* ]] && break
    sleep 0.5
    body=$(curl -s --max-time 3 "http://127.0.0.1:${port}/health" || true)
  done
  kill "${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
  sed -n 's/.*"redis":"\([a-z]*\)".*/\1/p' <<<"${body}"
}

test_redis_tls() {
  start_tls_redis || { fail "a TLS-only Redis starts"; return 0; }
  expect_eq "REDIS_SSL=true, CA trusted: Redis connected over TLS" connected \
    "$(redis_status_with REDIS_SSL=true JAVA_TOOL_OPTIONS="-Djavax.net.ssl.trustStore=${TLS_DIR}/trust.p12 -Djavax.net.ssl.trustStorePassword=e2e-trust")"
  expect_eq "REDIS_SSL=true, CA not trusted: refused (the certificate is verified)" disconnected \
    "$(redis_status_with REDIS_SSL=true)"
  expect_eq "REDIS_SSL=false against the TLS-only port: disconnected" disconnected \
    "$(redis_status_with REDIS_SSL=false)"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unexpected argument '$1'" "run it without arguments" ;;
  esac
  [[ -f "${JAR}" ]] || die "no jar at ${JAR}" "build it first: make build"
  WORK=$(mktemp -d)
  trap 'cleanup; rm -rf "${WORK}"' EXIT
  services start
  start_api "${WORK}/api.log"
  test_writes_need_the_token
  test_metrics_on_the_management_port
  test_health_follows_real postgres database
  test_health_follows_real redis redis
  test_sigterm_is_graceful
  test_missing_setting_fails_fast
  test_redis_tls
  summary
}

main "$@"
