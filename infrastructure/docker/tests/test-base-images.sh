#!/usr/bin/env bash
# Runs the project's base images for real and checks the contracts the stack
# relies on: PostgreSQL auth and persistence, Redis auth and AOF persistence,
# Adminer's login page, HAProxy config check, proxying and runtime API, the
# JDK (java 25, jlink) and the slim runtime base. Works with the official
# images and with the air-gapped ones (whatever compose.sh resolves).
# Everything it creates carries a per-run label and is removed on exit.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../../tools/lib/common.sh
source "${HERE}/../../tools/lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=../../tools/lib/testing.sh
source "${HERE}/../../tools/lib/testing.sh"
# shellcheck source-path=SCRIPTDIR source=../../tools/lib/services.sh
source "${HERE}/../../tools/lib/services.sh"
export RM_LOG_TAG="test-base-images"

DOCKER="${RM_DOCKER:-/usr/bin/docker}"
COMPOSE_SH="${RM_REPO_ROOT}/infrastructure/tools/compose.sh"
RUN_ID="$$"
PREFIX="rm-test-bi-${RUN_ID}"
LABEL="org.restomarket.test-run=base-images-${RUN_ID}"
NET="${PREFIX}-net"
GROUPS_ALL=(postgres redis adminer haproxy jdk base build)
READY_SECONDS=60
TMP_DIR=""

usage() {
  cat <<EOF
Usage: $(basename "$0") [GROUP...] [-h|--help]

Runs the base images named by infrastructure/docker/images.env (air-gapped
overrides included, as resolved by infrastructure/tools/compose.sh) and
checks them. GROUP is any of: ${GROUPS_ALL[*]} (default: all).
Needs a running engine and the images (infrastructure/docker/base-images/build.sh).
Ends with "N passed, N failed"; exits non-zero when a check fails.
EOF
}

d() { "${DOCKER}" "$@"; }

# run_bg NAME DOCKER-RUN-ARGS... - start a labelled container on the test network.
run_bg() {
  local name="$1"
  shift
  d run -d --name "${PREFIX}-${name}" --label "${LABEL}" --network "${NET}" "$@" >/dev/null
}

# run_once DOCKER-RUN-ARGS... - run a labelled throwaway container on the test network.
run_once() { d run --rm --label "${LABEL}" --network "${NET}" "$@"; }

host_port() { d port "${PREFIX}-$1" "$2" | head -n 1 | sed 's/.*://'; }

container_uid() { d exec "${PREFIX}-$1" cat /proc/1/status | awk '/^Uid:/ {print $2}'; }

seconds_to_stop() {
  local start
  start=$(date +%s)
  d stop -t 30 "${PREFIX}-$1" >/dev/null
  echo $(($(date +%s) - start))
}

cleanup() {
  local ids=()
  mapfile -t ids < <(d ps -aq --filter "label=${LABEL}")
  ((${#ids[@]} == 0)) || d rm -f -v "${ids[@]}" >/dev/null 2>&1 || true
  mapfile -t ids < <(d volume ls -q --filter "label=${LABEL}")
  ((${#ids[@]} == 0)) || d volume rm -f "${ids[@]}" >/dev/null 2>&1 || true
  d network rm "${NET}" >/dev/null 2>&1 || true
  [[ -z "${TMP_DIR}" ]] || rm -rf "${TMP_DIR}"
}

resolve_images() {
  local line
  if ! timeout 10 "${DOCKER}" info >/dev/null 2>&1; then
    die "the Docker engine does not answer (${DOCKER} info)" "run infrastructure/tools/bootstrap/docker.sh"
  fi
  while IFS= read -r line; do
    [[ "${line}" == *_IMAGE=* ]] || continue
    printf -v "${line%%=*}" '%s' "${line#*=}"
    d image inspect "${line#*=}" >/dev/null 2>&1 || die "image ${line#*=} (${line%%=*}) is missing" \
      "run infrastructure/docker/base-images/build.sh"
  done < <("${COMPOSE_SH}" --env)
}

prepare() {
  TMP_DIR=$(mktemp -d)
  chmod 755 "${TMP_DIR}"
  d network create --label "${LABEL}" "${NET}" >/dev/null
}

psql_as() {
  local password="$1"
  shift
  run_once -e PGPASSWORD="${password}" "${POSTGRES_IMAGE}" \
    psql -h "${PREFIX}-pg" -U rmuser -d rmdb -v ON_ERROR_STOP=1 -tAc "$@"
}

# The password as a root-only file (POSTGRES_PASSWORD_FILE), as the stacks pass it.
start_postgres() {
  local opts=()
  (umask 077 && printf 'right-pw\n' >"${TMP_DIR}/pg-password")
  postgres_password_opts opts "${TMP_DIR}/pg-password"
  run_bg pg -e POSTGRES_USER=rmuser -e POSTGRES_DB=rmdb "${opts[@]}" \
    --mount "type=volume,src=${PREFIX}-pgdata,dst=/var/lib/postgresql/data,volume-label=${LABEL}" \
    "${POSTGRES_IMAGE}"
  wait_until "${READY_SECONDS}" "postgres" d exec "${PREFIX}-pg" pg_isready -h 127.0.0.1 -U rmuser -d rmdb
}

test_postgres() {
  echo "postgres (${POSTGRES_IMAGE})"
  check "postgres: starts with POSTGRES_PASSWORD_FILE, initialises the volume, accepts TCP on 5432" start_postgres
  expect_secrets_hidden "postgres: the password is not in docker inspect" "${PREFIX}-pg" right-pw
  check "postgres: pg_isready is on PATH" d exec "${PREFIX}-pg" pg_isready -q -h 127.0.0.1
  expect_match "postgres: server runs as a non-root user" '^[1-9][0-9]*$' "$(container_uid pg)"
  expect_eq "postgres: psql with the right password connects to POSTGRES_DB" "rmdb" \
    "$(psql_as right-pw 'select current_database()' 2>&1)"
  expect_match "postgres: a wrong password is refused" 'password authentication failed' \
    "$(psql_as wrong-pw 'select 1' 2>&1 || true)"
  check "postgres: writes a row" psql_as right-pw \
    "create table survivors(name text); insert into survivors values ('kept')"
  local took
  took=$(seconds_to_stop pg)
  expect_match "postgres: docker stop shuts down fast (${took}s < 5s)" '^[0-4]$' "${took}"
  expect_match "postgres: shutdown was clean" 'database system is shut down' "$(d logs "${PREFIX}-pg" 2>&1)"
  d rm "${PREFIX}-pg" >/dev/null
  check "postgres: a new container on the same volume starts" start_postgres
  expect_eq "postgres: data survives the restart" "kept" "$(psql_as right-pw 'select name from survivors' 2>&1)"
  expect_eq "postgres: no crash recovery after a clean stop" "0" \
    "$(d logs "${PREFIX}-pg" 2>&1 | grep -c 'automatic recovery' || true)"
}

redis_as() { run_once "${REDIS_IMAGE}" redis-cli -h "$1" "${@:2}"; }

# requirepass from a root-only file, on stdin (lib/services.sh), as the stacks start it.
start_redis() {
  local opts=()
  (umask 077 && printf 'redis-pw\n' >"${TMP_DIR}/redis-password")
  redis_password_opts opts "${TMP_DIR}/redis-password"
  run_bg redis "${opts[@]}" \
    --mount "type=volume,src=${PREFIX}-redisdata,dst=/data,volume-label=${LABEL}" \
    "${REDIS_IMAGE}" "${REDIS_SERVER[@]}" --appendonly yes
  wait_until "${READY_SECONDS}" "redis" redis_answers
}

redis_answers() { [[ "$(d exec "${PREFIX}-redis" "${REDIS_CLI[@]}" ping 2>&1)" == PONG ]]; }

test_redis() {
  echo "redis (${REDIS_IMAGE})"
  check "redis: starts with requirepass from a file and --appendonly yes" start_redis
  expect_secrets_hidden "redis: the password is not in docker inspect" "${PREFIX}-redis" redis-pw
  check "redis: redis-cli inside authenticates from the file" redis_answers
  expect_eq "redis: --appendonly yes applies alongside the stdin settings" "appendonly yes" \
    "$(d exec "${PREFIX}-redis" "${REDIS_CLI[@]}" --raw config get appendonly 2>&1 | xargs)"
  expect_match "redis: server runs as a non-root user" '^[1-9][0-9]*$' "$(container_uid redis)"
  expect_match "redis: PING without the password is refused" 'NOAUTH' \
    "$(redis_as "${PREFIX}-redis" ping 2>&1 || true)"
  expect_eq "redis: PING with the password answers PONG" "PONG" \
    "$(redis_as "${PREFIX}-redis" -a redis-pw --no-auth-warning ping 2>&1)"
  expect_eq "redis: SET works" "OK" \
    "$(redis_as "${PREFIX}-redis" -a redis-pw --no-auth-warning set dish paella 2>&1)"
  check "redis: the append-only file is in /data" d exec "${PREFIX}-redis" sh -c 'ls /data/appendonlydir/*.aof'
  d stop "${PREFIX}-redis" >/dev/null
  d rm "${PREFIX}-redis" >/dev/null
  check "redis: a new container on the same volume starts" start_redis
  expect_eq "redis: data survives the restart" "paella" \
    "$(redis_as "${PREFIX}-redis" -a redis-pw --no-auth-warning get dish 2>&1)"
  run_bg redis-open "${REDIS_IMAGE}"
  wait_until "${READY_SECONDS}" "redis without password" d exec "${PREFIX}-redis-open" redis-cli ping || true
  expect_eq "redis: without a password other containers can connect (like the official image)" "PONG" \
    "$(redis_as "${PREFIX}-redis-open" ping 2>&1)"
}

test_adminer() {
  echo "adminer (${ADMINER_IMAGE})"
  check "adminer: starts" run_bg adminer -p 127.0.0.1::8080 "${ADMINER_IMAGE}"
  local port url
  port=$(host_port adminer 8080)
  url="http://127.0.0.1:${port}/"
  wait_until "${READY_SECONDS}" "adminer" curl -fsS -o /dev/null "${url}" || true
  expect_eq "adminer: answers HTTP 200 on 8080" "200" "$(curl -s -o /dev/null -w '%{http_code}' "${url}")"
  local page
  page=$(curl -s "${url}")
  expect_match "adminer: serves the login page" '<title>Login - Adminer</title>' "${page}"
  expect_match "adminer: offers PostgreSQL" 'value="pgsql"' "${page}"
}

write_haproxy_configs() {
  mkdir -p "${TMP_DIR}/backend" "${TMP_DIR}/proxy" "${TMP_DIR}/broken"
  cat >"${TMP_DIR}/backend/haproxy.cfg" <<'EOF'
defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend app
  bind :8000
  http-request return status 200 content-type text/plain string "hello from backend"
EOF
  cat >"${TMP_DIR}/proxy/haproxy.cfg" <<EOF
global
  stats socket ipv4@0.0.0.0:9999 level admin
defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend web
  bind :8080
  default_backend be_app
backend be_app
  server app ${PREFIX}-backend:8000 check inter 1s
EOF
  printf 'frontend web\n  bind :8080\n  default_backend nowhere\n' >"${TMP_DIR}/broken/haproxy.cfg"
  chmod -R a+rX "${TMP_DIR}"
}

haproxy_cfg_mount() { echo "type=bind,src=${TMP_DIR}/$1,dst=/usr/local/etc/haproxy,readonly"; }

# runtime_api COMMAND - one command on HAProxy's runtime API, reply on stdout.
runtime_api() {
  local port reply
  port=$(host_port proxy 9999)
  exec 3<>"/dev/tcp/127.0.0.1/${port}"
  printf '%s\n' "$1" >&3
  reply=$(timeout 5 cat <&3)
  exec 3<&-
  printf '%s' "${reply}"
}

test_haproxy() {
  echo "haproxy (${PROXY_IMAGE})"
  write_haproxy_configs
  check_fails "haproxy: -c rejects a broken config" run_once --mount "$(haproxy_cfg_mount broken)" \
    "${PROXY_IMAGE}" haproxy -c -f /usr/local/etc/haproxy/haproxy.cfg
  check "haproxy: tiny backend starts" run_bg backend --mount "$(haproxy_cfg_mount backend)" "${PROXY_IMAGE}"
  # -c resolves server names, so it runs once the backend exists.
  expect_match "haproxy: -c accepts a valid config" 'Configuration file is valid' \
    "$(run_once --mount "$(haproxy_cfg_mount proxy)" "${PROXY_IMAGE}" \
      haproxy -c -f /usr/local/etc/haproxy/haproxy.cfg 2>&1 || true)"
  check "haproxy: proxy starts with the default command" \
    run_bg proxy -p 127.0.0.1::8080 -p 127.0.0.1::9999 --mount "$(haproxy_cfg_mount proxy)" "${PROXY_IMAGE}"
  local url
  url="http://127.0.0.1:$(host_port proxy 8080)/"
  wait_until "${READY_SECONDS}" "haproxy" curl -fsS -o /dev/null "${url}" || true
  expect_eq "haproxy: proxies a request to the backend" "hello from backend" "$(curl -s "${url}")"
  expect_match "haproxy: runs as a non-root user" '^[1-9][0-9]*$' "$(container_uid proxy)"
  expect_match "haproxy: runtime API answers" 'Name: HAProxy' "$(runtime_api 'show info')"
  runtime_api 'set server be_app/app state maint' >/dev/null
  expect_eq "haproxy: runtime API takes the backend out without a reload" "503" \
    "$(curl -s -o /dev/null -w '%{http_code}' "${url}")"
  runtime_api 'set server be_app/app state ready' >/dev/null
  wait_until 10 "backend back in rotation" curl -fsS -o /dev/null "${url}" || true
  expect_eq "haproxy: runtime API puts the backend back" "200" \
    "$(curl -s -o /dev/null -w '%{http_code}' "${url}")"
  local took
  took=$(seconds_to_stop proxy)
  expect_match "haproxy: docker stop is graceful and quick (${took}s < 5s)" '^[0-4]$' "${took}"
}

# The single-quoted scripts below are expanded inside the container, on purpose.
# shellcheck disable=SC2016
test_jdk() {
  echo "jdk (${BUILD_JDK_IMAGE})"
  expect_match "jdk: java -version is 25" 'version "25' "$(run_once "${BUILD_JDK_IMAGE}" java -version 2>&1)"
  expect_match "jdk: JAVA_HOME is set and holds the JDK" '^/.+ ok$' \
    "$(run_once "${BUILD_JDK_IMAGE}" sh -c 'test -x "${JAVA_HOME}/bin/javac" && echo "${JAVA_HOME} ok"' 2>&1)"
  expect_match "jdk: jlink --strip-debug builds a runtime that runs" 'version "25' \
    "$(run_once "${BUILD_JDK_IMAGE}" sh -c 'jlink --add-modules java.base,jdk.httpserver --strip-debug \
      --no-header-files --no-man-pages --output /tmp/jre && /tmp/jre/bin/java -version' 2>&1)"
  check "jdk: curl and a CA bundle for ./mvnw are present" run_once "${BUILD_JDK_IMAGE}" \
    sh -c 'command -v curl && test -s /etc/ssl/certs/ca-certificates.crt && test -s "${JAVA_HOME}/lib/security/cacerts"'
  # Only the air-gapped JDK image is built to trust the host's local CAs.
  [[ "${BUILD_JDK_IMAGE}" == restomarket/airgap-* ]] || return 0
  local ca
  for ca in /usr/local/share/ca-certificates/*.crt; do
    [[ -f "${ca}" ]] || continue
    # The second PEM line is the first line of the certificate's body.
    check "jdk: trusts the host's local CA $(basename "${ca}")" run_once "${BUILD_JDK_IMAGE}" \
      grep -qF -- "$(sed -n 2p "${ca}")" /etc/ssl/certs/ca-certificates.crt
  done
}

test_base() {
  echo "base (${RUNTIME_BASE_IMAGE})"
  expect_eq "base: no apt lists" "0" \
    "$(run_once "${RUNTIME_BASE_IMAGE}" sh -c 'find /var/lib/apt/lists -type f | wc -l' 2>&1)"
  expect_eq "base: no man pages or docs besides copyright files" "0" \
    "$(run_once "${RUNTIME_BASE_IMAGE}" sh -c \
      'find /usr/share/man /usr/share/doc -type f ! -name copyright 2>/dev/null | wc -l' 2>&1)"
  local size
  size=$(d image inspect -f '{{.Size}}' "${RUNTIME_BASE_IMAGE}")
  if ((size < 100000000)); then
    pass "base: smaller than 100 MB ($((size / 1000000)) MB)"
  else
    fail "base: smaller than 100 MB" "it is $((size / 1000000)) MB"
  fi
}

# A machine that has the air-gapped set does not ask the registry again (each
# probe costs its timeout and a "registry unreachable" line on every make deploy).
test_build() {
  echo "build.sh"
  local out
  if [[ "${RUNTIME_BASE_IMAGE}" != restomarket/airgap-* ]]; then
    skip "build: no registry probe when the air-gapped set exists" "this machine uses the official images"
    return 0
  fi
  out=$("${RM_REPO_ROOT}/infrastructure/docker/base-images/build.sh" 2>&1) || true
  expect_match "build: a second run keeps the air-gapped set" 'base images ready' "${out}"
  if grep -q 'probing the registry' <<<"${out}"; then
    fail "build: no registry probe when the air-gapped set exists" "$(grep -m1 'probing' <<<"${out}")"
  else
    pass "build: no registry probe when the air-gapped set exists"
  fi
}

main() {
  local groups=() group
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      postgres | redis | adminer | haproxy | jdk | base | build) groups+=("$1") ;;
      *) usage >&2; die "unknown argument: $1" "groups are: ${GROUPS_ALL[*]}" ;;
    esac
    shift
  done
  ((${#groups[@]})) || groups=("${GROUPS_ALL[@]}")
  resolve_images
  trap cleanup EXIT
  prepare
  for group in "${groups[@]}"; do
    "test_${group}"
  done
  summary
}

main "$@"
