#!/usr/bin/env bash
# The AOT cache's training run (JDK 25, JEP 483/514/515), run by the API image's
# build (apps/api/Dockerfile) inside the final image: the JVM options of
# /app/jvm.options, the extracted jar, no database and no Redis. The API starts
# as it does in a container, both web servers up, and answers one request of
# each kind (the health probes, a page, a bad request, a refused write, a
# missing route, the metrics); then SIGTERM stops it gracefully and the JVM
# writes the classes it loaded, linked, and their profiles to the cache.
#
# Why past the context refresh (Spring's documented training stops there): about
# 2,600 classes load only after it (Tomcat's connectors, Lettuce and Netty, the
# first request's MVC, Jackson and problem-details path); without them in the
# cache every start parses them from the jars again.
#
# The image has bash and nothing else of a userland: no sleep, no curl. HTTP is
# bash's /dev/tcp, and waiting is a read with a timeout on a pipe nobody writes.
set -Eeuo pipefail

usage() {
  cat <<EOF
Usage: $(basename "$0") [-h|--help]

Runs inside the API image build only (apps/api/Dockerfile): trains the JVM on
/app/restomarket-api.jar and writes the AOT cache to AOT_CACHE (default
/app/app.aot). Environment: PORT (default 3000), MANAGEMENT_PORT (default
8081), TRAINING_TIMEOUT seconds until the API must be up (default 120).
Exit 0 when the cache was written; 1 otherwise, with the API's output.
EOF
}

AOT_CACHE="${AOT_CACHE:-/app/app.aot}"
PORT="${PORT:-3000}"
MANAGEMENT_PORT="${MANAGEMENT_PORT:-8081}"
TRAINING_TIMEOUT="${TRAINING_TIMEOUT:-120}"
LOG_FILE=/tmp/aot-training.log
JAVA_PID=""

log() { printf '%(%Y-%m-%dT%H:%M:%SZ)T [aot-training] %s\n' -1 "$*"; }

fail() {
  log "ERROR: $*"
  [[ -z "${JAVA_PID}" ]] || kill -KILL "${JAVA_PID}" 2>/dev/null || true
  [[ ! -r "${LOG_FILE}" ]] || { log "the API's output:"; while IFS= read -r line; do printf '    %s\n' "${line}"; done <"${LOG_FILE}"; }
  exit 1
}

# pause SECONDS - sleep without a sleep binary.
exec {PAUSE_FD}<> <(:)
pause() { read -r -t "$1" -u "${PAUSE_FD}" || true; }

# get PORT PATH [METHOD] - the status code of an HTTP/1.0 request ("000": no answer).
get() {
  local port="$1" path="$2" method="${3:-GET}" status="" fd
  if { exec {fd}<>"/dev/tcp/127.0.0.1/${port}"; } 2>/dev/null; then
    printf '%s %s HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n' "${method}" "${path}" >&"${fd}"
    read -r -t 30 -u "${fd}" _ status _ || true
    # Read the rest, so the server writes its whole answer.
    while read -r -t 30 -u "${fd}" _; do :; done
    exec {fd}>&-
  fi
  printf '%s' "${status:-000}"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; fail "unexpected argument '$1'" ;;
  esac
  [[ -r /app/restomarket-api.jar && -r /app/jvm.options ]] || fail "no /app/restomarket-api.jar or /app/jvm.options: run inside the API image build"
  log "training run: starting the API without a database (cache: ${AOT_CACHE})"
  # -Xmx1g keeps compressed object pointers on whatever the build machine's
  # memory: a cache made without them is refused by every JVM that uses them.
  # Nothing answers on the database or Redis addresses; the API starts anyway
  # (lazy connections, Flyway off) and reports them down.
  PORT="${PORT}" MANAGEMENT_PORT="${MANAGEMENT_PORT}" \
    DATABASE_URL="jdbc:postgresql://127.0.0.1:1/training" DATABASE_USERNAME=training \
    DATABASE_PASSWORD=training API_WRITE_TOKEN=training-only-not-a-secret \
    REDIS_HOST=127.0.0.1 REDIS_PORT=1 FLYWAY_ENABLED=false LOG_FORMAT='' HEALTH_CHECK_TIMEOUT=200ms \
    java @/app/jvm.options -Xmx1g -XX:AOTCacheOutput="${AOT_CACHE}" -Xlog:aot=error \
    -Dlogging.level.root=warn -jar /app/restomarket-api.jar >"${LOG_FILE}" 2>&1 &
  JAVA_PID=$!
  local waited=0
  until [[ "$(get "${MANAGEMENT_PORT}" /actuator/health/liveness)" == 200 ]]; do
    kill -0 "${JAVA_PID}" 2>/dev/null || fail "the API exited during its start"
    ((waited++ < TRAINING_TIMEOUT * 10)) || fail "the API did not start in ${TRAINING_TIMEOUT}s"
    pause 0.1
  done
  log "the API is up after about $((waited / 10))s; one request of each kind"
  local request port method path got answers=()
  # Answers, not their codes, are what the training needs: without a database
  # the API reports itself down (503) and fails the page; the tests check codes.
  for request in \
    "${PORT} GET /version" "${PORT} GET /livez" "${PORT} GET /readyz" "${PORT} GET /health" \
    "${PORT} GET /api/v1/restaurants?page=0&size=20" "${PORT} GET /api/v1/restaurants?page=-1" \
    "${PORT} POST /api/v1/restaurants" "${PORT} GET /no-such-route" \
    "${MANAGEMENT_PORT} GET /actuator/prometheus" "${MANAGEMENT_PORT} GET /actuator/health"; do
    read -r port method path <<<"${request}"
    got=$(get "${port}" "${path}" "${method}")
    [[ "${got}" != 000 ]] || fail "${method} ${path} on port ${port} got no HTTP answer"
    answers+=("${method} ${path} ${got}")
  done
  log "answers: $(IFS=,; printf '%s' "${answers[*]}")"
  log "stopping the API (SIGTERM: graceful); the JVM writes the cache as it exits"
  kill -TERM "${JAVA_PID}"
  local rc=0
  wait "${JAVA_PID}" || rc=$?
  JAVA_PID=""
  # 143: ended by SIGTERM, after a graceful shutdown.
  ((rc == 0 || rc == 143)) || fail "the API exited with ${rc} on SIGTERM"
  [[ -s "${AOT_CACHE}" ]] || fail "the JVM wrote no cache to ${AOT_CACHE}"
  log "AOT cache written: ${AOT_CACHE}"
}

main "$@"
