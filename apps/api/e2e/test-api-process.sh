#!/usr/bin/env bash
# End-to-end checks of the packaged API as a real process, run as the image
# runs it (its JVM options, Spring's AOT-generated bean definitions), against
# the real local PostgreSQL and Redis: changes need the write token and bodies have a
# size limit, responses carry nosniff, a cache policy and HSTS only when
# forwarded from HTTPS, /health shows its diagnostics to the write token only,
# metrics answer on the management port only, /health follows a
# real server stop and start within 2 s, SIGTERM lets an in-flight request
# finish before exit 0, REDIS_SSL talks TLS to a real TLS-only Redis and
# verifies its certificate (the JVM's CAs, or only REDIS_CA_CERT), and a
# DATABASE_URL with sslmode=verify-full and
# sslrootcert=<secrets dir>/DATABASE_CA_CERT (the droplets' managed PostgreSQL)
# talks TLS to a real TLS-only PostgreSQL 15, verifying its CA and host name.
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../../infrastructure/tools/lib/common.sh
source "${HERE}/../../../infrastructure/tools/lib/common.sh"
# shellcheck source=../../../infrastructure/tools/lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/testing.sh"
export RM_LOG_TAG=api-e2e

SERVICES="${RM_REPO_ROOT}/infrastructure/tools/local-services.sh"
JAR="${RM_REPO_ROOT}/apps/api/target/restomarket-api.jar"
JVM_OPTIONS="${RM_REPO_ROOT}/apps/api/jvm.options"
AOT_INITIALIZER=com/restomarket/api/RestomarketApiApplication__ApplicationContextInitializer.class
JAVA="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
PORT="${E2E_PORT:-38080}"
MANAGEMENT_PORT="${E2E_MANAGEMENT_PORT:-38081}"
ENV_FILE="${RM_REPO_ROOT}/.run/local-services.env"
API_PID=""
TLS_REDIS_PID=""
PG_BIN=/usr/lib/postgresql/15/bin
TLS_PG_DATA=""

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Starts ${JAR#"${RM_REPO_ROOT}/"} on 127.0.0.1:${PORT} (E2E_PORT), management on
${MANAGEMENT_PORT} (E2E_MANAGEMENT_PORT), against the local services, stops and
restarts the real PostgreSQL and Redis, and sends SIGTERM; then starts it against
a throwaway TLS-only Redis and a throwaway TLS-only PostgreSQL 15 (own data
directory, free port) to check that their certificates are verified.
Runs it with apps/api/jvm.options, as the image does. Build the jar first
(make build: the image's jar, with Spring's AOT processing). Prints "N passed, N failed".
USAGE
}

cleanup() {
  if [[ -n "${API_PID}" ]]; then kill "${API_PID}" 2>/dev/null || true; fi
  if [[ -n "${TLS_REDIS_PID}" ]]; then kill "${TLS_REDIS_PID}" 2>/dev/null || true; fi
  if [[ -n "${TLS_PG_DATA}" ]]; then as_postgres "${PG_BIN}/pg_ctl" -D "${TLS_PG_DATA}" -m fast -w stop >/dev/null 2>&1 || true; fi
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
      "$@" "${JAVA}" "@${JVM_OPTIONS}" -jar "${JAR}") >"${log}" 2>&1 &
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

# write_auth_files - WORK/auth holds the header with the write token, WORK/wrong-auth one with
# another token. The token goes to curl in a header file, so it never shows in `ps`.
write_auth_files() {
  (umask 077 && printf 'Authorization: Bearer %s\n' "$(sed -n 's/^API_WRITE_TOKEN=//p' "${ENV_FILE}")" >"${WORK}/auth")
  printf 'Authorization: Bearer not-the-write-token\n' >"${WORK}/wrong-auth"
}

test_writes_need_the_token() {
  local body='{"name":"E2E","cuisine":"Thai","city":"Bern"}' big="${WORK}/big.json"
  expect_eq "POST without a token: 401" 401 "$(post_restaurant --data-binary "${body}")"
  expect_eq "POST with a wrong token: 401" 401 "$(post_restaurant -H @"${WORK}/wrong-auth" --data-binary "${body}")"
  expect_eq "POST with the write token: 201" 201 "$(post_restaurant -H @"${WORK}/auth" --data-binary "${body}")"
  { printf '{"name":"Big","cuisine":"Thai","city":"Bern"'; head -c 20000 /dev/zero | tr '\0' ' '; printf '}'; } >"${big}"
  expect_eq "a 20 KB body with Content-Length: 413" 413 \
    "$(post_restaurant -H @"${WORK}/auth" --data-binary @"${big}")"
  expect_eq "a 20 KB chunked body: 413" 413 \
    "$(post_restaurant -H @"${WORK}/auth" -H 'Transfer-Encoding: chunked' --data-binary @"${big}")"
}

# header NAME CURL_ARGS... - the value of the response header NAME, empty when it is absent.
header() {
  local name="$1"
  shift
  curl -s -D - -o /dev/null --max-time 5 "$@" | tr -d '\r' | sed -n "s/^${name}: //Ip" || true
}

test_response_headers() {
  local base="http://127.0.0.1:${PORT}"
  expect_eq "a 404 carries X-Content-Type-Options: nosniff" nosniff "$(header X-Content-Type-Options "${base}/no/such/path")"
  expect_eq "... and Cache-Control: no-store" no-store "$(header Cache-Control "${base}/no/such/path")"
  expect_eq "/health: Cache-Control: no-store" no-store "$(header Cache-Control "${base}/health")"
  expect_eq "the restaurant list: Cache-Control: no-cache" no-cache "$(header Cache-Control "${base}/api/v1/restaurants")"
  expect_eq "HSTS when the load balancer forwarded HTTPS" 'max-age=31536000; includeSubDomains' \
    "$(header Strict-Transport-Security -H 'X-Forwarded-Proto: https' "${base}/health")"
  expect_eq "no HSTS over plain HTTP" "" "$(header Strict-Transport-Security "${base}/health")"
}

test_health_diagnostics_need_the_token() {
  local url="http://127.0.0.1:${PORT}/health" anonymous wrong operator
  anonymous=$(curl -s --max-time 5 "${url}" || true)
  wrong=$(curl -s --max-time 5 -H @"${WORK}/wrong-auth" "${url}" || true)
  operator=$(curl -s --max-time 5 -H @"${WORK}/auth" "${url}" || true)
  expect_match "/health without a token: status and services" '"status":"healthy".*"services":\{' "${anonymous}"
  expect_eq "... but no memory or checks" "" "$(grep -oE '"(memory|checks)"' <<<"${anonymous}" || true)"
  expect_eq "/health with a wrong token: no memory or checks" "" "$(grep -oE '"(memory|checks)"' <<<"${wrong}" || true)"
  expect_match "/health with the write token: JVM memory and the checks" '"checks":\{.*"memory":\{"heapUsedMb":[0-9]+' "${operator}"
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
    timeout 60 "${JAVA}" "@${JVM_OPTIONS}" -jar "${JAR}" 2>&1) || rc=$?
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
    # REDIS_CA_CERT as a secret file (SECRETS_DIR), and a CA that issued nothing here.
    mkdir -p secrets
    cp ca.crt secrets/REDIS_CA_CERT
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=restomarket-e2e-other-ca -keyout other-ca.key -out other-ca.crt
  ) >"${WORK}/tls.log" 2>&1 || { cat "${WORK}/tls.log" >&2; return 1; }
  # requirepass on stdin (the "-" last), so the password is in no process's arguments.
  # shellcheck source=/dev/null
  (set -a && source "${ENV_FILE}" &&
    exec redis-server --port 0 --tls-port "${TLS_PORT}" --bind 127.0.0.1 --save '' --appendonly no \
      --tls-cert-file "${TLS_DIR}/redis.crt" --tls-key-file "${TLS_DIR}/redis.key" \
      --tls-ca-cert-file "${TLS_DIR}/ca.crt" --tls-auth-clients no - <<<"requirepass ${REDIS_PASSWORD}") \
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
      "${JAVA}" "@${JVM_OPTIONS}" -jar "${JAR}") >"${WORK}/api-tls.log" 2>&1 &
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
  expect_eq "REDIS_SSL=true, the CA as the secret file REDIS_CA_CERT: Redis connected over TLS" connected \
    "$(redis_status_with REDIS_SSL=true SECRETS_DIR="${TLS_DIR}/secrets")"
  expect_eq "REDIS_SSL=true, REDIS_CA_CERT of another CA: refused (only that CA is trusted)" disconnected \
    "$(redis_status_with REDIS_SSL=true REDIS_CA_CERT="$(cat "${TLS_DIR}/other-ca.crt")")"
  expect_eq "REDIS_SSL=false against the TLS-only port: disconnected" disconnected \
    "$(redis_status_with REDIS_SSL=false)"
}

# as_postgres COMMAND... - PostgreSQL refuses to run as root; as root, run COMMAND as its user.
as_postgres() {
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

# make_pg_certs DIR - in DIR: a throwaway CA (ca.crt), a server certificate from it
# that names only IP 127.0.0.1 (server.crt, server.key) and a second, unrelated CA
# (other-ca.crt). The CN is not a host name, so a match can only come from the IP
# SAN (pgjdbc compares the CN only when no SAN is of the host's kind).
make_pg_certs() {
  (
    cd "$1"
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=restomarket-e2e-pg-ca -keyout ca.key -out ca.crt
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=restomarket-e2e-other-ca \
      -keyout other-ca.key -out other-ca.crt
    openssl req -newkey rsa:2048 -nodes -subj /CN=restomarket-e2e-postgres -keyout server.key -out server.csr
    printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext -out server.crt
  )
}

# init_tls_postgres DATA CERTS - a new cluster in DATA (user restomarket with the local
# services' password, scram-sha-256) that listens on 127.0.0.1:TLS_PG_PORT only, with
# its socket in DATA, ssl=on with CERTS/server.{crt,key}, and a pg_hba.conf that
# allows hostssl only.
init_tls_postgres() {
  local data="$1" certs="$2" pwfile="${WORK}/pg-pwfile"
  mkdir -p "${data}"
  chmod 700 "${data}"
  (umask 077 && sed -n 's/^DATABASE_PASSWORD=//p' "${ENV_FILE}" >"${pwfile}")
  if ((EUID == 0)); then
    # The postgres user must get through WORK (mktemp's 0700) to its data directory.
    chmod 711 "${WORK}"
    chown postgres: "${data}" "${pwfile}"
  fi
  as_postgres "${PG_BIN}/initdb" -D "${data}" -U restomarket --pwfile="${pwfile}" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --no-sync || return 1
  rm -f "${pwfile}"
  cp "${certs}/server.crt" "${certs}/server.key" "${data}/"
  chmod 600 "${data}/server.key"
  if ((EUID == 0)); then chown postgres: "${data}/server.crt" "${data}/server.key"; fi
  printf '# TLS only: plain TCP and the unix socket have no entry.\nhostssl all all 127.0.0.1/32 scram-sha-256\n' \
    >"${data}/pg_hba.conf"
  cat >>"${data}/postgresql.conf" <<CONF
port = ${TLS_PG_PORT}
listen_addresses = '127.0.0.1'
unix_socket_directories = '${data}'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
fsync = off
lc_messages = 'C'
CONF
}

# start_tls_postgres - a throwaway TLS-only PostgreSQL 15 with database restomarket on
# 127.0.0.1:TLS_PG_PORT (stopped by cleanup), and PG_SECRETS: a secrets directory as
# on a droplet, whose DATABASE_CA_CERT holds the CA PEM; PG_CERTS/other-ca.crt is a CA
# that signed nothing here.
start_tls_postgres() {
  local data="${WORK}/pg-tls-data"
  PG_CERTS="${WORK}/pg-tls"
  PG_SECRETS="${WORK}/pg-secrets"
  mkdir -p "${PG_CERTS}" "${PG_SECRETS}"
  TLS_PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  {
    make_pg_certs "${PG_CERTS}" && init_tls_postgres "${data}" "${PG_CERTS}" &&
      as_postgres "${PG_BIN}/pg_ctl" -D "${data}" -l "${data}/server.log" -w -t 30 start
  } >"${WORK}/pg-tls.log" 2>&1 || {
    cat "${WORK}/pg-tls.log" "${data}/server.log" >&2 2>/dev/null
    return 1
  }
  TLS_PG_DATA="${data}"
  cp "${PG_CERTS}/ca.crt" "${PG_SECRETS}/DATABASE_CA_CERT"
  # psql (libpq) creates the database over verify-full: the server is usable as the API will use it.
  PGPASSWORD="$(sed -n 's/^DATABASE_PASSWORD=//p' "${ENV_FILE}")" "${PG_BIN}/psql" -tAq -c 'CREATE DATABASE restomarket' \
    "host=127.0.0.1 port=${TLS_PG_PORT} dbname=postgres user=restomarket sslmode=verify-full sslrootcert=${PG_CERTS}/ca.crt" \
    >>"${WORK}/pg-tls.log" 2>&1 || { cat "${WORK}/pg-tls.log" >&2; return 1; }
}

# database_status_with URL - start the API with DATABASE_URL=URL and SECRETS_DIR=PG_SECRETS;
# print the database field of its first /health answer, or "exit N" when it stopped
# before answering; stop it. Its log is ${WORK}/api-pg.log.
database_status_with() {
  local port=$((PORT + 1)) body="" pid rc=0
  # `timeout` bounds the API even if this suite dies before stopping it.
  # shellcheck source=/dev/null
  (set -a && source "${ENV_FILE}" && set +a &&
    exec env DATABASE_URL="$1" SECRETS_DIR="${PG_SECRETS}" PORT="${port}" MANAGEMENT_PORT=0 LOG_FORMAT= \
      timeout 120 "${JAVA}" "@${JVM_OPTIONS}" -jar "${JAR}") >"${WORK}/api-pg.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do
    body=$(curl -s --max-time 3 "http://127.0.0.1:${port}/health" || true)
    [[ -n "${body}" ]] && break
    if ! kill -0 "${pid}" 2>/dev/null; then
      wait "${pid}" || rc=$?
      echo "exit ${rc}"
      return 0
    fi
    sleep 0.5
  done
  # Flyway connected before /health could answer; still, allow the pool 5 s.
  for _ in $(seq 1 10); do
    [[ -z "${body}" || "${body}" == *'"database":"connected"'* ]] && break
    sleep 0.5
    body=$(curl -s --max-time 3 "http://127.0.0.1:${port}/health" || true)
  done
  kill "${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
  if [[ -z "${body}" ]]; then echo "no answer"; else sed -n 's/.*"database":"\([a-z]*\)".*/\1/p' <<<"${body}"; fi
}

# expect_refused NAME STATUS LOG_REGEX - the API did not get the database: it exited
# non-zero at start (Flyway could not connect) or reports it disconnected; and its log
# names the reason, LOG_REGEX.
expect_refused() {
  expect_match "$1 (${2})" '^(exit [1-9][0-9]*|disconnected)$' "$2"
  expect_match "... the log says why" "$3" "$(cat "${WORK}/api-pg.log")"
}

# test_database_tls - the API's DATABASE_URL as on the droplets (verify-full, the CA
# file in the secrets dir) connects to a TLS-only PostgreSQL; another CA, another
# host name or no TLS at all are refused.
test_database_tls() {
  start_tls_postgres || { fail "a TLS-only PostgreSQL starts"; return 0; }
  local base="jdbc:postgresql://127.0.0.1:${TLS_PG_PORT}/restomarket" status
  local ca="sslrootcert=${PG_SECRETS}/DATABASE_CA_CERT"
  expect_eq "sslmode=verify-full, CA in the secrets dir: database connected over TLS" connected \
    "$(database_status_with "${base}?sslmode=verify-full&${ca}")"
  status=$(database_status_with "${base}?sslmode=verify-full&sslrootcert=${PG_CERTS}/other-ca.crt")
  expect_refused "sslmode=verify-full, another CA: refused (the certificate is verified)" "${status}" \
    'PSQLException: SSL error: .*PKIX path (building|validation) failed'
  status=$(database_status_with "jdbc:postgresql://localhost:${TLS_PG_PORT}/restomarket?sslmode=verify-full&${ca}")
  expect_refused "sslmode=verify-full, host localhost, certificate for 127.0.0.1: refused (the host name is verified)" \
    "${status}" 'PSQLException: The hostname localhost could not be verified'
  status=$(database_status_with "${base}?sslmode=disable")
  expect_refused "sslmode=disable against the TLS-only server: refused" "${status}" \
    'PSQLException: FATAL: no pg_hba.conf entry for host "127\.0\.0\.1".*no encryption'
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unexpected argument '$1'" "run it without arguments" ;;
  esac
  [[ -f "${JAR}" ]] || die "no jar at ${JAR}" "build it first: make build"
  unzip -l "${JAR}" "BOOT-INF/classes/${AOT_INITIALIZER}" >/dev/null 2>&1 ||
    die "${JAR} was built without Spring's AOT processing" "build the image's jar: make build"
  WORK=$(mktemp -d)
  trap 'cleanup; rm -rf "${WORK}"' EXIT
  services start
  start_api "${WORK}/api.log"
  expect_match "the API runs Spring's AOT-generated bean definitions, as in the image" \
    'Starting AOT-processed RestomarketApiApplication' "$(cat "${WORK}/api.log")"
  write_auth_files
  test_writes_need_the_token
  test_response_headers
  test_health_diagnostics_need_the_token
  test_metrics_on_the_management_port
  test_health_follows_real postgres database
  test_health_follows_real redis redis
  test_sigterm_is_graceful
  test_missing_setting_fails_fast
  test_redis_tls
  test_database_tls
  summary
}

main "$@"
